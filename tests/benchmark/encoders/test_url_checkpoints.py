"""The dino and mocov3 families: published checkpoints loaded into the architectures the release builds."""

from __future__ import annotations

import functools

import pytest
import torch

from benchmark.encoders import MissingWeightsError, load_encoder
from benchmark.encoders.url_checkpoints import CHECKPOINTS, checkpoint_path

timm = pytest.importorskip("timm")
torchvision = pytest.importorskip("torchvision")


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """torch hub's cache under a temporary TORCH_HOME, as ``load_state_dict_from_url`` lays it out."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def _moco_checkpoint(backbone: torch.nn.Module, head: str) -> dict:
    """A checkpoint shaped like the MoCo v3 release's: both encoders, the predictor, the optimizer."""
    state = {}
    for network in ("base_encoder", "momentum_encoder"):
        state.update({f"module.{network}.{k}": v.clone() for k, v in backbone.state_dict().items()})
        state[f"module.{network}.{head}.0.weight"] = torch.randn(16, 8)  # the projection MLP the release drops
    state["module.predictor.0.weight"] = torch.randn(16, 16)
    return {"epoch": 300, "arch": "vit", "state_dict": state, "optimizer": {"state": {}, "param_groups": []}}


def _reference_vit(embed_dim: int) -> torch.nn.Module:
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        patch_size=16,
        embed_dim=embed_dim,
        depth=12,
        num_heads=12,
        qkv_bias=True,
        norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6),
        num_classes=0,
    ).eval()


def test_mocov3_vit_small_has_twelve_heads_and_the_base_encoder_weights(torch_home, no_network):
    torch.manual_seed(0)
    reference = _reference_vit(384)
    torch_home.mkdir(parents=True)
    path = checkpoint_path(CHECKPOINTS["mocov3"]["vit_small"])
    assert path.parent == torch_home and path.name == "vit-s-300ep.pth.tar"
    torch.save(_moco_checkpoint(reference, "head"), path)

    encoder = load_encoder("mocov3-vits16")
    assert encoder.model.blocks[0].attn.num_heads == 12  # MoCo v3's ViT-S; timm's vit_small has 6
    assert encoder.embed_dim == 384
    assert encoder.weights.startswith(
        "url:https://dl.fbaipublicfiles.com/moco-v3/vit-s-300ep/vit-s-300ep.pth.tar#sha256="
    )
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(encoder.model(x), reference(x))
        six_heads = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=0).eval()
        six_heads.load_state_dict(reference.state_dict())
        assert not torch.allclose(six_heads(x), reference(x), atol=1e-4)
    assert (encoder.preprocess.interpolation, encoder.preprocess.crop_size) == ("bilinear", 224)
    assert encoder.preprocess.mean == (0.485, 0.456, 0.406)


def test_dino_resnet50_is_torchvision_resnet50_resized_bicubic(tmp_path, no_network, torch_home):
    torch.manual_seed(1)
    reference = torchvision.models.resnet50(weights=None)
    reference.fc = torch.nn.Identity()
    reference.eval()
    path = tmp_path / "dino_resnet50_pretrain.pth"
    torch.save(reference.state_dict(), path)  # the DINO release saves the bare backbone

    encoder = load_encoder("dino-resnet50", weights=path)
    assert encoder.weights.startswith(f"file:{path.resolve()}#sha256=")
    assert encoder.preprocess.interpolation == "bicubic"  # DINO's Resize(256, interpolation=3)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(encoder.model(x), reference(x))
    assert encoder.model(x).shape == (1, 2048)


def test_missing_checkpoint_names_the_url_and_the_cache(torch_home, no_network):
    with pytest.raises(MissingWeightsError) as raised:
        load_encoder("mocov3-resnet50")
    message = str(raised.value)
    assert "https://dl.fbaipublicfiles.com/moco-v3/r-50-1000ep/r-50-1000ep.pth.tar" in message
    assert str(torch_home) in message and "--weights FILE" in message


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path, no_network):
    path = tmp_path / "resnet.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(ValueError, match="does not fit mocov3:resnet50: size mismatch"):
        load_encoder("mocov3:resnet50", weights=path)


def test_a_checkpoint_without_the_backbone_keys_is_refused(tmp_path, no_network):
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {"module.something.weight": torch.zeros(3)}}, path)
    with pytest.raises(ValueError, match="does not fit dino:resnet50: missing conv1.weight"):
        load_encoder("dino:resnet50", weights=path)
