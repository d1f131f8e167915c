"""The released processing probe on train + val: class draws, tuning split, refits (benchmark.protocols.refit)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import benchmark.protocols.probe
import benchmark.protocols.refit
from benchmark.protocols.probe import ProbeConfig, choose_point, evaluate, train_linear_models, train_on_own_rows
from benchmark.protocols.refit import draw_classes, pick, refit_probe, train_refits, tuning_split

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


def trained_alone(train, seed: int, point: tuple[float, float], config: ProbeConfig):
    """One refit as linear_probe trains its final model: the picked rows, L2-normalised, SGD seeded by ``seed``."""
    drawn = draw_classes(len(train[0]), len(train), seed)
    return train_linear_models(
        F.normalize(pick(train, drawn), dim=1),
        torch.from_numpy(drawn),
        len(train),
        torch.tensor([point[0]]),
        torch.tensor([point[1]]),
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=seed,
        precision=config.precision,
    )


@pytest.mark.parametrize(("precision", "tolerance"), [("float32", 1e-5), ("bfloat16", 2e-2)])
def test_refits_trained_together_are_each_the_model_trained_alone(precision, tolerance):
    """Batched GEMMs sum in another order than one model's: the same weights up to rounding."""
    train = embedded(70)
    config = replace(SMALL, precision=precision)
    together = train_refits(train, (3.0, 1e-4), [0, 5, 9], config)
    for g, seed in enumerate([0, 5, 9]):
        alone = trained_alone(train, seed, (3.0, 1e-4), config)
        torch.testing.assert_close(together.weight[g], alone.weight[0], rtol=tolerance, atol=tolerance / 10)
        torch.testing.assert_close(together.bias[g], alone.bias[0], rtol=tolerance, atol=tolerance / 10)
    assert not torch.allclose(together.weight[0], together.weight[1])  # the seed draws and orders


def test_own_rows_with_one_shared_row_set_and_seed_are_the_shared_trainer():
    """train_on_own_rows with every model on the same rows in the same order is train_linear_models' grid."""
    gen = torch.Generator().manual_seed(3)
    pool, labels = F.normalize(torch.randn(50, 6, generator=gen), dim=1), torch.randint(0, 3, (50,), generator=gen)
    lrs, wds = torch.tensor([0.5, 5.0]), torch.tensor([0.0, 1e-3])
    rows = torch.arange(10, 50).repeat(2, 1)
    own = train_on_own_rows(pool, labels, rows, 3, lrs, wds, [2, 2], epochs=4, batch_size=8)
    shared = train_linear_models(pool[10:], labels[10:], 3, lrs, wds, epochs=4, batch_size=8, seed=2)
    torch.testing.assert_close(own.weight_gcd, shared.weight_gcd, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(own.bias, shared.bias, rtol=1e-5, atol=1e-6)


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
    point = (result.learning_rate, result.weight_decay)
    normalised_test = F.normalize(test_x, dim=1)
    for refit in result.refits:  # each refit: all 90 rows, classes re-drawn with its seed, SGD seeded by it
        alone = evaluate(trained_alone(train, refit.seed, point, SMALL), normalised_test, test_y)
        assert refit.accuracy == pytest.approx(float(alone.accuracy[0]), abs=1.01 / 90)  # a near-tie at most
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


def test_refit_probe_trains_the_grid_once_and_the_refits_together(monkeypatch):
    """The grid's choice is all the refit protocol takes from the tuning (no model refit on fit + tuning
    rows only to be thrown away), and the refits are one batched run, a model per refit seed."""
    train, (test_x, test_y) = embedded(60), as_test(embedded(20, seed=1))
    trained = []

    def counting(trainer):
        def count(*args, **kwargs):
            models = trainer(*args, **kwargs)
            trained.append((trainer.__name__, len(models.bias)))
            return models

        return count

    monkeypatch.setattr(benchmark.protocols.probe, "train_linear_models", counting(train_linear_models))
    monkeypatch.setattr(benchmark.protocols.refit, "train_on_own_rows", counting(train_on_own_rows))
    refit_probe(train, test_x, test_y, SMALL, seed=0, refits=3)
    assert trained == [("train_linear_models", len(SMALL.grid())), ("train_on_own_rows", 3)]
