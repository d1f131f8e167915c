"""Embedding folders in the released code's own layout, read and written.

The paper's released code stores one safetensors file per (processing, encoder, split)::

    DIR/<PROCESSING>/model=<M>_variant=<V>_split=<train|val>.safetensors

with the tensors ``image_embeddings`` [N, D] and ``label`` [N] (the semantic class), train being the
kNN database and the probe's training images, val the queries and the probe's test images.
``PROCESSING`` is a name of the release's ``Processor`` enum (``JPEG75_420``, ``SHARPEN_2``, ...);
:data:`RELEASED_NAMES` maps each of our processing classes to it. A researcher brings such a folder
(``trace-bench knn --embeddings DIR``) or has ``trace-bench extract --layout released`` write one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from benchmark.errors import UsageError
from benchmark.imaging.processing import FAMILIES

SPLITS = ("train", "val")  # database / probe training, queries / probe test
_FILE = re.compile(r"^model=(?P<model>.+?)_variant=(?P<variant>.+)_split=(?P<split>train|val)\.safetensors$")

# Every non-JPEG class ends with the q95 4:4:4 re-encode, so each family's "none" is JPEG95_444.
RELEASED_NAMES: dict[tuple[str, str], str] = {
    **{("jpeg", f"q{q}-{c}"): f"JPEG{q}_{c}" for q in (75, 85, 95) for c in ("420", "444")},
    ("sharpening", "none"): "JPEG95_444",
    ("sharpening", "sharpness-x2"): "SHARPEN_2",
    ("sharpening", "sharpness-x4"): "SHARPEN_4",
    ("resizing", "none"): "JPEG95_444",
    ("resizing", "resize-x0.5"): "RESIZE_HALF",
    ("resizing", "resize-x2"): "RESIZE_DOUBLE",
    **{("interpolation", k): f"INTERPOLATION_{k.upper()}" for k in ("bilinear", "bicubic", "lanczos", "box")},
}
assert {(f, c) for f, classes in FAMILIES.items() for c in classes} == set(RELEASED_NAMES), "a class has no name"


SOURCE = "IDENTITY"  # the release's name for the unprocessed image


def released_name(family: str | None, class_name: str | None) -> str:
    """The release's ``Processor`` name of one of our processing classes (no family: the source)."""
    return SOURCE if family is None else RELEASED_NAMES[(family, class_name)]


def model_and_variant(released: str | None, key: str) -> tuple[str, str]:
    """File-name ``(model, variant)`` of an encoder: the release's own for its 47, else family and name."""
    model, _, variant = (released or key.replace(":", ",", 1)).partition(",")
    return model, variant or "default"  # a key without a family (effnet-lite0) still gets a variant


def layout_split(split: str, test_split: str) -> str | None:
    """The layout's split for one of ours: train stays train, the test split becomes val, others none."""
    return {"train": "train", test_split: "val"}.get(split)


def file_name(model: str, variant: str, split: str) -> str:
    """``model=M_variant=V_split=S.safetensors``; the release writes ``/`` in a variant as ``-``."""
    return f"model={model}_variant={variant.replace('/', '-')}_split={split}.safetensors"


