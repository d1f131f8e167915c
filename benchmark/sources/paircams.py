"""PairCams: our releases (with ``camera_type`` / ``is_smartphone``) or the official one (``image``,
``subject_idx``, ``model``), each photo's camera type from the dataset's own labels."""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import replace
from functools import lru_cache
from typing import Any

from benchmark.sources.hub import hf_dataset
from benchmark.sources.imageset import ImageSet


@lru_cache(maxsize=1)
def released_paircams_models() -> dict[str, str]:
    """Model (stripped, lower-cased) → ``smartphone``/``camera`` of the official PairCams release, as the
    released code labels them (``benchmark/data/paircams_models.json``)."""
    text = importlib.resources.files("benchmark").joinpath("data", "paircams_models.json").read_text(encoding="utf-8")
    return json.loads(text)["models"]


def camera_type(extra: dict[str, Any]) -> tuple[bool | None, str]:
    """Whether a PairCams row is a smartphone photo, and where that comes from: the dataset's own labels.

    Our releases carry ``camera_type`` (and ``is_smartphone``); the official release carries only
    ``model``, labelled by the released code's table.  ``None`` when neither knows the row.
    """
    if extra.get("camera_type") in ("smartphone", "camera"):
        return extra["camera_type"] == "smartphone", "camera_type column"
    if extra.get("is_smartphone") is not None:
        return bool(extra["is_smartphone"]), "is_smartphone column"
    released = released_paircams_models().get(str(extra.get("model") or "").strip().lower())
    if released is not None:
        return released == "smartphone", "released model table"
    return None, "unknown model"


def paircams_set(source: str, revision: str | None = None, label_column: str | None = None) -> ImageSet:
    """PairCams with ``is_smartphone`` on every item from the dataset's own labels (:func:`camera_type`);
    its photos have no classes but those of a ``label_column`` the user names (``camera_type``, ``make``)."""
    image_set = hf_dataset(source, group_column="subject_idx", revision=revision, label_column=label_column)
    items = []
    for item in image_set.items:
        phone, origin = camera_type(item.extra)
        items.append(replace(item, extra={**item.extra, "is_smartphone": phone, "camera_type_from": origin}))
    if label_column is not None:
        return replace(image_set, items=tuple(items))
    return replace(image_set, items=tuple(items), class_names=None, target="subject")
