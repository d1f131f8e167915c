"""Linear probe on frozen embeddings: the paper's multinomial logistic regression, tuned on a grid.

Protocol (the paper's released code): L2-normalised features, a linear layer with bias trained with
softmax cross-entropy by minibatch SGD (momentum 0.9, batch 1024, 100 epochs, cosine learning-rate
decay per epoch, coupled L2 weight decay as in ``torch.optim.SGD`` applied to weight and bias),
learning rate and weight decay chosen on a validation split, final model retrained on train+val with
the chosen pair, test top-1 and mean per-class accuracy reported.

The released code tunes with 30 sequential Optuna trials, each a separate model.  Here the whole
learning-rate x weight-decay grid is one set of G models trained together: one weight tensor
(G, C, D) and bias (G, C), one GEMM per minibatch for the forward pass of all models and one for all
their gradients; learning rate and weight decay are (G,) tensors broadcast in the update.  Every
model sees the same minibatches (one seeded permutation per epoch) and starts from zero (the problem
is convex; zero start removes a source of seed noise), so a grid point trained alone gives the same
weights as inside the grid.  Models that each have their own rows and minibatch order (the processing
probe's ten refits) train together the same way with batched GEMMs (:func:`train_on_own_rows`).
:func:`benchmark.testing.probe.sequential_probe` is the released protocol's loop, kept as the baseline
for ``scripts/bench_probe.py``.

Precision (``ProbeConfig.precision``): ``bfloat16`` rounds only the inputs of the two training GEMMs
(the features once, the weights and softmax gradients at each step) and their products, accumulated in
float32 by the backends; master weights, momentum, update, softmax, loss and evaluation stay float32,
as under autocast.  ``auto`` (the default) is bfloat16 where the device multiplies it natively
(``benchmark.runtime.device``), else float32.  Neither bfloat16 nor a 10-epoch search changes the accuracy
on average, but the grid's choice moves with any perturbation: after 100 epochs many points tie on
validation within a few samples, and float32 with the features times (1 + 1e-6 noise) already picks
another point on some data sets, as bfloat16 does about as often (``scripts/bench_probe_precision.py``).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.choices import ProbePrecision, chosen
from benchmark.errors import UsageError
from benchmark.protocols.labels import dense_labels
from benchmark.runtime.device import resolve_device, resolve_precision

# Released search space: lr in [0.1, 100], wd in [1e-12, 1e-4] (log-uniform), 30 trials.  The grid has
# 28 points, the released budget: the same learning-rate range at half-decade steps, and weight decay
# 0 plus one value per decade where it acts.  Weight decay shrinks the weights by about
# exp(-lr * wd * steps / (1 - momentum) / 2) over a cosine run: at lr=100 and 10^3-10^4 steps, wd under
# ~1e-7 changes (almost) nothing, so 0 stands for the released range's lower decades.
DEFAULT_LEARNING_RATES = (0.1, 0.316, 1.0, 3.16, 10.0, 31.6, 100.0)
DEFAULT_WEIGHT_DECAYS = (0.0, 1e-6, 1e-5, 1e-4)

# Training GEMM inputs: float32, or bfloat16 (fp32 accumulation, master weights, update and evaluation;
# the probe's GEMMs ran 2.1x faster than float32 on a 2-core AVX512-BF16 CPU).  "auto" picks per device.
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}

EVAL_CHUNK = 8192  # rows per forward pass when predicting, bounds memory at G * chunk * C floats


@dataclass(frozen=True)
class ProbeConfig:
    """Grid and SGD settings for ``linear_probe``; defaults follow the released protocol."""

    learning_rates: tuple[float, ...] = DEFAULT_LEARNING_RATES
    weight_decays: tuple[float, ...] = DEFAULT_WEIGHT_DECAYS
    epochs: int = 100
    batch_size: int = 1024  # minibatch SGD as released; the last, smaller batch of an epoch is kept
    momentum: float = 0.9
    seed: int = 0
    precision: ProbePrecision = ProbePrecision.AUTO  # auto: bfloat16 where the device runs it natively
    device: str | None = None  # None: cuda if available, else cpu
    # Epochs of the grid search; None = ``epochs`` as in the released protocol.  A shorter search
    # emulates each point's full run (see ``tune_learning_rate_scale``); the chosen point is refit
    # for ``epochs``.
    tune_epochs: int | None = None

    def __post_init__(self) -> None:
        if not self.learning_rates or not self.weight_decays:
            raise UsageError("ProbeConfig needs at least one learning rate and one weight decay")
        if any(not (lr > 0 and math.isfinite(lr)) for lr in self.learning_rates):
            raise UsageError(f"learning rates must be finite and > 0, got {self.learning_rates}")
        if any(not (wd >= 0 and math.isfinite(wd)) for wd in self.weight_decays):
            raise UsageError(f"weight decays must be finite and >= 0, got {self.weight_decays}")
        if self.tune_epochs is not None and self.tune_epochs < 1:
            raise UsageError(f"tune_epochs must be >= 1 (or None), got {self.tune_epochs}")
        if self.epochs < 1 or self.batch_size < 1:
            raise UsageError(f"epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if not 0 <= self.momentum < 1:
            raise UsageError(f"momentum must be in [0, 1), got {self.momentum}")
        object.__setattr__(self, "precision", chosen(ProbePrecision, self.precision, "probe precision"))

    def precision_used(self) -> str:
        """The training precision on this config's device: ``auto`` resolved (the result records it)."""
        return resolve_precision(self.precision, resolve_device(self.device))

    @property
    def tune_learning_rate_scale(self) -> float:
        """Learning-rate factor of the grid search's runs: ``epochs / tune_epochs`` (1 without).

        A short run at this larger rate takes the same total step (learning rate x steps, under the
        same cosine shape) and the same weight-decay shrinkage (lr x wd x steps) as the full run of
        its grid point, so it ranks the points as the full runs do.  Short runs at the plain rate
        favour large rates, which then overfit in the full-length refit.
        """
        return self.epochs / self.tune_epochs if self.tune_epochs else 1.0

    def grid(self) -> list[tuple[float, float]]:
        """(lr, wd) pairs in grid order, learning-rate major (the last selection tie-breaker)."""
        return list(itertools.product(self.learning_rates, self.weight_decays))