@dataclass(frozen=True)
class LayoutEncoder:
    """One (model, variant) of a folder: which processing folders hold both of its splits."""

    model: str
    variant: str
    files: Mapping[str, Mapping[str, Path]] = field(default_factory=dict)  # processing -> split -> file

    @property
    def name(self) -> str:
        return f"{self.model},{self.variant}"

    def families(self) -> list[str]:
        """Our processing families whose every class has train and val files here."""
        complete = {p for p, splits in self.files.items() if set(SPLITS) <= set(splits)}
        return [f for f, classes in FAMILIES.items() if all(released_name(f, c) in complete for c in classes)]

    def missing(self, family: str) -> list[str]:
        """``PROCESSING/file`` names a family still needs, for messages."""
        return [
            f"{released_name(family, c)}/{file_name(self.model, self.variant, split)}"
            for c in FAMILIES[family]
            for split in SPLITS
            if split not in self.files.get(released_name(family, c), {})
        ]

    def load(self, family: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(embeddings [N, P, D] float32, labels [N])`` of a split under every class of ``family``;
        the files of one split must list the same images (same labels, same count)."""
        loaded = [read(self.files[released_name(family, c)][split]) for c in FAMILIES[family]]
        labels, dim = loaded[0][1], loaded[0][0].shape[1]
        for (vectors, other), class_name in zip(loaded, FAMILIES[family]):
            if vectors.shape[1] != dim:
                path = self.files[released_name(family, class_name)][split]
                raise UsageError(
                    f"{path} holds {vectors.shape[1]}-dimensional embeddings, the other {family} files {dim}"
                )
            if vectors.shape[0] != labels.shape[0] or not torch.equal(other, labels):
                path = self.files[released_name(family, class_name)][split]
                raise UsageError(
                    f"{path} does not list the same {labels.shape[0]} {split} images as the other {family} files "
                    f"(label or count differs): every processing folder must hold the same images in the same order"
                )
        return torch.stack([v for v, _ in loaded], dim=1), labels


def read(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """``(image_embeddings as float32, label as int64)`` of one released file; a file that is not one
    (not safetensors, truncated, a FIFO) is a UsageError naming it."""
    from safetensors import safe_open

    if not Path(path).is_file():
        raise UsageError(f"{path} is not a regular file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            names = set(handle.keys())
            if not {"image_embeddings", "label"} <= names:
                raise UsageError(
                    f"{path} needs the tensors image_embeddings and label (has: {', '.join(sorted(names))})"
                )
            vectors, labels = handle.get_tensor("image_embeddings").float(), handle.get_tensor("label")
    except UsageError:
        raise
    except Exception as error:  # not safetensors, truncated
        why = (str(error) or type(error).__name__).splitlines()[0]
        raise UsageError(f"{path} does not read as safetensors ({why})") from None
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise UsageError(f"{path}: label must hold integer classes, got {labels.dtype}")
    labels = labels.long()
    if vectors.ndim != 2 or labels.shape != (vectors.shape[0],) or not len(labels):
        raise UsageError(
            f"{path}: image_embeddings must be [N, D] and label [N] with N > 0, got {tuple(vectors.shape)} and "
            f"{tuple(labels.shape)}"
        )
    if not torch.isfinite(vectors).all():
        raise UsageError(f"{path}: image_embeddings contain NaN or infinite values")
    return vectors, labels


def scan(root: Path) -> list[LayoutEncoder]:
    """Every (model, variant) with files under ``root``, sorted; a ``UsageError`` when there are none."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder of embeddings")
    found: dict[tuple[str, str], dict[str, dict[str, Path]]] = {}
    for path in sorted(root.glob("*/*.safetensors")):
        if (match := _FILE.match(path.name)) and path.is_dir():
            raise UsageError(f"{path} is a folder, not an embeddings file")
        if match:
            key = (match["model"], match["variant"])
            found.setdefault(key, {}).setdefault(path.parent.name, {})[match["split"]] = path
    if not found:
        raise UsageError(
            f"no embeddings in the released layout under {root}: expected "
            f"{root}/<PROCESSING>/model=<M>_variant=<V>_split=<train|val>.safetensors"
        )
    return [LayoutEncoder(model, variant, files) for (model, variant), files in sorted(found.items())]


def write(
    root: Path, processing: str, model: str, variant: str, split: str, vectors: torch.Tensor, labels: Iterable[int]
) -> Path:
    """Write one file of the layout (atomically: a killed run leaves the old file or none)."""
    from safetensors.torch import save_file

    if split not in SPLITS:
        raise UsageError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    path = Path(root) / processing / file_name(model, variant, split)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    tensors = {
        "image_embeddings": vectors.float().contiguous(),
        "label": torch.as_tensor(list(labels), dtype=torch.long),
    }
    save_file(tensors, str(partial))
    partial.replace(path)
    return path
