"""The ``timm`` family: ``timm:NAME``, a timm model with its pretrained tag.

E.g. ``timm:vit_base_patch16_siglip_256.webli``; the embedding is the pooled feature vector
(``num_classes=0``). Also the timm helpers that the ``random`` family shares.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.encoders.factory import Built, LoadRequest, preprocess_overrides
from benchmark.encoders.registry import EncoderSpec, register_family, suggest
from benchmark.encoders.weights import (
    MissingWeightsError,
    file_provenance,
    find_in_hf_cache,
    load_file_into,
    missing_weights_message,
)

if TYPE_CHECKING:
    import torch

    from benchmark.preprocess import Preprocess

TIMM_NAME = r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)?$"  # architecture, optionally .TAG
TIMM_EXPECTED = "a timm model name, e.g. timm:resnet50.tv_in1k"


@register_family("timm", key_form="timm:MODEL.TAG", name_pattern=TIMM_NAME, expected=TIMM_EXPECTED)
def _load_timm(spec: EncoderSpec, request: LoadRequest) -> Built:
    import timm
    from timm.models import get_pretrained_cfg

    kwargs: dict[str, Any] = {"num_classes": 0}
    overlay: dict[str, Any] = {}
    if spec.input_size:
        kwargs["img_size"] = spec.input_size
        overlay["input_size"] = (3, spec.input_size, spec.input_size)
    if request.weights is not None:
        check_timm_name(spec.name)
        model = timm.create_model(spec.name, pretrained=False, pretrained_cfg_overlay=overlay or None, **kwargs)
        load_file_into(model, request.weights)
        provenance = file_provenance(request.weights)
    else:
        pretrained_cfg = get_pretrained_cfg(spec.name)
        if pretrained_cfg is None:
            check_timm_name(spec.name)
            raise MissingWeightsError(
                f"timm has no pretrained weights for {spec.name}; pass weights=FILE (--weights FILE)"
            )
        path, provenance = _find_timm_weights(spec, pretrained_cfg.to_dict(), request.hf_cache)
        model = timm.create_model(
            spec.name, pretrained=True, pretrained_cfg_overlay={**overlay, "file": str(path)}, **kwargs
        )
    return Built(model, timm_preprocess(model, spec), timm_embed_dim(model), provenance)


def check_timm_name(name: str) -> None:
    """``ValueError`` with close matches unless timm knows the architecture of ``name``."""
    import timm

    architecture = name.partition(".")[0]
    if not timm.is_model(architecture):
        raise ValueError(f"timm has no model {architecture!r}{suggest(architecture, timm.list_models())}")


def timm_preprocess(model: torch.nn.Module, spec: EncoderSpec) -> Preprocess:
    """The eval transform of a timm model's data config, with the spec's overrides."""
    from timm.data import resolve_data_config

    from benchmark.preprocess import Preprocess

    return Preprocess.from_timm_config(resolve_data_config(model=model), **preprocess_overrides(spec))


def timm_embed_dim(model: torch.nn.Module) -> int:
    """The width of a timm model's pooled output (``num_classes=0``)."""
    return int(getattr(model, "head_hidden_size", None) or model.num_features)


def _find_timm_weights(spec: EncoderSpec, cfg: Mapping[str, Any], hf_cache: Path) -> tuple[Path, str]:
    if cfg.get("file") and Path(cfg["file"]).is_file():
        return Path(cfg["file"]), file_provenance(Path(cfg["file"]))
    hub_id = cfg.get("hf_hub_id")
    names: list[str] = []
    if hub_id:
        repo_id, _, revision = hub_id.partition("@")
        if filename := cfg.get("hf_hub_filename"):
            names = [filename[:-4] + ".safetensors"] if filename.endswith((".bin", ".pth")) else []
            names.append(filename)
        else:
            names = ["model.safetensors", "pytorch_model.bin"]
        if found := find_in_hf_cache(repo_id, names, hf_cache, revision or None):
            return found
    import torch

    if url := cfg.get("url"):
        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
        if path.is_file():
            return path, file_provenance(path)
    if hub_id:
        raise MissingWeightsError(missing_weights_message(spec, repo_id, names, hf_cache))
    raise MissingWeightsError(
        f"No local weights for {spec.key}: download {url} on a machine with internet, copy it to "
        f"{Path(torch.hub.get_dir()) / 'checkpoints'} here, or pass weights=FILE (--weights FILE)."
    )
