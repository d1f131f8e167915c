"""The ``open_clip`` family: ``open_clip:MODEL/TAG``, an open_clip model and pretrained tag, or any
open_clip model folder.

Tags are ``open_clip.list_pretrained()``'s, e.g. ``open_clip:ViT-B-16/laion2b_s34b_b88k``. Any open_clip
model a researcher has works too, named with open_clip's own prefixes: ``open_clip:hf-hub:ORG/REPO[@REVISION]``
(a Hub repository with ``open_clip_config.json`` and ``open_clip_model.safetensors``, as open_clip's
``push_to_hf_hub`` writes) or ``open_clip:local-dir:FOLDER`` (the same files on disk). Weights are
downloaded on first use (:mod:`.weights.hub`). The embedding is ``encode_image``'s output; the text
tower (``encode_text`` and the model's tokenizer, for zero-shot) comes from the same weights file.
(Named so as not to shadow the ``open_clip`` package.)
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.encoders.factory import Built, BuiltText, LoadRequest, Shape, parameter_bytes, preprocess_overrides
from benchmark.encoders.registry import EncoderSpec, register_family, register_shape, register_text_loader, suggest
from benchmark.encoders.weights.files import MissingWeightsError, clean_state_dict, file_provenance, read_state_dict
from benchmark.encoders.weights.hub import SOURCE_PATTERN, folder_file, hub_file, model_source
from benchmark.errors import UsageError

OPEN_CLIP_CONFIG = "open_clip_config.json"
# open_clip's order of preference among a model folder's weight files
OPEN_CLIP_WEIGHT_FILES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
    "model.safetensors",
    "pytorch_model.bin",
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


@functools.cache
def _open_clip_text_class() -> type:
    import torch

    class OpenCLIPText(torch.nn.Module):
        """open_clip's text tower alone: ``forward`` is ``encode_text`` (unnormalised)."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.clip = model

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.clip.encode_text(tokens)

    return OpenCLIPText


@dataclass(frozen=True)
class _Loaded:
    """A whole open_clip model with its weights, and what its towers need besides."""

    model: Any
    embed_dim: int
    provenance: str
    text_cfg: Mapping[str, Any]
    tower_only: bool  # a ``weights=FILE`` holding the image tower alone: the text tower has no weights


@register_family(
    "open_clip",
    key_form="open_clip:MODEL/TAG",
    name_pattern=rf"^([A-Za-z0-9_\-.]+(/[A-Za-z0-9_\-.]+)?|{SOURCE_PATTERN})$",
    expected="MODEL/TAG, e.g. open_clip:ViT-B-16/laion2b_s34b_b88k, hf-hub:ORG/REPO[@REVISION] or local-dir:FOLDER",
)
def _load_open_clip(spec: EncoderSpec, request: LoadRequest) -> Built:
    from benchmark.imaging.preprocess import Preprocess

    loaded = _load_model(spec, request)
    preprocess = Preprocess.from_open_clip(loaded.model.visual.preprocess_cfg, **preprocess_overrides(spec))
    return Built(_open_clip_image_class()(loaded.model.visual), preprocess, loaded.embed_dim, loaded.provenance)


@register_text_loader("open_clip")
def _load_open_clip_text(spec: EncoderSpec, request: LoadRequest) -> BuiltText:
    """The text tower of the same model and weights file (``encode_text``), and its tokenizer."""
    import torch

    loaded = _load_model(spec, request)
    if loaded.tower_only:
        raise UsageError(
            f"{request.weights} holds only the image tower of {spec.key}: it has no text tower to zero-shot with"
        )
    loaded.model.visual = torch.nn.Identity()  # the image tower is the encoder's own: not kept twice
    tokenize, tokenizer = _tokenizer(spec, loaded.text_cfg, request)
    return BuiltText(_open_clip_text_class()(loaded.model), tokenize, loaded.embed_dim, loaded.provenance, tokenizer)


