"""The released processing probe on a standard layout (train + val): tune once, refit over class draws.

Released protocol (``metadata_prediction/processing_prediction.py`` of the paper's code), for a
dataset embedded under each of the P classes of a processing family, in its train and its val split:

1. **Class draw.** For a seed ``s`` every training image gets one class,
   ``np.random.default_rng(s).choice(P, N_train)`` in the train split's item order, and its
   embedding under that class (:func:`draw_classes`, :func:`pick`).
2. **Tuning split.** 20% of the drawn training rows of each class (at least one; a class drawn for a
   single image is refused) form the tuning split (:func:`tuning_split`).  The released code shuffles
   with Python's ``random.shuffle`` under its global seed; here a numpy generator seeded with
   ``(seed, 1)`` (a stream apart from the class draw) permutes each class's rows, in class order.
3. **Choice.** The hyper-parameters are chosen on the tuning split with the run's seed for the draw and
   the split.  The released code runs 30 Optuna trials; here :func:`benchmark.protocols.probe.choose_point`'s
   grid (its selection rule, ``tune_epochs`` emulation included).
4. **Refits.** At the chosen point the classifier is trained on *all* training rows (no tuning split)
   for each refit seed ``0 .. refits-1`` (released: 10), the classes re-drawn with that seed, and
   tested on every val image under every class (class-major rows, label = class index).  The refit
   seed also orders the SGD minibatches.  Reported: mean and standard deviation (``np.std``, as
   released) of the refits' test accuracies.

Each refit trains like :func:`benchmark.protocols.probe.linear_probe`'s final model (L2-normalised features,
one grid point, the config's epochs, batch, momentum and precision); the ten are trained together
(:func:`train_refits`: one gather and two batched GEMMs per step, where ten single-model runs are
overhead-bound), and ``tests/benchmark/protocols/test_refit.py`` checks each against its model trained alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.errors import UsageError
from benchmark.protocols.probe import (
    PRECISIONS,
    LinearModels,
    ProbeConfig,
    choose_point,
    evaluate,
    mean_per_class_accuracy,
    train_on_own_rows,
)
from benchmark.runtime.device import resolve_device, resolve_precision

REFITS = 10  # released: ``for tmp_seed in range(10)``
TUNING_SHARE = 0.2  # released ``--dataset_per_val`` default
TUNING_STREAM = 1  # the tuning split's generator is seeded with (seed, TUNING_STREAM)


def draw_classes(n_images: int, n_classes: int, seed: int) -> np.ndarray:
    """The class index of each training image for a seed, as released: ``default_rng(seed).choice``."""
    return np.random.default_rng(seed).choice(n_classes, n_images, replace=True)


def pick(per_class: Sequence[torch.Tensor], drawn: np.ndarray) -> torch.Tensor:
    """Row i of ``per_class[drawn[i]]`` for every i: each training image under its drawn class."""
    out = torch.empty_like(per_class[0])
    for index, vectors in enumerate(per_class):
        rows = torch.from_numpy(np.flatnonzero(drawn == index))
        out[rows] = vectors[rows]
    return out


def tuning_split(labels: np.ndarray, seed: int, share: float = TUNING_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """``(fit rows, tuning rows)``: ``int(share * n)`` rows of each class (at least one) to tuning.

    Both index arrays are in row order, disjoint, and together every row.  Raises a UsageError for a
    class with a single row (the released code asserts two).
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, TUNING_STREAM])
    tuning = []
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        if len(rows) < 2:
            raise UsageError(
                f"processing class {label} was drawn for a single training image: the tuning split needs two "
                "per class; add training images"
            )
        tuning.append(rows[len(rows) - max(1, int(len(rows) * share)) :])
    tuning_rows = np.sort(np.concatenate(tuning))
    return np.setdiff1d(np.arange(len(labels)), tuning_rows), tuning_rows


@dataclass(frozen=True)
class Refit:
    """One refit: its seed (class draw and minibatch order) and its test metrics."""

    seed: int
    accuracy: float
    mean_per_class_accuracy: float


