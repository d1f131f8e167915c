"""Weight files: state dicts loaded into an architecture, and the offline lookup of hub weights."""

from __future__ import annotations

import pytest
import torch

from benchmark.encoders import MissingWeightsError, load_encoder

timm = pytest.importorskip("timm")
safetensors_torch = pytest.importorskip("safetensors.torch")

TINY = "resnet10t"  # ~5M parameters, fast on CPU


def test_weights_file_into_timm_architecture(tmp_path, photos):
    source = load_encoder(f"random:{TINY}", seed=11)
    path = tmp_path / "tiny.safetensors"
    safetensors_torch.save_file(source.model.state_dict(), str(path))
    loaded = load_encoder(f"timm:{TINY}", weights=path, seed=0)
    images = photos()
    assert torch.equal(loaded.embed(images), source.embed(images))
    assert loaded.weights.startswith(f"file:{path.resolve()}#sha256=") and len(loaded.weights.split("=")[-1]) == 64
    assert loaded.preprocess == source.preprocess


def test_weights_file_in_moco_layout_with_classifier(tmp_path, photos):
    """A torch checkpoint wrapping the network as module.base_encoder.* beside a momentum copy and an MLP head."""
    source = load_encoder(f"random:{TINY}", seed=12)
    state = source.model.state_dict()
    wrapped = {f"module.base_encoder.{k}": v for k, v in state.items()}
    wrapped |= {f"module.momentum_encoder.{k}": v + 1 for k, v in state.items()}
    wrapped |= {"module.base_encoder.fc.0.weight": torch.zeros(8, 512), "module.predictor.0.weight": torch.zeros(4, 4)}
    path = tmp_path / "moco.pth.tar"
    torch.save({"epoch": 100, "state_dict": wrapped}, path)
    loaded = load_encoder(f"timm:{TINY}", weights=path)
    images = photos(2)
    assert torch.equal(loaded.embed(images), source.embed(images))


def test_weights_file_of_another_architecture_is_rejected(tmp_path):
    path = tmp_path / "vit.safetensors"
    safetensors_torch.save_file(load_encoder("random:test_vit").model.state_dict(), str(path))
    with pytest.raises(ValueError, match="does not fit"):
        load_encoder(f"timm:{TINY}", weights=path)
    with pytest.raises(ValueError, match="does not exist"):
        load_encoder(f"timm:{TINY}", weights=tmp_path / "absent.safetensors")
    with pytest.raises(ValueError, match="randomly initialised"):
        load_encoder(f"random:{TINY}", weights=path)


def test_missing_hub_weights_raise_instructive_error_without_network(tmp_path, no_network):
    with pytest.raises(MissingWeightsError) as raised:
        load_encoder("siglip", hf_cache=tmp_path)
    message = str(raised.value)
    assert isinstance(raised.value, ValueError)
    assert "hf download timm/vit_base_patch16_siglip_256.webli model.safetensors" in message
    assert str(tmp_path) in message and "--weights FILE" in message
    with pytest.raises(
        MissingWeightsError, match="hf download timm/vit_base_patch16_clip_224.openai open_clip_model.safetensors"
    ):
        load_encoder("clip-vit-b16", hf_cache=tmp_path)


def test_missing_weights_default_cache_comes_from_environment(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(MissingWeightsError, match=str(tmp_path / "hub")):
        load_encoder("convnext-base-in22k")
