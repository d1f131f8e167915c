"""The ``open_clip`` family: ``open_clip:MODEL/TAG``, an open_clip model and pretrained tag.

Tags are ``open_clip.list_pretrained()``'s, e.g. ``open_clip:ViT-B-16/laion2b_s34b_b88k``; the
embedding is ``encode_image``'s output. (Named so as not to shadow the ``open_clip`` package.)
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from benchmark.encoders.factory import Built, LoadRequest, preprocess_overrides
from benchmark.encoders.registry import EncoderSpec, register_family, suggest
from benchmark.encoders.weights import (
    MissingWeightsError,
    clean_state_dict,
    file_provenance,
    find_in_hf_cache,
    missing_weights_message,
    read_state_dict,
)


@functools.cache
def _open_clip_image_class() -> type:
    import torch

    class OpenCLIPImage(torch.nn.Module):
        """open_clip's image tower alone: ``forward`` is ``encode_image`` (unnormalised)."""

        def __init__(self, visual: torch.nn.Module) -> None:
            super().__init__()
            self.visual = visual

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            features = self.visual(images)
            return features[0] if isinstance(features, tuple) else features

    return OpenCLIPImage


@register_family(
    "open_clip",
    key_form="open_clip:MODEL/TAG",
    name_pattern=r"^[A-Za-z0-9_\-.]+(/[A-Za-z0-9_\-.]+)?$",
    expected="MODEL/TAG, e.g. open_clip:ViT-B-16/laion2b_s34b_b88k",
)
def _load_open_clip(spec: EncoderSpec, request: LoadRequest) -> Built:
    import open_clip

    from benchmark.preprocess import Preprocess

    model_name, _, tag = spec.name.partition("/")
    if model_name not in open_clip.list_models():
        raise ValueError(f"open_clip has no model {model_name!r}{suggest(model_name, open_clip.list_models())}")
    pretrained_cfg: dict[str, Any] = {}
    if tag:
        pretrained_cfg = open_clip.get_pretrained_cfg(model_name, tag)
        if not pretrained_cfg:
            tags = open_clip.list_pretrained_tags_by_model(model_name)
            raise ValueError(
                f"open_clip model {model_name} has no pretrained tag {tag!r}; known: {', '.join(tags) or 'none'}"
            )
    if request.weights is not None:
        checkpoint, provenance = request.weights, file_provenance(request.weights)
    elif not tag:
        raise ValueError(f"{spec.key} names no pretrained tag: use open_clip:{model_name}/TAG or pass weights=FILE")
    else:
        checkpoint, provenance = _find_open_clip_weights(spec, pretrained_cfg, request.hf_cache)
    options = {
        "force_quick_gelu": bool(pretrained_cfg.get("quick_gelu", False)),  # OpenAI weights were trained with QuickGELU
        "force_preprocess_cfg": {
            k: v for k, v in pretrained_cfg.items() if k in ("mean", "std", "interpolation", "resize_mode")
        },
    }
    # pretrained_text=False: never fetch a Hugging Face text tower; the checkpoint holds every weight.
    with _quiet_random_init_warning():  # the weights are loaded right below
        model = open_clip.create_model(model_name, pretrained=None, pretrained_text=False, **options)
    tower_only = request.weights is not None and _is_image_tower_file(request.weights)
    try:
        if tower_only:
            model.visual.load_state_dict(clean_state_dict(read_state_dict(checkpoint)), strict=True)
        else:  # open_clip's loader converts the checkpoint formats it knows
            open_clip.load_checkpoint(model, str(checkpoint), strict=True)
    except (RuntimeError, AssertionError, KeyError) as error:
        what = "the image tower of " if tower_only else ""
        raise ValueError(f"{checkpoint} does not fit {what}open_clip {model_name}: {_short(error)}") from None
    preprocess = Preprocess.from_open_clip(model.visual.preprocess_cfg, **preprocess_overrides(spec))
    embed_dim = int(open_clip.get_model_config(model_name)["embed_dim"])
    return Built(_open_clip_image_class()(model.visual), preprocess, embed_dim, provenance)


@contextlib.contextmanager
def _quiet_random_init_warning() -> Iterator[None]:
    """Drop open_clip's "initialized randomly" warning (logged on the root logger) for one call."""
    root = logging.getLogger()
    quiet = logging.Filter()
    quiet.filter = lambda record: "initialized randomly" not in record.getMessage()  # type: ignore[method-assign]
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


def _find_open_clip_weights(spec: EncoderSpec, cfg: Mapping[str, Any], hf_cache: Path) -> tuple[Path, str]:
    """Every open_clip pretrained tag names a Hugging Face repository (``hf_hub``); like open_clip,
    prefer its safetensors file."""
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    repo_id, filename = os.path.split(cfg.get("hf_hub", ""))
    if not repo_id:
        raise MissingWeightsError(
            f"open_clip names no Hugging Face repository for {spec.key}; pass weights=FILE (--weights FILE)"
        )
    filename = filename or HF_WEIGHTS_NAME
    if filename == HF_WEIGHTS_NAME:
        names = [HF_SAFE_WEIGHTS_NAME, filename]
    elif filename.endswith((".bin", ".pth")):
        names = [filename[:-4] + ".safetensors", filename]
    else:
        names = [filename]
    if found := find_in_hf_cache(repo_id, names, hf_cache):
        return found
    raise MissingWeightsError(missing_weights_message(spec, repo_id, names, hf_cache))


def _is_image_tower_file(path: Path) -> bool:
    """Whether a state dict holds only open_clip's image tower (no ``visual.`` prefix anywhere)."""
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            keys = list(handle.keys())
    else:
        keys = list(clean_state_dict(read_state_dict(path)))
    return not any(k.startswith("visual.") or ".visual." in k for k in keys)


def _short(error: Exception, limit: int = 300) -> str:
    text = str(error).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."
