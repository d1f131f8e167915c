"""Linear probe: accuracy on separable and on random labels, batched grid == per-model runs, errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.protocols.probe import (
    Evaluation,
    LinearModels,
    ProbeConfig,
    _select,
    cosine_factor,
    evaluate,
    linear_probe,
    mean_per_class_accuracy,
    train_linear_models,
)
from benchmark.testing.probe import sequential_probe

# float32 pinned: these tests check the protocol's arithmetic, which "auto" would make depend on the CPU
SMALL = ProbeConfig(
    learning_rates=(1.0, 10.0), weight_decays=(0.0, 1e-4), epochs=15, batch_size=64, precision="float32", device="cpu"
)


def clusters(n_per_class: int, classes: int = 6, dim: int = 12, spread: float = 0.05, seed: int = 0):
    """Well separated clusters: the label is a deterministic function of the features."""
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, dim, generator=gen)
    y = torch.arange(classes).repeat_interleave(n_per_class)
    x = centers[y] + spread * torch.randn(len(y), dim, generator=gen)
    perm = torch.randperm(len(y), generator=gen)
    return x[perm], y[perm]


def split(x, y, a: float = 0.5, b: float = 0.7):
    i, j = int(a * len(y)), int(b * len(y))
    return x[:i], y[:i], x[i:j], y[i:j], x[j:], y[j:]


def test_separable_clusters_are_learned():
    result = linear_probe(*split(*clusters(60)), SMALL)
    assert result.test_accuracy > 0.9
    assert result.test_mean_per_class_accuracy > 0.9
    assert (result.n_train, result.n_val + result.n_test, result.n_classes) == (180, 180, 6)
    assert len(result.grid) == 4
    assert (result.learning_rate, result.weight_decay) in SMALL.grid()


def test_numpy_inputs_work_like_tensors():
    parts = split(*clusters(30))
    as_numpy = [p.numpy() for p in parts]
    a, b = linear_probe(*parts, SMALL), linear_probe(*as_numpy, SMALL)
    assert a.test_accuracy == b.test_accuracy and a.grid == b.grid


def test_random_labels_stay_near_chance():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2400, 16, generator=gen)
    y = torch.randint(0, 4, (2400,), generator=gen)
    result = linear_probe(*split(x, y), SMALL)
    assert abs(result.test_accuracy - 0.25) < 0.1  # 720 test samples: chance 0.25, sd ~0.016


def test_batched_grid_equals_each_point_trained_alone():
    x, y = clusters(20, classes=4, dim=8, spread=0.5)
    x = F.normalize(x, dim=1)
    lrs, wds = torch.tensor([0.3, 3.0, 30.0]), torch.tensor([1e-3, 0.0, 1e-5])
    kw = dict(epochs=5, batch_size=16, seed=7)
    grid = train_linear_models(x, y, 4, lrs, wds, **kw)
    alone = [train_linear_models(x, y, 4, lrs[g : g + 1], wds[g : g + 1], **kw) for g in range(3)]
    for g, model in enumerate(alone):
        torch.testing.assert_close(grid.weight[g], model.weight[0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(grid.bias[g], model.bias[0], rtol=1e-5, atol=1e-6)
    val_grid = evaluate(grid, x, y)
    val_alone = [evaluate(m, x, y) for m in alone]
    assert val_grid.accuracy.tolist() == [v.accuracy.item() for v in val_alone]
    stacked = Evaluation(
        torch.cat([v.accuracy for v in val_alone]),
        torch.cat([v.loss for v in val_alone]),
        torch.cat([v.predictions for v in val_alone]),
    )
    assert _select(val_grid) == _select(stacked)


def test_update_is_torch_sgd_with_momentum_and_weight_decay():
    x, y = clusters(15, classes=3, dim=5, spread=0.5)
    x = F.normalize(x, dim=1)
    lr, wd, epochs, batch = 2.0, 1e-2, 4, 8
    ours = train_linear_models(x, y, 3, torch.tensor([lr]), torch.tensor([wd]), epochs=epochs, batch_size=batch, seed=3)
    ref = torch.nn.Linear(5, 3)
    torch.nn.init.zeros_(ref.weight)
    torch.nn.init.zeros_(ref.bias)
    optim = torch.optim.SGD(ref.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
    rng = torch.Generator().manual_seed(3)
    for epoch in range(epochs):
        optim.param_groups[0]["lr"] = lr * cosine_factor(epoch, epochs)
        order = torch.randperm(len(x), generator=rng)
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            optim.zero_grad()
            F.cross_entropy(ref(x[idx]), y[idx]).backward()
            optim.step()
    torch.testing.assert_close(ours.weight[0], ref.weight.detach().T, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.bias[0], ref.bias.detach(), rtol=1e-5, atol=1e-6)


def test_same_seed_same_result_and_seed_matters_for_order():
    parts = split(*clusters(20, spread=0.8))
    a, b = linear_probe(*parts, SMALL), linear_probe(*parts, SMALL)
    strip = lambda r: {k: v for k, v in r.to_json().items() if k != "seconds"}  # noqa: E731
    assert strip(a) == strip(b)
    c = linear_probe(*parts, replace(SMALL, seed=1))
    assert [p["val_loss"] for p in c.grid] != [p["val_loss"] for p in a.grid]


def test_result_is_json_serialisable():
    result = linear_probe(*split(*clusters(10)), SMALL)
    data = json.loads(json.dumps(result.to_json()))
    assert data["method"] == "grid" and data["precision_used"] == "float32"
    assert set(data["grid"][0]) == {"learning_rate", "weight_decay", "val_accuracy", "val_loss"}


def test_bfloat16_precision_learns_too():
    result = linear_probe(*split(*clusters(60)), replace(SMALL, precision="bfloat16"))
    assert result.test_accuracy > 0.9
    assert result.precision_used == "bfloat16"


def test_sequential_baseline_learns_separable_clusters():
    result = sequential_probe(*split(*clusters(60)), trials=3, epochs=15, device="cpu", batch_size=64)
    assert result.test_accuracy > 0.9
    assert result.method == "sequential" and len(result.grid) == 3


def test_mean_per_class_accuracy_by_hand():
    predictions = [0, 0, 1, 1, 2, 2, 2]
    targets = [0, 0, 0, 1, 2, 2, 1]
    # class 0: 2/3, class 1: 1/2, class 2: 2/2 -> mean 13/18 (plain accuracy would be 5/7)
    assert mean_per_class_accuracy(predictions, targets) == pytest.approx(13 / 18)
    assert mean_per_class_accuracy(np.array([3, 3]), np.array([3, 3])) == 1.0


def test_selection_prefers_accuracy_then_lower_loss_then_grid_order():
    ev = lambda acc, loss: Evaluation(torch.tensor(acc), torch.tensor(loss), torch.zeros(len(acc), 1))  # noqa: E731
    assert _select(ev([0.5, 0.9, 0.8], [0.1, 2.0, 0.1])) == 1
    assert _select(ev([0.9, 0.9, 0.9], [2.0, 1.0, float("nan")])) == 1
    assert _select(ev([0.9, 0.9], [1.0, 1.0])) == 0


def test_logits_shape_and_weight_view():
    models = LinearModels(torch.zeros(3, 2, 5), torch.ones(3, 2))
    assert models.weight.shape == (3, 5, 2)
    assert models.logits(torch.zeros(4, 5)).shape == (4, 3, 2)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: (p[0], p[1][:-1], *p[2:]), "train_y has"),
        (lambda p: (*p[:2], p[2], p[3][:-1], *p[4:]), "val_y has"),
        (lambda p: (p[0], torch.zeros_like(p[1]), *p[2:]), "single class"),
        (lambda p: (p[0].index_fill(0, torch.tensor([3]), float("nan")), *p[1:]), "NaN"),
        (lambda p: (*p[:4], p[4][:, :-1], p[5]), "dimensions differ"),
        (lambda p: (p[0], p[1].float(), *p[2:]), "integer class"),
        (lambda p: (p[0][:, 0], *p[1:]), "2-D"),
        (lambda p: (*p[:5], -p[5]), "negative"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(mutate, message):
    parts = split(*clusters(10))
    with pytest.raises(ValueError, match=message):
        linear_probe(*mutate(parts), SMALL)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(learning_rates=()),
        dict(learning_rates=(-1.0,)),
        dict(weight_decays=(-1e-3,)),
        dict(epochs=0),
        dict(precision="float16"),
        dict(momentum=1.0),
        dict(tune_epochs=0),
    ],
)
def test_bad_config_is_rejected(kwargs):
    with pytest.raises(ValueError):
        ProbeConfig(**kwargs)


def test_tuning_on_shorter_runs_changes_only_the_grid_search():
    parts = split(*clusters(60))
    one_point = replace(SMALL, learning_rates=(1.0,), weight_decays=(1e-4,))  # same choice either way
    full = linear_probe(*parts, one_point)
    short = linear_probe(*parts, replace(one_point, tune_epochs=3))
    # the search ran 3 epochs at 15/3 times the learning rate (the full run's total step)
    train_x, train_y, val_x, val_y = (torch.as_tensor(np.asarray(a)) for a in parts[:4])
    emulated = train_linear_models(
        F.normalize(train_x.float(), dim=1),
        train_y.long(),
        6,
        torch.tensor([5.0]),
        torch.tensor([1e-4]),
        epochs=3,
        batch_size=SMALL.batch_size,
    )
    expected = evaluate(emulated, F.normalize(val_x.float(), dim=1), val_y.long())
    assert short.grid[0]["val_loss"] == pytest.approx(float(expected.loss[0]), rel=1e-6)
    assert short.grid[0]["learning_rate"] == 1.0  # the grid point is named by its full-run rate
    assert short.test_accuracy == full.test_accuracy  # the refit always runs the full 15 epochs
    assert short.test_mean_per_class_accuracy == full.test_mean_per_class_accuracy
