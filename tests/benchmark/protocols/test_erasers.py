"""Linear erasers of a trace (LEACE, paired differences, INLP): what each removes, and their files."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from benchmark.protocols.erasers import fit_eraser, fit_inlp, fit_leace, fit_paired, load_eraser, save_eraser
from benchmark.testing.embeddings import FAMILY, random_embeddings


def planted(seed=0):
    """Class centroids + a per-processing offset + noise: train [N, P, D] and val, with labels."""
    db, db_y, q, q_y = random_embeddings(n_db=400, n_q=150, n_proc=3, dim=24, classes=5, seed=seed)
    return (db, db_y), (q, q_y)


def test_leace_equalises_the_processing_means_of_the_training_split():
    (train, _), _ = planted()
    eraser = fit_leace(train)
    erased = eraser(train).double()
    means = erased.mean(0)  # [P, D]: every processing's mean over the training images
    assert torch.allclose(means, means.mean(0, keepdim=True).expand_as(means), atol=1e-6)
    normalised = F.normalize(train.double(), dim=-1)
    assert (erased - normalised).norm() < normalised.norm()  # a small change, not a collapse


def test_paired_difference_removes_pure_offsets_exactly():
    # unit vectors: an image part and one of 4 orthonormal processing offsets, so the variants of an
    # image differ by the offsets only (no per-variant noise): their differences are pure trace
    images = 0.9 * F.normalize(torch.randn(50, 1, 12, generator=torch.Generator().manual_seed(0)), dim=-1)
    offsets = 0.19**0.5 * torch.eye(4)[None]
    variants = torch.cat([images.expand(50, 4, 12), offsets.expand(50, 4, 4)], dim=-1)
    eraser = fit_paired(variants)
    erased = eraser(variants)
    assert eraser.rank == 3
    assert torch.allclose(erased, erased[:, :1].expand_as(erased), atol=1e-5)  # variants of an image now agree
    assert fit_paired(variants, rank=5).rank == 5


def test_inlp_projects_out_orthonormal_classifier_directions():
    (train, _), _ = planted()
    eraser = fit_inlp(train, iterations=3)
    assert eraser.rank == 6 and eraser.left.shape == (24, 6)
    assert torch.allclose(eraser.left.T @ eraser.left, torch.eye(6, dtype=eraser.left.dtype), atol=1e-8)
    erased = eraser(train).double().reshape(-1, 24)
    along = (erased - erased.mean(0)) @ eraser.left.double()
    assert along.abs().max() < 1e-6  # (float32 output) nothing varies along the erased directions any more


def test_unknown_method_and_bad_shapes_are_refused():
    (train, _), _ = planted()
    with pytest.raises(ValueError, match="unknown eraser method 'pca'"):
        fit_eraser("pca", train)
    with pytest.raises(ValueError, match=r"aligned variants \[N >= 2, P >= 2, D\]"):
        fit_eraser("leace", train[:, :1])
    with pytest.raises(ValueError, match="fit on 24-dimensional"):
        fit_leace(train)(torch.zeros(3, 8))


def test_an_eraser_round_trips_through_safetensors(tmp_path):
    (train, _), (val, _) = planted()
    eraser = fit_eraser("leace", train)
    path = save_eraser(eraser, tmp_path / "e.safetensors", {"target": FAMILY, "classes": ["a", "b", "c"]})
    loaded, metadata = load_eraser(path)
    assert loaded.method == "leace" and loaded.normalize and metadata["rank"] == "2"
    assert json.loads(metadata["classes"]) == ["a", "b", "c"] and json.loads(metadata["target"]) == FAMILY
    assert torch.allclose(loaded(val), eraser(val), atol=1e-5)
    save_file({"left": torch.zeros(2, 1)}, str(tmp_path / "other.safetensors"))  # not an eraser
    with pytest.raises(ValueError, match="not a trace-bench eraser"):
        load_eraser(tmp_path / "other.safetensors")


def test_a_concept_given_per_image_is_erased_and_paired_is_refused():
    from benchmark.errors import UsageError
    from benchmark.protocols.erasers import fit_concept_eraser

    generator = torch.Generator().manual_seed(0)
    values = torch.randint(0, 3, (300,), generator=generator)  # a camera model per image
    x = torch.randn(300, 16, generator=generator) + 2.0 * F.one_hot(values, 16).double().float()
    for method in ("leace", "inlp"):
        eraser = fit_concept_eraser(method, x, values)
        erased = eraser(x).double()
        means = torch.stack([erased[values == v].mean(0) for v in range(3)])
        before = torch.stack([F.normalize(x.double(), dim=1)[values == v].mean(0) for v in range(3)])
        assert (means - means.mean(0)).norm() < 0.05 * (before - before.mean(0)).norm(), method
    assert fit_concept_eraser("leace", x, values).rank == 2
    with pytest.raises(UsageError, match="paired"):
        fit_concept_eraser("paired", x, values)
    with pytest.raises(UsageError, match="two values or more"):
        fit_concept_eraser("leace", x, torch.zeros(300, dtype=torch.long))