@dataclass(frozen=True)
class ProbeResult:
    """Outcome of one probe: test metrics of the refit model and the tuning record."""

    test_accuracy: float
    test_mean_per_class_accuracy: float
    val_accuracy: float  # of the chosen grid point, trained on train only
    learning_rate: float
    weight_decay: float
    n_train: int
    n_val: int
    n_test: int
    n_classes: int
    grid: list[dict] = field(repr=False)  # every point: learning_rate, weight_decay, val_accuracy, val_loss
    seconds: float
    method: str = "grid"
    precision_used: str = "float32"  # training GEMM inputs, "auto" resolved for the device

    def to_json(self) -> dict:
        """Plain JSON-serialisable dict (floats, ints, strings, lists)."""
        return asdict(self)


@dataclass
class LinearModels:
    """G linear classifiers stored together as weight (G, C, D) and bias (G, C).

    The (G*C, D) rows make both training GEMMs plain products: logits (G, C, B) = W @ x.T and
    weight gradient (G, C, D) = P @ x, for all models at once; ``weight`` gives the (G, D, C) view.
    """

    weight_gcd: torch.Tensor
    bias: torch.Tensor

    @property
    def weight(self) -> torch.Tensor:
        """Weights as (G, D, C)."""
        return self.weight_gcd.transpose(1, 2)

    def logits(self, x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """(N, G, C) float32 logits of every model for features x (N, D)."""
        g, c, d = self.weight_gcd.shape
        return _matmul(x, self.weight_gcd.view(g * c, d).T, dtype).view(len(x), g, c) + self.bias


def _matmul(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """a @ b with inputs in ``dtype``, result in float32.

    A bfloat16 product is accumulated in fp32 and returned rounded to bfloat16: PyTorch has no
    fp32-output bfloat16 GEMM on CPU, and emulating one in float32 moved the grid's choice as often.
    """
    if dtype == torch.float32:
        return a.float() @ b
    return (a.to(dtype) @ b.to(dtype)).float()


@dataclass(frozen=True)
class Evaluation:
    """Per-model accuracy and mean cross-entropy on one labelled set."""

    accuracy: torch.Tensor  # (G,)
    loss: torch.Tensor  # (G,)
    predictions: torch.Tensor  # (G, N)


# --------------------------------------------------------------------------------------------------
# Inputs


def _features(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).detach()
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise UsageError(f"{name} must be a non-empty 2-D array (N x D), got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        t = t.float()
    if not torch.isfinite(t).all():
        raise UsageError(f"{name} contains NaN or infinite values")
    return t.float()


def _labels(y, name: str, n_rows: int) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y).detach()
    if t.ndim != 1:
        raise UsageError(f"{name} must be a 1-D array of class indices, got shape {tuple(t.shape)}")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise UsageError(f"{name} must hold integer class indices, got dtype {t.dtype}")
    if len(t) != n_rows:
        raise UsageError(f"{name} has {len(t)} labels but its features have {n_rows} rows")
    if len(t) and int(t.min()) < 0:
        raise UsageError(f"{name} has negative class indices (min {int(t.min())})")
    return t.long()


def probe_splits(train_x, train_y, val_x, val_y, test_x, test_y) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Validated (features, labels) per split; features L2-normalised as in the paper."""
    out = {}
    for name, x, y in (("train", train_x, train_y), ("val", val_x, val_y), ("test", test_x, test_y)):
        xt = _features(x, f"{name}_x")
        out[name] = (F.normalize(xt, dim=1), _labels(y, f"{name}_y", len(xt)))
    dense = dense_labels(*(y for _, y in out.values()))
    out = {name: (x, y) for (name, (x, _)), y in zip(out.items(), dense)}
    dims = {name: x.shape[1] for name, (x, _) in out.items()}
    if len(set(dims.values())) != 1:
        raise UsageError(f"feature dimensions differ between splits: {dims}")
    if len(torch.unique(out["train"][1])) < 2:
        raise UsageError("train_y holds a single class: a classifier needs at least two")
    return out


# --------------------------------------------------------------------------------------------------
# Metrics


def mean_per_class_accuracy(predictions, targets) -> float:
    """Mean over the classes present in ``targets`` of the share of their samples predicted right."""
    pred = torch.as_tensor(predictions).long().cpu()
    true = torch.as_tensor(targets).long().cpu()
    classes = torch.unique(true)
    per_class = [(pred[true == c] == c).float().mean() for c in classes]
    return float(torch.stack(per_class).mean())


def evaluate(models: LinearModels, x: torch.Tensor, y: torch.Tensor) -> Evaluation:
    """Accuracy, mean cross-entropy and predictions of every model (float32), in chunks of rows."""
    correct, loss_sum, preds = 0, 0, []
    for start in range(0, len(x), EVAL_CHUNK):
        logits = models.logits(x[start : start + EVAL_CHUNK])  # (n, G, C)
        target = y[start : start + EVAL_CHUNK]
        pred = logits.argmax(-1)  # (n, G)
        correct = correct + (pred == target[:, None]).sum(0)
        target_logit = logits.gather(-1, target[:, None, None].expand(-1, logits.shape[1], 1))[..., 0]
        loss_sum = loss_sum + (torch.logsumexp(logits, -1) - target_logit).double().sum(0)
        preds.append(pred)
    n = len(x)
    return Evaluation(accuracy=correct.double() / n, loss=loss_sum / n, predictions=torch.cat(preds).T)


# --------------------------------------------------------------------------------------------------
# Training


def cosine_factor(epoch: int, epochs: int) -> float:
    """Learning-rate multiplier of an epoch: cosine decay from 1 towards 0, as released."""
    return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def train_linear_models(
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    learning_rates: torch.Tensor,
    weight_decays: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    momentum: float = 0.9,
    seed: int = 0,
    precision: str = "float32",
) -> LinearModels:
    """Train G softmax regressions at once on the same minibatches: G = len(learning_rates) = len(weight_decays).

    SGD with heavy-ball momentum and coupled L2 decay, exactly ``torch.optim.SGD(momentum,
    weight_decay)`` on a ``Linear`` per model; the gradients are written out by hand so that one
    GEMM serves all G models.  Deterministic for a seed (one CPU generator for the batch order).
    ``precision`` is that of the GEMM inputs only (module notes); ``auto`` is resolved for x's device.
    """
    n = len(x)
    dev, dtype = x.device, PRECISIONS[resolve_precision(precision, x.device)]
    x_mm = x.to(dtype)
    order_rng = torch.Generator().manual_seed(seed)

    def minibatches():
        order = torch.randperm(n, generator=order_rng).to(dev)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            # index_select, not x[idx]: the generic advanced-indexing kernel is ~10x slower on CPU
            yield x_mm.index_select(0, idx), y.index_select(0, idx)

    return _train(x.shape[1], n_classes, learning_rates, weight_decays, minibatches, epochs, momentum, dev)


def train_on_own_rows(
    pool: torch.Tensor,
    pool_labels: torch.Tensor,
    rows: torch.Tensor,
    n_classes: int,
    learning_rates: torch.Tensor,
    weight_decays: torch.Tensor,
    seeds: list[int],
    *,
    epochs: int,
    batch_size: int,
    momentum: float = 0.9,
    precision: str = "float32",
) -> LinearModels:
    """Train G softmax regressions at once, model g on the pool rows ``rows[g]`` in its own minibatch order.

    Model g is trained as :func:`train_linear_models` trains one model on ``pool[rows[g]]``,
    ``pool_labels[rows[g]]`` with ``seed=seeds[g]`` (same minibatches, same arithmetic; the GEMMs are
    batched, so the sums may differ in the last bits).  The G together take one gather and two batched
    GEMMs per step where G separate runs take G of each: the refits of the processing probe, ten models of
    one minibatch size, are overhead-bound alone (:mod:`benchmark.protocols.refit`).  ``rows`` is (G, N);
    ``pool`` may already be in the precision's dtype (no copy is then made).
    """
    n = rows.shape[1]
    dev, dtype = pool.device, PRECISIONS[resolve_precision(precision, pool.device)]
    pool_mm, rows = pool.to(dtype), rows.to(dev)
    order_rngs = [torch.Generator().manual_seed(seed) for seed in seeds]

    def minibatches():
        orders = torch.stack([torch.randperm(n, generator=rng) for rng in order_rngs]).to(dev)
        epoch_rows = rows.gather(1, orders)
        for start in range(0, n, batch_size):
            idx = epoch_rows[:, start : start + batch_size]  # (G, B)
            yield pool_mm.index_select(0, idx.flatten()).view(*idx.shape, -1), pool_labels[idx]

    return _train(pool.shape[1], n_classes, learning_rates, weight_decays, minibatches, epochs, momentum, dev)


def _train(d, n_classes, learning_rates, weight_decays, minibatches, epochs: int, momentum: float, dev) -> LinearModels:
    """The SGD loop of both trainers: ``minibatches()`` yields one epoch's (features, labels) in order."""
    g = len(learning_rates)
    lr = learning_rates.to(dev, torch.float32)[:, None]
    wd = weight_decays.to(dev, torch.float32)[:, None]
    models = LinearModels(torch.zeros(g, n_classes, d, device=dev), torch.zeros(g, n_classes, device=dev))
    vel_w, vel_b = torch.zeros_like(models.weight_gcd), torch.zeros_like(models.bias)
    for epoch in range(epochs):
        lr_epoch = lr * cosine_factor(epoch, epochs)
        for xb, yb in minibatches():
            _sgd_step(models, vel_w, vel_b, xb, yb, lr_epoch, wd, momentum)
    return models


def _sgd_step(models: LinearModels, vel_w, vel_b, xb, yb, lr, wd, momentum: float) -> None:
    """One minibatch step for all models, in place: mean cross-entropy, L2 decay, momentum.

    Same arithmetic as ``torch.optim.SGD``: v = momentum * v + (grad + wd * w); w -= lr * v.  ``xb`` is
    (B, D) shared by every model or (G, B, D) one batch per model, ``yb`` (B,) or (G, B).  The logits are
    formed as (G, C, B): a softmax over the C of (B, G, C) runs a kernel per row of C (6 for a JPEG
    family), 55% of a 28-point grid's step; over the middle dimension it runs vectorised along B.
    """
    w, b = models.weight_gcd, models.bias
    logits = _matmul(w, xb.mT, xb.dtype).add_(b[..., None])  # (G, C, B)
    grad_logits = torch.softmax(logits, dim=1)
    g, c, n = grad_logits.shape  # softmax - onehot: -1 at (model, sample's class, sample), a scatter of G x B
    at_class = (yb * n + torch.arange(n, device=yb.device)).expand(g, n)
    grad_logits.view(g, c * n).scatter_add_(1, at_class, grad_logits.new_full((1, 1), -1.0).expand(g, n))
    grad_w = _matmul(grad_logits, xb, xb.dtype)  # (G, C, D)
    vel_w.mul_(momentum).add_(grad_w, alpha=1.0 / n).addcmul_(wd[..., None], w)
    vel_b.mul_(momentum).add_(grad_logits.sum(-1), alpha=1.0 / n).addcmul_(wd, b)
    w.addcmul_(lr[..., None], vel_w, value=-1.0)
    b.addcmul_(lr, vel_b, value=-1.0)


def _select(val: Evaluation) -> int:
    """Best validation accuracy; ties -> lower validation loss; then the earlier grid point."""
    loss = torch.nan_to_num(val.loss, nan=math.inf)
    best_acc = val.accuracy.max()
    candidates = torch.nonzero(val.accuracy == best_acc).flatten()
    return int(candidates[torch.argmin(loss[candidates])])


def probe_result(
    final: LinearModels,
    data: dict,
    n_classes: int,
    val_accuracy: float,
    lr: float,
    wd: float,
    grid: list[dict],
    t0: float,
    method: str,
    precision_used: str = "float32",
) -> ProbeResult:
    """Test the refit model and record how it was chosen (shared by the grid and the baseline)."""
    test = evaluate(final, *data["test"])
    return ProbeResult(
        test_accuracy=float(test.accuracy[0]),
        test_mean_per_class_accuracy=mean_per_class_accuracy(test.predictions[0], data["test"][1]),
        val_accuracy=val_accuracy,
        learning_rate=lr,
        weight_decay=wd,
        n_train=len(data["train"][1]),
        n_val=len(data["val"][1]),
        n_test=len(data["test"][1]),
        n_classes=n_classes,
        grid=grid,
        seconds=time.perf_counter() - t0,
        method=method,
        precision_used=precision_used,
    )


@dataclass(frozen=True)
class GridChoice:
    """The grid point chosen on the validation split, and what :func:`linear_probe` refits it with."""

    learning_rate: float
    weight_decay: float
    val_accuracy: float
    grid: list[dict]  # every point with its validation accuracy and loss
    data: dict  # the validated, L2-normalised splits (dense labels)
    n_classes: int
    precision: str  # of the GEMM inputs, resolved for the device


def choose_point(train_x, train_y, val_x, val_y, test_x, test_y, config: ProbeConfig = ProbeConfig()) -> GridChoice:
    """Tune (lr, wd) on val with the whole grid in one batched run: the first half of
    :func:`linear_probe`, for a protocol that trains its own models at the chosen point (the released
    refits, :mod:`benchmark.protocols.refit`).  The test split only fixes the label space."""
    dev = resolve_device(config.device)
    precision = resolve_precision(config.precision, dev)
    data = {
        k: (x.to(dev), y.to(dev)) for k, (x, y) in probe_splits(train_x, train_y, val_x, val_y, test_x, test_y).items()
    }
    n_classes = 1 + max(int(y.max()) for _, y in data.values())
    points = config.grid()
    grid_models = train_linear_models(
        *data["train"],
        n_classes,
        torch.tensor([lr for lr, _ in points]) * config.tune_learning_rate_scale,
        torch.tensor([wd for _, wd in points]),
        epochs=config.tune_epochs or config.epochs,
        batch_size=config.batch_size,
        momentum=config.momentum,
        seed=config.seed,
        precision=precision,
    )
    val = evaluate(grid_models, *data["val"])
    best = _select(val)
    grid = [
        {"learning_rate": p_lr, "weight_decay": p_wd, "val_accuracy": float(acc), "val_loss": float(loss)}
        for (p_lr, p_wd), acc, loss in zip(points, val.accuracy, val.loss)
    ]
    lr, wd = points[best]
    return GridChoice(lr, wd, float(val.accuracy[best]), grid, data, n_classes, precision)


def linear_probe(train_x, train_y, val_x, val_y, test_x, test_y, config: ProbeConfig = ProbeConfig()) -> ProbeResult:
    """Tune (lr, wd) on val with the whole grid in one batched run, refit on train+val, test.

    Features: float arrays or tensors (N x D); labels: integer class indices.  Raises a UsageError on
    mismatched lengths or dimensions, a single training class, NaN/inf features.
    """
    t0 = time.perf_counter()
    chosen = choose_point(train_x, train_y, val_x, val_y, test_x, test_y, config)
    data = chosen.data
    trainval_x = torch.cat([data["train"][0], data["val"][0]])
    trainval_y = torch.cat([data["train"][1], data["val"][1]])
    final = train_linear_models(
        trainval_x,
        trainval_y,
        chosen.n_classes,
        torch.tensor([chosen.learning_rate]),
        torch.tensor([chosen.weight_decay]),
        epochs=config.epochs,
        batch_size=config.batch_size,
        momentum=config.momentum,
        seed=config.seed,
        precision=chosen.precision,
    )
    return probe_result(
        final,
        data,
        chosen.n_classes,
        chosen.val_accuracy,
        chosen.learning_rate,
        chosen.weight_decay,
        chosen.grid,
        t0,
        "grid",
        chosen.precision,
    )
