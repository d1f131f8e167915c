"""The ``timm`` family: ``timm:NAME``, a timm model with its pretrained tag, or any timm model folder.

E.g. ``timm:vit_base_patch16_siglip_256.webli``; the embedding is the pooled feature vector
(``num_classes=0``). Any timm model a researcher has works too, named with timm's own prefixes:
``timm:hf-hub:ORG/REPO[@REVISION]`` (a Hub repository with ``config.json`` and ``model.safetensors``,
as ``timm``'s ``push_to_hf_hub`` writes) or ``timm:local-dir:FOLDER`` (the same files on disk).
Weights are downloaded on first use (:mod:`.weights.hub`, :mod:`.weights.urls`). Also the timm
helpers that the ``random`` family shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.encoders.factory import Built, LoadRequest, Shape, parameter_bytes, preprocess_overrides
from benchmark.encoders.registry import EncoderSpec, register_family, register_shape, suggest
from benchmark.encoders.weights.files import MissingWeightsError, file_provenance, load_file_into
from benchmark.encoders.weights.hub import SOURCE_PATTERN, folder_file, hub_file, model_source
from benchmark.encoders.weights.urls import checkpoints_dir, url_file
from benchmark.errors import UsageError

if TYPE_CHECKING:
    import torch

    from benchmark.imaging.preprocess import Preprocess

TIMM_NAME = r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)?$"  # architecture, optionally .TAG
TIMM_EXPECTED = "a timm model name, e.g. timm:resnet50.tv_in1k"
# timm's order of preference among a model folder's weight files
TIMM_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "pytorch_model.pth", "model.pth")


@register_family(
    "timm",
    key_form="timm:MODEL.TAG",
    name_pattern=f"^({TIMM_NAME[1:-1]}|{SOURCE_PATTERN})$",
    expected=f"{TIMM_EXPECTED}, timm:hf-hub:ORG/REPO[@REVISION] or timm:local-dir:FOLDER",
)
def _load_timm(spec: EncoderSpec, request: LoadRequest) -> Built:
    import timm
    from timm.models import get_pretrained_cfg

    kwargs, overlay = _arguments(spec)
    if model_source(spec.name)[0]:
        model, provenance = _load_timm_folder(spec, request, overlay, kwargs)
    elif request.weights is not None:
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
        path, provenance = _find_timm_weights(spec, pretrained_cfg.to_dict(), request)
        model = timm.create_model(
            spec.name, pretrained=True, pretrained_cfg_overlay={**overlay, "file": str(path)}, **kwargs
        )
    return Built(model, timm_preprocess(model, spec), timm_embed_dim(model), provenance)


def _arguments(spec: EncoderSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """``timm.create_model``'s keywords and pretrained-config overlay for ``spec``: no classifier, its input size."""
    kwargs: dict[str, Any] = {"num_classes": 0}
    overlay: dict[str, Any] = {}
    if spec.input_size:
        kwargs["img_size"] = spec.input_size
        overlay["input_size"] = (3, spec.input_size, spec.input_size)
    return kwargs, overlay


@register_shape("timm")
def timm_shape(spec: EncoderSpec) -> Shape | None:
    """The architecture built without weights (the pretrained config of its tag, as the loader's)."""
    import timm

    if model_source(spec.name)[0]:
        return None  # the architecture is in the folder's config.json
    check_timm_name(spec.name)
    kwargs, overlay = _arguments(spec)
    model = timm.create_model(spec.name, pretrained=False, pretrained_cfg_overlay=overlay or None, **kwargs)
    return Shape(timm_preprocess(model, spec), timm_embed_dim(model), parameter_bytes(model))


def _load_timm_folder(
    spec: EncoderSpec, request: LoadRequest, overlay: dict[str, Any], kwargs: dict[str, Any]
) -> tuple[torch.nn.Module, str]:
    """A ``hf-hub:`` or ``local-dir:`` model: its ``config.json`` names the architecture, and timm
    loads the weights from the folder (a Hub repository's cache snapshot, or the local folder)."""
    import timm

    source, where, revision = model_source(spec.name)
    wanted = request.weights is None
    if source == "hf-hub":
        fetch = {"revision": revision, "offline": request.offline}
        config, _ = hub_file(spec, where, ["config.json"], request.hf_cache, **fetch)
        if wanted:
            _, provenance = hub_file(spec, where, TIMM_WEIGHT_FILES, request.hf_cache, **fetch)
    else:
        config = folder_file(spec, Path(where).expanduser(), ["config.json"])
        if wanted:
            provenance = file_provenance(folder_file(spec, config.parent, TIMM_WEIGHT_FILES))
    try:
        model = timm.create_model(
            f"local-dir:{config.parent}", pretrained=wanted, pretrained_cfg_overlay=overlay or None, **kwargs
        )
    except RuntimeError as error:  # an architecture timm does not know, weights that do not fit
        raise UsageError(f"{spec.key}: {str(error).splitlines()[0]}") from None
    if not wanted:
        load_file_into(model, request.weights)
        provenance = file_provenance(request.weights)
    return model, provenance


def check_timm_name(name: str) -> None:
    """A ``UsageError`` with close matches unless timm knows the architecture of ``name``."""
    import timm

    architecture = name.partition(".")[0]
    if not timm.is_model(architecture):
        raise UsageError(f"timm has no model {architecture!r}{suggest(architecture, timm.list_models())}")


def timm_preprocess(model: torch.nn.Module, spec: EncoderSpec) -> Preprocess:
    """The eval transform of a timm model's data config, with the spec's overrides."""
    from timm.data import resolve_data_config

    from benchmark.imaging.preprocess import Preprocess

    return Preprocess.from_timm_config(resolve_data_config(model=model), **preprocess_overrides(spec))


def timm_embed_dim(model: torch.nn.Module) -> int:
    """The width of a timm model's pooled output (``num_classes=0``)."""
    return int(getattr(model, "head_hidden_size", None) or model.num_features)


def _find_timm_weights(spec: EncoderSpec, cfg: Mapping[str, Any], request: LoadRequest) -> tuple[Path, str]:
    """The weights of a timm pretrained tag: its Hub repository's file, else its URL's."""
    if cfg.get("file") and Path(cfg["file"]).is_file():
        return Path(cfg["file"]), file_provenance(Path(cfg["file"]))
    url = cfg.get("url")
    if hub_id := cfg.get("hf_hub_id"):
        repo_id, _, revision = hub_id.partition("@")
        if filename := cfg.get("hf_hub_filename"):
            names = [filename[:-4] + ".safetensors"] if filename.endswith((".bin", ".pth")) else []
            names.append(filename)
        else:
            names = ["model.safetensors", "pytorch_model.bin"]
        try:
            return hub_file(spec, repo_id, names, request.hf_cache, revision=revision or None, offline=request.offline)
        except MissingWeightsError:
            # an older timm cached some weights from their URL: use such a file if it is here
            if url and (checkpoints_dir() / url.rsplit("/", 1)[-1]).is_file():
                return url_file(url, name=spec.key, offline=True)
            raise
    if url:
        return url_file(url, name=spec.key, offline=request.offline)
    raise MissingWeightsError(f"timm names no weights file for {spec.key}; pass weights=FILE (--weights FILE)")
