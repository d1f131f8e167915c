"""The timm family: pretrained weights from the local Hugging Face cache, rows without hub weights, input sizes."""

from __future__ import annotations

import pytest
import torch

from benchmark.encoders import EncoderSpec, load_encoder

timm = pytest.importorskip("timm")


def test_timm_weights_from_local_hf_cache(tmp_path, no_network, fake_hf_cache):
    source = timm.create_model("test_vit", pretrained=False, num_classes=1000).eval()
    fake_hf_cache(tmp_path, "timm/test_vit.r160_in1k", "model.safetensors", source.state_dict(), revision="a" * 40)
    encoder = load_encoder("timm:test_vit.r160_in1k", hf_cache=tmp_path)
    assert encoder.weights == f"hf-cache:timm/test_vit.r160_in1k@{'a' * 40}/model.safetensors"
    x = torch.randn(2, 3, 160, 160)
    with torch.no_grad():
        assert torch.allclose(
            encoder.model(x), source.forward_head(source.forward_features(x), pre_logits=True), atol=1e-6
        )
    assert encoder.preprocess.crop_size == 160


def test_input_size_override_resamples_position_embeddings(tmp_path, no_network, fake_hf_cache, photos):
    """Registry rows with input_size (DINOv2 at 224 px) build the model and crop at that size."""
    source = timm.create_model("test_vit", pretrained=False, num_classes=1000)
    fake_hf_cache(tmp_path, "timm/test_vit.r160_in1k", "model.safetensors", source.state_dict())
    spec = EncoderSpec(key="timm:test_vit.r160_in1k", family="timm", name="test_vit.r160_in1k", input_size=96)
    encoder = load_encoder(spec, hf_cache=tmp_path)
    assert encoder.preprocess.crop_size == 96
    assert encoder.embed(photos(2)).shape == (2, encoder.embed_dim)
