"""The open_clip family: weights from the local Hugging Face cache, tags, image-tower files."""

from __future__ import annotations

import json

import pytest
import torch

from benchmark.encoders import MissingWeightsError, load_encoder

open_clip = pytest.importorskip("open_clip")
safetensors_torch = pytest.importorskip("safetensors.torch")


TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 1000, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture
def tiny_open_clip(monkeypatch):
    """A tiny open_clip architecture and pretrained tag, registered the way open_clip's own are."""
    from open_clip import factory, pretrained

    monkeypatch.setitem(factory._MODEL_CONFIGS, "Tiny-ViT-Test", json.loads(json.dumps(TINY_CLIP)))
    monkeypatch.setitem(
        pretrained._PRETRAINED,
        "Tiny-ViT-Test",
        {
            "unit": {
                "hf_hub": "test-org/tiny-clip/",
                "mean": (0.5, 0.5, 0.5),
                "std": (0.5, 0.5, 0.5),
                "quick_gelu": True,
            }
        },
    )
    return "Tiny-ViT-Test"


def test_open_clip_weights_from_local_hf_cache(tmp_path, tiny_open_clip, no_network, fake_hf_cache):
    source = open_clip.create_model(tiny_open_clip, pretrained=None, force_quick_gelu=True).eval()
    fake_hf_cache(tmp_path, "test-org/tiny-clip", "open_clip_model.safetensors", source.state_dict(), revision="b" * 40)
    encoder = load_encoder(f"open_clip:{tiny_open_clip}/unit", hf_cache=tmp_path)
    assert encoder.weights == f"hf-cache:test-org/tiny-clip@{'b' * 40}/open_clip_model.safetensors"
    assert encoder.embed_dim == 32
    assert (encoder.preprocess.crop_size, encoder.preprocess.mean) == (64, (0.5, 0.5, 0.5))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = source.encode_image(x)
        assert torch.allclose(encoder.model(x), expected, atol=1e-6)
    assert encoder.model(x).shape == (2, 32)


def test_open_clip_missing_tag_weights_and_image_tower_file(tmp_path, tiny_open_clip, no_network):
    with pytest.raises(MissingWeightsError, match="hf download test-org/tiny-clip open_clip_model.safetensors"):
        load_encoder(f"open_clip:{tiny_open_clip}/unit", hf_cache=tmp_path)
    with pytest.raises(ValueError, match="no pretrained tag 'nope'"):
        load_encoder(f"open_clip:{tiny_open_clip}/nope", hf_cache=tmp_path)
    with pytest.raises(ValueError, match="names no pretrained tag"):
        load_encoder(f"open_clip:{tiny_open_clip}", hf_cache=tmp_path)
    with pytest.raises(ValueError, match="open_clip has no model"):
        load_encoder("open_clip:ViT-B-166/openai", hf_cache=tmp_path)
    source = open_clip.create_model(tiny_open_clip, pretrained=None).eval()
    path = tmp_path / "visual.safetensors"
    safetensors_torch.save_file(source.visual.state_dict(), str(path))
    encoder = load_encoder(f"open_clip:{tiny_open_clip}", weights=path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(encoder.model(x), source.encode_image(x), atol=1e-6)
