"""PairCams recall@1: matrix implementation == per-query loop, known answers, errors."""

from __future__ import annotations

import json

import pytest
import torch

import benchmark.protocols.retrieval as retrieval
from benchmark.protocols.retrieval import paircams_recall
from benchmark.testing.retrieval import paircams_recall_loop


def pairs(n=80, dim=16, type_weight=0.4, noise=0.9, seed=0):
    """Subject vector + camera-type vector + noise per photo."""
    gen = torch.Generator().manual_seed(seed)
    subject = torch.randn(n, dim, generator=gen)
    phone_type, camera_type = torch.randn(2, dim, generator=gen)
    phone = subject + type_weight * phone_type + noise * torch.randn(n, dim, generator=gen)
    camera = subject + type_weight * camera_type + noise * torch.randn(n, dim, generator=gen)
    return phone, camera


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matrix_equals_loop(seed, monkeypatch):
    phone, camera = pairs(seed=seed)
    assert paircams_recall(phone, camera, device="cpu") == paircams_recall_loop(phone, camera)
    monkeypatch.setattr(retrieval, "QUERY_CHUNK", 7)  # several query blocks
    assert paircams_recall(phone, camera, device="cpu") == paircams_recall_loop(phone, camera)


def test_camera_type_dominating_the_embedding():
    """Type on two axes of its own, subject on the others: same-type distractors always win."""
    n, dim = 30, 12
    subject = torch.zeros(n, dim)
    subject[:, 2:] = torch.randn(n, dim - 2, generator=torch.Generator().manual_seed(0))
    subject[:, 2:] /= subject[:, 2:].norm(dim=1, keepdim=True)
    phone, camera = subject.clone(), subject.clone()
    phone[:, 0] = 3.0
    camera[:, 1] = 3.0
    result = paircams_recall(phone, camera, device="cpu")
    assert result.phone_to_camera.same_as_query == 0.0 and result.camera_to_phone.same_as_query == 0.0
    assert result.phone_to_camera.same_as_target == 1.0 and result.camera_to_phone.same_as_target == 1.0
    assert result.spd_a == 1.0
    assert result == paircams_recall_loop(phone, camera)


def test_identical_photos_per_subject_are_always_found():
    phone, _ = pairs(n=50)
    result = paircams_recall(phone, phone.clone(), device="cpu")
    assert result.recall_same_as_query == 1.0 and result.recall_same_as_target == 1.0
    assert result.spd_a == 0.0
    assert result.n_subjects == 50


def test_type_signal_makes_the_gap_positive():
    none = paircams_recall(*pairs(type_weight=0.0, noise=0.5), device="cpu")
    some = paircams_recall(*pairs(type_weight=0.5, noise=0.5), device="cpu")
    assert abs(none.spd_a) < 0.05 and some.spd_a > 0.2


def test_to_json_round_trips():
    result = paircams_recall(*pairs(n=20), device="cpu")
    data = json.loads(json.dumps(result.to_json()))
    assert data["phone_to_camera"]["same_as_query"] == result.phone_to_camera.same_as_query
    assert data["spd_a"] == pytest.approx(result.recall_same_as_target - result.recall_same_as_query)


def test_numpy_inputs():
    phone, camera = pairs(n=20)
    assert paircams_recall(phone.numpy(), camera.numpy(), device="cpu") == paircams_recall(phone, camera, device="cpu")


@pytest.mark.parametrize(
    ("phone", "camera", "message"),
    [
        (torch.randn(5, 4), torch.randn(6, 4), "aligned"),
        (torch.randn(5, 4), torch.randn(5, 3), "aligned"),
        (torch.randn(1, 4), torch.randn(1, 4), "at least 2 subjects"),
        (torch.randn(5), torch.randn(5), "2-D|\\(subjects, D\\)"),
        (torch.full((3, 4), float("nan")), torch.randn(3, 4), "NaN"),
    ],
)
def test_bad_inputs(phone, camera, message):
    with pytest.raises(ValueError, match=message):
        paircams_recall(phone, camera, device="cpu")
    with pytest.raises(ValueError, match=message):
        paircams_recall_loop(phone, camera)
