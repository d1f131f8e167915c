"""The embedding cache: safetensors files named by the hash of everything that produced them.

One file per (encoder, weights, preprocessing, dataset, split, variant, seed where it matters,
precision): changing any setting never reuses stale features.  Each file carries the image ids and
a provenance record in its metadata.  Files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from benchmark.embeddings.variants import Variant
from benchmark.sources.imageset import ImageSet

CACHE_FORMAT = 1


@dataclass(frozen=True)
class Embeddings:
    ids: list[str]
    vectors: torch.Tensor  # (N, D) float32, as the encoder produced them (not normalised)
    provenance: dict[str, Any]


class EmbeddingCache:
    """Folder of safetensors files named by the hash of everything that produced them."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def key(
        self,
        encoder_description: dict,
        image_set: ImageSet,
        split: str,
        variant: Variant,
        seed: int,
        precision: str = "float32",
    ) -> dict:
        """What an embedding file depends on; float32 keys are as before precision was recorded."""
        return {
            "format": CACHE_FORMAT,
            "encoder": encoder_description,
            "dataset": {
                "name": image_set.name,
                "fingerprint": image_set.fingerprint,
                "exif_orientation": image_set.exif_orientation,
            },
            "split": split,
            "variant": variant.describe(),
            "seed": seed if variant.uses_seed else None,
        } | ({} if precision == "float32" else {"precision": precision})

    def path(self, key: dict) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
        return self.root / digest[:2] / f"{digest}.safetensors"

    def load(self, key: dict) -> Embeddings | None:
        path = self.path(key)
        if not path.is_file():
            return None
        return read_embeddings(path)

    def partial_dir(self, key: dict) -> Path:
        return self.path(key).with_suffix(".partial")


def read_embeddings(path: Path) -> Embeddings:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path))
    return Embeddings(
        ids=json.loads(metadata["ids"]), vectors=tensors["embeddings"], provenance=json.loads(metadata["provenance"])
    )


def write_embeddings(path: Path, ids: Sequence[str], vectors: torch.Tensor, provenance: dict) -> None:
    """Write atomically: a killed process leaves the old file or none, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    save_file(
        {"embeddings": vectors.contiguous()},
        str(temporary),
        metadata={"ids": json.dumps(list(ids)), "provenance": json.dumps(provenance, sort_keys=True)},
    )
    os.replace(temporary, path)


def chunk_path(cache: EmbeddingCache, key: dict, index: int) -> Path:
    return cache.partial_dir(key) / f"chunk-{index:06d}.safetensors"
