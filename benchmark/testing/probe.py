"""The released probe protocol, sequential: 30 separate models with (lr, wd) drawn log-uniformly,
each its own ``nn.Linear`` and ``torch.optim.SGD`` run.  The baseline of ``scripts/bench_probe.py``,
against which the grid probe (:mod:`benchmark.protocols.probe`) is measured."""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from benchmark.protocols.probe import LinearModels, ProbeResult, cosine_factor, evaluate, probe_result, probe_splits
from benchmark.runtime.device import resolve_device


def _train_single_sequential(x, y, n_classes, lr, wd, *, epochs, batch_size, momentum, seed) -> torch.nn.Linear:
    """One ``nn.Linear`` trained like the released code: torch SGD, cosine per epoch, shuffled batches."""
    rng = torch.Generator().manual_seed(seed)
    clf = torch.nn.Linear(x.shape[1], n_classes).to(x.device)
    bound = 1.0 / math.sqrt(x.shape[1])  # nn.Linear's default init, drawn from our generator
    with torch.no_grad():
        clf.weight.copy_(torch.empty_like(clf.weight, device="cpu").uniform_(-bound, bound, generator=rng))
        clf.bias.copy_(torch.empty_like(clf.bias, device="cpu").uniform_(-bound, bound, generator=rng))
    optim = torch.optim.SGD(clf.parameters(), lr=lr, momentum=momentum, weight_decay=wd)
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(epochs):
        for group in optim.param_groups:
            group["lr"] = lr * cosine_factor(epoch, epochs)
        order = torch.randperm(len(x), generator=rng).to(x.device)
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            loss = loss_fn(clf(x.index_select(0, idx)), y.index_select(0, idx))  # the fast gather, as ours
            optim.zero_grad()
            loss.backward()
            optim.step()
    return clf


def _as_models(clf: torch.nn.Linear) -> LinearModels:
    return LinearModels(clf.weight.detach()[None].clone(), clf.bias.detach()[None, :].clone())


def sequential_probe(
    train_x,
    train_y,
    val_x,
    val_y,
    test_x,
    test_y,
    trials: int = 30,
    epochs: int = 100,
    seed: int = 0,
    *,
    learning_rate_range: tuple[float, float] = (0.1, 100.0),
    weight_decay_range: tuple[float, float] = (1e-12, 1e-4),
    batch_size: int = 1024,
    momentum: float = 0.9,
    device: str | None = None,
) -> ProbeResult:
    """Released protocol: ``trials`` separate models, (lr, wd) drawn log-uniformly (random search).

    Each trial is its own ``nn.Linear`` + ``torch.optim.SGD`` run for ``epochs`` epochs; the best
    validation accuracy wins (ties -> earlier trial), then it is refit on train+val and tested.  The
    released code also predicts on the validation set after every epoch; that only costs time and is
    skipped here, which makes this baseline slightly faster than the original.
    """
    t0 = time.perf_counter()
    dev = resolve_device(device)
    data = {
        k: (x.to(dev), y.to(dev)) for k, (x, y) in probe_splits(train_x, train_y, val_x, val_y, test_x, test_y).items()
    }
    n_classes = 1 + max(int(y.max()) for _, y in data.values())
    rng = np.random.default_rng(seed)
    log_lr, log_wd = np.log(learning_rate_range), np.log(weight_decay_range)
    kw = dict(epochs=epochs, batch_size=batch_size, momentum=momentum)
    record = []
    for trial in range(trials):
        lr, wd = float(np.exp(rng.uniform(*log_lr))), float(np.exp(rng.uniform(*log_wd)))
        clf = _train_single_sequential(*data["train"], n_classes, lr, wd, seed=seed + trial, **kw)
        val = evaluate(_as_models(clf), *data["val"])
        record.append(
            {
                "learning_rate": lr,
                "weight_decay": wd,
                "val_accuracy": float(val.accuracy[0]),
                "val_loss": float(val.loss[0]),
            }
        )
    best = max(range(trials), key=lambda i: (record[i]["val_accuracy"], -i))
    lr, wd = record[best]["learning_rate"], record[best]["weight_decay"]
    trainval_x = torch.cat([data["train"][0], data["val"][0]])
    trainval_y = torch.cat([data["train"][1], data["val"][1]])
    final = _train_single_sequential(trainval_x, trainval_y, n_classes, lr, wd, seed=seed + trials, **kw)
    return probe_result(
        _as_models(final), data, n_classes, record[best]["val_accuracy"], lr, wd, record, t0, "sequential"
    )
