"""The encoder's arithmetic on a GPU is a recorded choice, with the released code's one flag away."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from benchmark.cli.app import app
from benchmark.embeddings.cache import EmbeddingCache
from benchmark.embeddings.variants import Variant
from benchmark.runtime.device import encoder_precision
from benchmark.sources.folder import image_folder
from benchmark.testing.datasets import split_folder

MODEL = "random:resnet10t"


@pytest.mark.parametrize(
    "choice, device, released, expected",
    [
        ("autocast", "cpu", "clip,ViT-B-16", "float32"),  # a CPU always runs float32, as released
        ("released", "cpu", "clip,ViT-B-16", "float32"),
        ("autocast", "cuda", "clip,ViT-B-16", "autocast"),
        ("float32", "cuda:1", "clip,ViT-B-16", "float32"),
        ("released", "cuda", "clip,ViT-B-16", "float16"),  # OpenAI CLIP: clip.load gives float16 weights
        ("released", "cuda", "openclip,ViT-B-16-laion2B", "float32"),
        ("released", "cuda", None, "float32"),
    ],
)
def test_encoder_precision_per_device_and_encoder(choice, device, released, expected):
    assert encoder_precision(choice, device, released) == expected


def test_unknown_encoder_precision_is_refused():
    with pytest.raises(ValueError, match="autocast"):
        encoder_precision("half", "cuda", None)


def test_precision_is_in_the_cache_key_and_float32_keys_are_unchanged(tmp_path):
    cache = EmbeddingCache(tmp_path)
    images = image_folder(split_folder(tmp_path / "imagenet"))
    keys = {p: cache.key({"e": 1}, images, "train", Variant(), 0, p) for p in ("float32", "autocast", "float16")}
    assert "precision" not in keys["float32"]  # caches written before precision was recorded stay valid
    assert len({cache.path(k) for k in keys.values()}) == 3


def test_results_record_the_encoder_precision_used(tmp_path):
    images = split_folder(tmp_path / "imagenet")
    out = tmp_path / "out"
    args = ["knn", "--model", MODEL, "--dataset", str(images), "--out", str(out), "--family", "sharpening"]
    done = CliRunner().invoke(app, [*args, "--device", "cpu", "--encoder-precision", "released"])
    assert done.exit_code == 0, done.output
    (result,) = [json.loads(p.read_text()) for p in out.rglob("*.json")]
    assert result["encoder_precision"] == "float32"
