"""The ``dino`` and ``mocov3`` families: self-supervised checkpoints that no model hub carries.

The DINO and MoCo v3 releases publish ``dino:resnet50`` and ``mocov3:{vit_small,vit_base,resnet50}``
as files on dl.fbaipublicfiles.com, and the paper's released code builds each architecture itself
and loads the file into it. So does this module, the same way:

* ResNet-50: torchvision's ``resnet50`` with ``fc = Identity`` (2048-d pooled features);
* MoCo v3 ViTs: timm's ``VisionTransformer``, patch 16, depth 12, **12 heads at both widths**
  (MoCo v3's ViT-S has 12 heads where timm's ``vit_small_patch16_224`` has 6: same parameter
  shapes, different attention), LayerNorm eps 1e-6, the class token as the embedding;
* from the file, the ``module.base_encoder.`` network without its projection head (``fc``/``head``);
* the releases' eval transforms: ImageNet statistics at 224 px, DINO resizing bicubic, MoCo v3 bilinear.

The other DINO weights (ViT-S/8, S/16, B/8, B/16) are on the Hub through timm and use the ``timm``
family. The files are downloaded on first use into torch hub's ``checkpoints`` folder, where
``torch.hub.load_state_dict_from_url`` caches them too (:mod:`.weights.urls`: resumable, checked), or
given with ``weights=FILE``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.encoders.factory import Built, LoadRequest, Shape, parameter_bytes, preprocess_overrides
from benchmark.encoders.registry import EncoderSpec, register_family, register_shape
from benchmark.encoders.weights.files import clean_state_dict, few_keys, file_provenance, read_state_dict
from benchmark.encoders.weights.urls import checkpoints_dir, url_file
from benchmark.errors import UsageError

if TYPE_CHECKING:
    import torch

    from benchmark.imaging.preprocess import Preprocess

_FILES = "https://dl.fbaipublicfiles.com"


@dataclass(frozen=True)
class Checkpoint:
    """A published checkpoint and how the released code builds and evaluates it."""

    url: str
    architecture: str  # "resnet50", or "vit" with embed_dim
    embed_dim: int
    head: str  # key prefix of the projection head the release drops
    interpolation: str
    # the file's published sha256, checked after a download; None where the release publishes none
    # (DINO's and MoCo v3's do not): the sha256 found is then recorded in the provenance only
    sha256: str | None = None


CHECKPOINTS: dict[str, dict[str, Checkpoint]] = {
    "dino": {
        "resnet50": Checkpoint(
            f"{_FILES}/dino/dino_resnet50_pretrain/dino_resnet50_pretrain.pth", "resnet50", 2048, "fc", "bicubic"
        ),
    },
    "mocov3": {
        "vit_small": Checkpoint(f"{_FILES}/moco-v3/vit-s-300ep/vit-s-300ep.pth.tar", "vit", 384, "head", "bilinear"),
        "vit_base": Checkpoint(f"{_FILES}/moco-v3/vit-b-300ep/vit-b-300ep.pth.tar", "vit", 768, "head", "bilinear"),
        "resnet50": Checkpoint(f"{_FILES}/moco-v3/r-50-1000ep/r-50-1000ep.pth.tar", "resnet50", 2048, "fc", "bilinear"),
    },
}


def checkpoint_path(checkpoint: Checkpoint) -> Path:
    """Where torch hub caches the file (``$TORCH_HOME/hub/checkpoints/<name>``), read from the environment now."""
    return checkpoints_dir() / checkpoint.url.rsplit("/", 1)[-1]


def _load(spec: EncoderSpec, request: LoadRequest) -> Built:
    checkpoint = CHECKPOINTS[spec.family][spec.name]
    if request.weights is not None:
        path, provenance = request.weights, file_provenance(request.weights)
    else:
        name = f"{spec.alias} ({spec.key})" if spec.alias else spec.key
        path, provenance = url_file(checkpoint.url, name=name, sha256=checkpoint.sha256, offline=request.offline)
    model = _build(checkpoint)
    state = {
        k: v for k, v in clean_state_dict(read_state_dict(path)).items() if not k.startswith(checkpoint.head + ".")
    }
    try:
        result = model.load_state_dict(state, strict=False)
        problems = f"missing {few_keys(result.missing_keys)}; unexpected {few_keys(result.unexpected_keys)}"
    except RuntimeError as error:  # shapes that differ
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        result, problems = None, (lines[1:] or lines or ["shapes differ"])[0]
    if result is None or result.missing_keys or result.unexpected_keys:
        raise UsageError(f"{path} does not fit {spec.key}: {problems}")
    return Built(model, _preprocess(spec, checkpoint), checkpoint.embed_dim, provenance)


def _preprocess(spec: EncoderSpec, checkpoint: Checkpoint) -> Preprocess:
    """The release's eval transform: ImageNet statistics at 224 px, its interpolation; the spec's overrides."""
    from benchmark.imaging.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocess

    preprocess = Preprocess(crop_size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD, interpolation=checkpoint.interpolation)
    return Preprocess(**{**preprocess.describe(), **preprocess_overrides(spec)})


def _shape(spec: EncoderSpec) -> Shape:
    checkpoint = CHECKPOINTS[spec.family][spec.name]
    return Shape(_preprocess(spec, checkpoint), checkpoint.embed_dim, parameter_bytes(_build(checkpoint)))


def _build(checkpoint: Checkpoint) -> torch.nn.Module:
    import torch

    if checkpoint.architecture == "resnet50":
        import torchvision

        model = torchvision.models.resnet50(weights=None)
        model.fc = torch.nn.Identity()
        return model
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(
        patch_size=16,
        embed_dim=checkpoint.embed_dim,
        depth=12,
        num_heads=12,
        mlp_ratio=4,
        qkv_bias=True,
        norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6),
        num_classes=0,
    )


for _family, _checkpoints in CHECKPOINTS.items():
    register_family(
        _family,
        key_form=f"{_family}:NAME",
        name_pattern=f"^({'|'.join(_checkpoints)})$",
        expected=f"one of {', '.join(_checkpoints)}",
    )(_load)
    register_shape(_family)(_shape)