@dataclass(frozen=True)
class RefitResult:
    """The chosen grid point, how it was chosen, and the refits' test metrics."""

    learning_rate: float
    weight_decay: float
    tuning_accuracy: float  # of the chosen point, trained on the fit rows, on the tuning rows
    tuning_seed: int
    n_train: int
    n_fit: int
    n_tuning: int
    n_test: int
    n_classes: int
    refits: list[Refit]
    grid: list[dict] = field(repr=False)

    @property
    def accuracies(self) -> list[float]:
        return [r.accuracy for r in self.refits]

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def accuracy_std(self) -> float:
        return float(np.std(self.accuracies))  # ddof=0, as released

    @property
    def mean_per_class_accuracy(self) -> float:
        return float(np.mean([r.mean_per_class_accuracy for r in self.refits]))

    def to_json(self) -> dict:
        return asdict(self)


def train_refits(
    train: Sequence[torch.Tensor], point: tuple[float, float], seeds: Sequence[int], config: ProbeConfig
) -> LinearModels:
    """The refits at one ``(learning rate, weight decay)``, trained together: refit ``s`` on every training
    image under the class ``draw_classes(N, P, s)`` gives it, its minibatches ordered by ``s``.

    Each refit is the model :func:`benchmark.protocols.probe.train_linear_models` trains on
    ``pick(train, drawn)`` with ``seed=s`` (L2-normalised rows; config's epochs, batch, momentum and
    precision); :func:`benchmark.protocols.probe.train_on_own_rows` trains the ten as one batched run.  The
    pool it draws from is every image under every class, normalised once, in the training precision.
    """
    dev = resolve_device(config.device)
    dtype = PRECISIONS[resolve_precision(config.precision, dev)]
    n_classes, n = len(train), len(train[0])
    pool = torch.empty(n_classes * n, train[0].shape[1], dtype=dtype, device=dev)
    for index, vectors in enumerate(train):  # one class at a time: a float32 copy of one class at most
        pool[index * n : (index + 1) * n] = F.normalize(vectors.float(), dim=1).to(dev, dtype)
    if not torch.isfinite(pool).all():
        raise UsageError("training features contain NaN or infinite values")
    images = torch.arange(n)
    rows = torch.stack([torch.from_numpy(draw_classes(n, n_classes, seed)) * n + images for seed in seeds])
    return train_on_own_rows(
        pool,
        torch.arange(n_classes, device=dev).repeat_interleave(n),
        rows,
        n_classes,
        torch.tensor([point[0]] * len(seeds)),
        torch.tensor([point[1]] * len(seeds)),
        list(seeds),
        epochs=config.epochs,
        batch_size=config.batch_size,
        momentum=config.momentum,
        precision=config.precision,
    )


def refit_probe(
    train: Sequence[torch.Tensor],
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    config: ProbeConfig = ProbeConfig(),
    *,
    seed: int = 0,
    refits: int = REFITS,
) -> RefitResult:
    """The released protocol (module notes): ``train[p]`` holds every training image under class p."""
    if refits < 1:
        raise UsageError(f"refits must be >= 1, got {refits}")
    n_classes, n_train = len(train), len(train[0])
    if n_classes < 2 or any(len(t) != n_train for t in train):
        raise UsageError("refit_probe needs each training image under each of at least two classes")
    drawn = draw_classes(n_train, n_classes, seed)
    x, y = pick(train, drawn), torch.from_numpy(drawn)
    fit_rows, tuning_rows = tuning_split(drawn, seed)
    fit, tune = torch.from_numpy(fit_rows), torch.from_numpy(tuning_rows)
    chosen = choose_point(x[fit], y[fit], x[tune], y[tune], test_x, test_y, replace(config, seed=seed))
    seeds = list(range(refits))
    models = train_refits(train, (chosen.learning_rate, chosen.weight_decay), seeds, config)
    dev = models.bias.device
    found = evaluate(models, F.normalize(test_x.float(), dim=1).to(dev), test_y.long().to(dev))
    done = [
        Refit(seed, float(found.accuracy[g]), mean_per_class_accuracy(found.predictions[g], test_y))
        for g, seed in enumerate(seeds)
    ]
    return RefitResult(
        learning_rate=chosen.learning_rate,
        weight_decay=chosen.weight_decay,
        tuning_accuracy=chosen.val_accuracy,
        tuning_seed=seed,
        n_train=n_train,
        n_fit=len(fit_rows),
        n_tuning=len(tuning_rows),
        n_test=len(test_y),
        n_classes=n_classes,
        refits=done,
        grid=chosen.grid,
    )
