"""The released processing probe on train + val: class draws, tuning split, refits (benchmark.protocols.refit)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import benchmark.protocols.probe
import benchmark.protocols.refit
from benchmark.protocols.probe import ProbeConfig, choose_point, linear_probe, train_linear_models
from benchmark.protocols.refit import draw_classes, fit_at, pick, refit_probe, tuning_split

SMALL = ProbeConfig(learning_rates=(1.0, 10.0), weight_decays=(0.0, 1e-4), epochs=12, batch_size=32, device="cpu")


def embedded(n_images: int, n_classes: int = 3, dim: int = 10, shift: float = 0.6, seed: int = 0) -> list[torch.Tensor]:
    """Every image under every class: its own content (``seed``) plus a class direction (the same for
    every seed), partly hidden by noise."""
    directions = torch.randn(n_classes, dim, generator=torch.Generator().manual_seed(1234))
    gen = torch.Generator().manual_seed(seed)
    content = torch.randn(n_images, dim, generator=gen)
    return [content + shift * directions[p] + 0.3 * torch.randn(n_images, dim, generator=gen) for p in range(n_classes)]


def as_test(per_class: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Every val image under every class, class-major, labelled by class."""
    return torch.cat(per_class), torch.arange(len(per_class)).repeat_interleave(len(per_class[0]))


@pytest.mark.parametrize("seed", [0, 3, 22])
def test_class_draw_is_the_released_numpy_choice(seed):
    drawn = draw_classes(50, 4, seed)
    assert drawn.tolist() == np.random.default_rng(seed).choice(4, 50, replace=True).tolist()
    assert draw_classes(50, 4, seed + 1).tolist() != drawn.tolist()


def test_pick_takes_each_image_under_its_drawn_class():
    per_class = [torch.full((5, 2), float(p)) + torch.arange(5.0)[:, None] * 10 for p in range(3)]
    drawn = np.array([2, 0, 1, 1, 0])
    picked = pick(per_class, drawn)
    assert picked[:, 0].tolist() == [2.0, 10.0, 21.0, 31.0, 40.0]


def test_tuning_split_is_a_fifth_of_each_class_disjoint_and_seeded():
    labels = np.repeat([0, 1, 2], [50, 23, 4])
    fit, tuning = tuning_split(labels, seed=5)
    assert len(np.intersect1d(fit, tuning)) == 0
    assert sorted(np.concatenate([fit, tuning]).tolist()) == list(range(len(labels)))
    assert fit.tolist() == sorted(fit.tolist()) and tuning.tolist() == sorted(tuning.tolist())
    # int(0.2 * n) per class, at least one: 10 of 50, 4 of 23, 1 of 4 (int(0.8) = 0)
    assert np.bincount(labels[tuning]).tolist() == [10, 4, 1]
    again, other = tuning_split(labels, seed=5), tuning_split(labels, seed=6)
    assert again[1].tolist() == tuning.tolist() and other[1].tolist() != tuning.tolist()


def test_a_class_drawn_once_cannot_give_a_tuning_row():
    with pytest.raises(ValueError, match="single training image"):
        tuning_split(np.array([0, 0, 0, 1]), seed=0)


def test_fit_at_trains_as_the_probe_refits_its_chosen_point():
    per_class = embedded(60)
    drawn = draw_classes(60, 3, 0)
    x, y = pick(per_class, drawn), torch.from_numpy(drawn)
    test_x, test_y = as_test(embedded(20, seed=1))
    one_point = replace(SMALL, learning_rates=(3.0,), weight_decays=(1e-5,), seed=4)
    probe = linear_probe(x[:40], y[:40], x[40:], y[40:], test_x, test_y, one_point)
    accuracy, per_class_accuracy = fit_at(x, y, test_x, test_y, 3, (3.0, 1e-5), one_point)
    assert 0.4 < probe.test_accuracy < 1.0  # neither chance nor trivial: equality below means something
    assert (accuracy, per_class_accuracy) == (probe.test_accuracy, probe.test_mean_per_class_accuracy)
    assert fit_at(x, y, test_x, test_y, 3, (0.1, 1e-5), one_point)[0] != accuracy  # the point matters