def _load_model(spec: EncoderSpec, request: LoadRequest) -> _Loaded:
    """The whole model of an ``open_clip:MODEL/TAG`` key (weights from its tag's Hub repository or
    ``weights=FILE``), or of a model folder."""
    import open_clip

    if model_source(spec.name)[0]:
        return _load_open_clip_folder(spec, request)
    model_name, _, tag = spec.name.partition("/")
    if model_name not in open_clip.list_models():
        raise UsageError(f"open_clip has no model {model_name!r}{suggest(model_name, open_clip.list_models())}")
    pretrained_cfg: dict[str, Any] = {}
    if tag:
        pretrained_cfg = open_clip.get_pretrained_cfg(model_name, tag)
        if not pretrained_cfg:
            tags = open_clip.list_pretrained_tags_by_model(model_name)
            raise UsageError(
                f"open_clip model {model_name} has no pretrained tag {tag!r}; known: {', '.join(tags) or 'none'}"
            )
    if request.weights is not None:
        checkpoint, provenance = request.weights, file_provenance(request.weights)
    elif not tag:
        raise UsageError(f"{spec.key} names no pretrained tag: use open_clip:{model_name}/TAG or pass weights=FILE")
    else:
        checkpoint, provenance = _find_open_clip_weights(spec, pretrained_cfg, request)
    options = {
        "force_quick_gelu": bool(pretrained_cfg.get("quick_gelu", False)),  # OpenAI weights were trained with QuickGELU
        "force_preprocess_cfg": _forced_preprocess(pretrained_cfg),
    }
    # pretrained_text=False: never fetch a Hugging Face text tower; the checkpoint holds every weight.
    with _quiet_random_init_warning():  # the weights are loaded right below
        model = open_clip.create_model(model_name, pretrained=None, pretrained_text=False, **options)
    tower_only = _load_checkpoint(spec, model, checkpoint, tower_only=request.weights is not None)
    config = open_clip.get_model_config(model_name)
    return _Loaded(model, int(config["embed_dim"]), provenance, config.get("text_cfg") or {}, tower_only)


