"""Text towers for zero-shot: open_clip models have both towers; the timm SigLIP image towers name their
open_clip twins; an encoder without one says so.  Random-weight models served by the loopback Hub."""

from __future__ import annotations

import socket

import pytest
import torch

from benchmark.encoders import list_encoders, load_encoder
from benchmark.encoders.registry import EncoderSpec, resolve, text_tower_of
from benchmark.errors import UsageError
from benchmark.testing.clip import repo_files, tiny_clip, tokenize

open_clip = pytest.importorskip("open_clip")
timm = pytest.importorskip("timm")

CLIP_REPO = "test-org/tiny-clip"
TEXTS = ["a photo taken with a Canon camera.", "a photo taken at ISO 800.", "a JPEG photo compressed at quality 75."]


def refuse_connections(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_an_open_clip_model_has_its_own_text_tower_from_the_same_file(hub, env, monkeypatch):
    source = tiny_clip(seed=1)
    commit = hub.push(CLIP_REPO, repo_files(source))
    encoder = load_encoder(f"open_clip:hf-hub:{CLIP_REPO}")
    tower = encoder.text_tower()
    assert tower.describe() == {
        "key": f"open_clip:hf-hub:{CLIP_REPO}",
        "weights": f"hf-cache:{CLIP_REPO}@{commit}/open_clip_model.safetensors",
        "embed_dim": 32,
        "tokenizer": "open_clip SimpleTokenizer, context 32",
    }
    with torch.no_grad():
        expected = source.encode_text(tokenize(TEXTS))
    assert torch.allclose(tower.embed(TEXTS), expected, atol=1e-5)
    assert encoder.text_tower() is tower  # loaded once

    hub.close()  # offline after the first download: the cache alone, not even an attempt
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    refuse_connections(monkeypatch)
    again = load_encoder(f"open_clip:hf-hub:{CLIP_REPO}", offline=True).text_tower()
    assert torch.equal(again.embed(TEXTS), tower.embed(TEXTS))


def test_an_image_tower_file_has_no_text_tower(tmp_path, monkeypatch):
    from open_clip import factory
    from safetensors.torch import save_file

    from benchmark.testing.clip import TINY_CLIP

    source = tiny_clip(seed=2)
    path = tmp_path / "visual.safetensors"
    save_file({k: v.contiguous() for k, v in source.visual.state_dict().items()}, str(path))
    monkeypatch.setitem(factory._MODEL_CONFIGS, "Tiny-Tower", TINY_CLIP)
    encoder = load_encoder("open_clip:Tiny-Tower", weights=path)
    with pytest.raises(UsageError, match="holds only the image tower .* no text tower"):
        encoder.text_tower()


def test_an_encoder_without_a_text_tower_says_what_zero_shot_needs():
    encoder = load_encoder("random:resnet10t")
    with pytest.raises(UsageError, match="random:resnet10t has no text tower: zero-shot needs a vision-language"):
        encoder.text_tower()


def test_a_twin_text_tower_is_another_repository_without_the_image_weights_file(hub, env, tmp_path):
    """A timm image tower whose row names an open_clip twin gets the twin's text tower; ``weights=FILE``
    belongs to the image tower and is not applied to the twin."""
    source = tiny_clip(seed=3)
    commit = hub.push(CLIP_REPO, repo_files(source))
    image = timm.create_model("test_vit", pretrained=False, num_classes=0)
    weights = tmp_path / "vit.pt"
    torch.save(image.state_dict(), weights)
    spec = EncoderSpec("timm:test_vit", "timm", "test_vit", text=f"open_clip:hf-hub:{CLIP_REPO}")
    encoder = load_encoder(spec, weights=weights)
    tower = encoder.text_tower()
    assert tower.spec.key == f"open_clip:hf-hub:{CLIP_REPO}" and commit in tower.weights
    with torch.no_grad():
        assert torch.allclose(tower.embed(TEXTS), source.encode_text(tokenize(TEXTS)), atol=1e-5)


def test_every_cvl_encoder_has_a_text_tower_and_no_other_does():
    for spec in list_encoders():
        assert (text_tower_of(spec) is not None) == (spec.group == "CVL"), spec.key


def test_every_twin_is_an_open_clip_model_with_the_same_image_architecture():
    """The twin's image tower is timm's architecture itself (MAP pooling, no projection), so the timm
    image embedding is the twin's ``encode_image`` and the twin's text embeddings share its space."""
    twins = [spec for spec in list_encoders() if spec.text]
    assert {spec.key.partition(".")[0] for spec in twins} >= {
        "timm:vit_base_patch16_siglip_256",
        "timm:vit_large_patch16_siglip_256",
    }
    for spec in twins:
        twin = resolve(spec.text)
        model_name, _, tag = twin.name.partition("/")
        assert twin.family == "open_clip" and open_clip.get_pretrained_cfg(model_name, tag), spec.text
        vision = open_clip.get_model_config(model_name)["vision_cfg"]
        architecture, _, weights_tag = spec.name.partition(".")
        assert (vision["timm_model_name"], vision["timm_pool"], vision["timm_proj"]) == (architecture, "map", "none")
        assert ("SigLIP2" in model_name) == weights_tag.startswith("v2"), (spec.key, spec.text)


@pytest.mark.slow
def test_the_siglip_twin_holds_timms_image_tower_weight_for_weight():
    """ViT-B-16-SigLIP-256 (random weights): its image tower's state dict is timm's model's, key for key,
    and gives the same embedding, so timm's image embeddings and the twin's text embeddings share a space."""
    twin = open_clip.create_model("ViT-B-16-SigLIP-256", pretrained=None, pretrained_text=False).eval()
    image = timm.create_model("vit_base_patch16_siglip_256", pretrained=False, num_classes=0).eval()
    image.load_state_dict(twin.visual.trunk.state_dict(), strict=True)
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        assert torch.allclose(image(x), twin.encode_image(x), atol=1e-5)