def test_refit_probe_tunes_on_the_run_seed_then_refits_every_seed(monkeypatch):
    train, (test_x, test_y) = embedded(90), as_test(embedded(30, seed=1))
    tuned = []

    def spy(*args, **kwargs):
        tuned.append(args)
        return choose_point(*args, **kwargs)

    monkeypatch.setattr(benchmark.protocols.refit, "choose_point", spy)
    result = refit_probe(train, test_x, test_y, SMALL, seed=7, refits=4)

    ((fit_x, fit_y, tune_x, tune_y, *_),) = tuned
    drawn = draw_classes(90, 3, 7)
    fit_rows, tuning_rows = tuning_split(drawn, 7)
    assert fit_y.tolist() == drawn[fit_rows].tolist() and tune_y.tolist() == drawn[tuning_rows].tolist()
    assert torch.equal(tune_x, pick(train, drawn)[torch.from_numpy(tuning_rows)])
    assert (result.n_train, result.n_fit, result.n_tuning, result.n_test) == (90, len(fit_rows), len(tuning_rows), 90)
    assert (result.learning_rate, result.weight_decay) in SMALL.grid() and result.tuning_seed == 7

    assert [r.seed for r in result.refits] == [0, 1, 2, 3]
    for refit in result.refits:  # each refit: all 90 rows, classes re-drawn with its seed, SGD seeded by it
        redrawn = draw_classes(90, 3, refit.seed)
        expected = fit_at(
            pick(train, redrawn),
            torch.from_numpy(redrawn),
            test_x,
            test_y,
            3,
            (result.learning_rate, result.weight_decay),
            replace(SMALL, seed=refit.seed),
        )
        assert (refit.accuracy, refit.mean_per_class_accuracy) == expected
    accuracies = [r.accuracy for r in result.refits]
    assert len(set(accuracies)) > 1
    assert result.accuracy == pytest.approx(np.mean(accuracies))
    assert result.accuracy_std == pytest.approx(np.std(accuracies)) and result.accuracy_std > 0
    assert result.mean_per_class_accuracy == pytest.approx(np.mean([r.mean_per_class_accuracy for r in result.refits]))
    assert result.to_json()["refits"][2] == {
        "seed": 2,
        "accuracy": accuracies[2],
        "mean_per_class_accuracy": result.refits[2].mean_per_class_accuracy,
    }


def test_refit_probe_defaults_to_the_released_ten_refits():
    result = refit_probe(embedded(40), *as_test(embedded(10, seed=1)), replace(SMALL, epochs=2))
    assert [r.seed for r in result.refits] == list(range(10))


def test_refit_probe_refuses_bad_inputs():
    train, test = embedded(30), as_test(embedded(5, seed=1))
    with pytest.raises(ValueError, match="refits"):
        refit_probe(train, *test, SMALL, refits=0)
    with pytest.raises(ValueError, match="each training image"):
        refit_probe([train[0], train[1][:20]], *test, SMALL)
    broken = [t.clone() for t in train]
    broken[1][3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        refit_probe(broken, *test, SMALL)


def test_refit_probe_trains_the_grid_once_and_one_model_per_refit(monkeypatch):
    """The grid's choice is all the refit protocol takes from the tuning: no model is refit on fit +
    tuning rows only to be thrown away (a tenth of the refits' time)."""
    train, (test_x, test_y) = embedded(60), as_test(embedded(20, seed=1))
    trained = []

    def counting(x, y, n_classes, learning_rates, *args, **kwargs):
        trained.append(len(learning_rates))
        return train_linear_models(x, y, n_classes, learning_rates, *args, **kwargs)

    monkeypatch.setattr(benchmark.protocols.probe, "train_linear_models", counting)
    monkeypatch.setattr(benchmark.protocols.refit, "train_linear_models", counting)
    refit_probe(train, test_x, test_y, SMALL, seed=0, refits=3)
    assert trained == [len(SMALL.grid()), 1, 1, 1]