def _forced_preprocess(pretrained_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The eval transform settings a pretrained tag fixes (open_clip's ``force_preprocess_cfg``)."""
    return {k: v for k, v in pretrained_cfg.items() if k in ("mean", "std", "interpolation", "resize_mode")}


@register_shape("open_clip")
def _open_clip_shape(spec: EncoderSpec) -> Shape | None:
    """The image tower built without weights; the eval transform from the model and tag configurations."""
    import open_clip
    from open_clip.model import _build_vision_tower

    from benchmark.imaging.preprocess import Preprocess

    model_name, _, tag = spec.name.partition("/")
    config = None if model_source(spec.name)[0] else open_clip.get_model_config(model_name)
    if not config:
        return None  # a folder's architecture is in its open_clip_config.json
    pretrained_cfg = (open_clip.get_pretrained_cfg(model_name, tag) or {}) if tag else {}
    tower = _build_vision_tower(
        config["embed_dim"], config["vision_cfg"], quick_gelu=bool(pretrained_cfg.get("quick_gelu", False))
    )
    settings = {"size": config["vision_cfg"]["image_size"], **_forced_preprocess(pretrained_cfg)}
    preprocess = Preprocess.from_open_clip(settings, **preprocess_overrides(spec))
    return Shape(preprocess, int(config["embed_dim"]), parameter_bytes(tower))


def _load_open_clip_folder(spec: EncoderSpec, request: LoadRequest) -> _Loaded:
    """A ``hf-hub:`` or ``local-dir:`` model: ``open_clip_config.json`` holds the architecture
    (``model_cfg``) and the eval transform (``preprocess_cfg``) beside the weights file."""
    import open_clip

    source, where, revision = model_source(spec.name)
    if source == "hf-hub":
        fetch = {"revision": revision, "offline": request.offline}
        config, _ = hub_file(spec, where, [OPEN_CLIP_CONFIG], request.hf_cache, **fetch)
        if request.weights is None:
            checkpoint, provenance = hub_file(spec, where, OPEN_CLIP_WEIGHT_FILES, request.hf_cache, **fetch)
    else:
        config = folder_file(spec, Path(where).expanduser(), [OPEN_CLIP_CONFIG])
        if request.weights is None:
            checkpoint = folder_file(spec, config.parent, OPEN_CLIP_WEIGHT_FILES)
            provenance = file_provenance(checkpoint)
    if request.weights is not None:
        checkpoint, provenance = request.weights, file_provenance(request.weights)
    model_cfg = json.loads(config.read_text(encoding="utf-8")).get("model_cfg")
    if not isinstance(model_cfg, Mapping) or "embed_dim" not in model_cfg:
        raise UsageError(f"{spec.key}: {config} has no model_cfg with an embed_dim (an open_clip model config)")
    with _quiet_random_init_warning():  # the weights are loaded right below
        model = open_clip.create_model(f"local-dir:{config.parent}", load_weights=False, pretrained_text=False)
    tower_only = _load_checkpoint(spec, model, checkpoint, tower_only=request.weights is not None)
    return _Loaded(model, int(model_cfg["embed_dim"]), provenance, model_cfg.get("text_cfg") or {}, tower_only)


def _tokenizer(spec: EncoderSpec, text_cfg: Mapping[str, Any], request: LoadRequest) -> tuple[Any, str]:
    """The model's tokenizer, as ``open_clip.get_tokenizer`` picks it: open_clip's own BPE tokenizer, or
    the Hugging Face tokenizer the config names (SigLIP), fetched into the Hub cache (offline honoured)."""
    import open_clip

    context = int(text_cfg.get("context_length", 77))
    kwargs = dict(text_cfg.get("tokenizer_kwargs") or {})
    name = text_cfg.get("hf_tokenizer_name")
    if not name:
        return open_clip.SimpleTokenizer(
            context_length=context, **kwargs
        ), f"open_clip SimpleTokenizer, context {context}"
    try:
        import transformers  # noqa: F401  (open_clip's HFTokenizer imports it inside)
    except ImportError:
        raise UsageError(
            f"the text tower of {spec.key} tokenizes with the Hugging Face tokenizer {name}, which needs "
            "transformers: pip install transformers sentencepiece"
        ) from None
    from open_clip.tokenizer import HFTokenizer

    try:
        tokenize = HFTokenizer(
            name,
            context_length=context,
            cache_dir=str(request.hf_cache),
            tokenizer_mode=text_cfg.get("tokenizer_mode"),
            local_files_only=request.offline,
            **kwargs,
        )
    except OSError as error:  # not in the cache offline, not on the Hub
        raise MissingWeightsError(
            f"the tokenizer {name} of {spec.key} could not be had ({_short(error)}); run once online to cache it "
            f"in {request.hf_cache}"
        ) from None
    return tokenize, f"Hugging Face {name}, context {context}"


def _load_checkpoint(spec: EncoderSpec, model: Any, checkpoint: Path, *, tower_only: bool) -> bool:
    """Strictly load a whole-model checkpoint, or (a ``weights=FILE`` without ``visual.`` keys) the image
    tower; returns whether it was the image tower alone."""
    import open_clip

    tower_only = tower_only and _is_image_tower_file(checkpoint)
    try:
        if tower_only:
            model.visual.load_state_dict(clean_state_dict(read_state_dict(checkpoint)), strict=True)
        else:  # open_clip's loader converts the checkpoint formats it knows
            open_clip.load_checkpoint(model, str(checkpoint), strict=True)
    except (RuntimeError, AssertionError, KeyError) as error:
        what = "the image tower of " if tower_only else ""
        raise UsageError(f"{checkpoint} does not fit {what}open_clip {spec.name}: {_short(error)}") from None
    return tower_only


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


def _find_open_clip_weights(spec: EncoderSpec, cfg: Mapping[str, Any], request: LoadRequest) -> tuple[Path, str]:
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
    return hub_file(spec, repo_id, names, request.hf_cache, offline=request.offline)


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
