"""The embedding cache: safetensors files named by the hash of everything that produced them.

One file per (encoder, weights, preprocessing, dataset, split, variant, seed where it matters,
precision): changing any setting never reuses stale features.  Each file carries the image ids, the
images that could not be read (with why) and a provenance record in its metadata.

Files are published atomically (a temporary file of this process, then a rename), so a killed run
or two runs on one cache never leave half a file; a file that does not read (a disk that filled, a
copy cut short) is named, moved aside and computed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from benchmark.embeddings.variants import Variant
from benchmark.errors import UsageError
from benchmark.sources.imageset import ImageSet

CACHE_FORMAT = 1


logger = logging.getLogger(__name__)


class UnreadableCacheFile(UsageError):
    """A cache file that does not read as one this cache wrote."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass(frozen=True)
class Embeddings:
    ids: list[str]
    vectors: torch.Tensor  # (N, D) float32, as the encoder produced them (not normalised)
    provenance: dict[str, Any]

    @property
    def failed(self) -> dict[str, str]:
        """Image id -> why it could not be read: left out of ``ids`` and ``vectors``."""
        return dict(self.provenance.get("failed") or {})


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
        """The cached embeddings of ``key``, or None when there are none (or they did not read)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return read_embeddings(path)
        except UnreadableCacheFile as error:
            set_aside(path, error.reason)
            return None

    def partial_dir(self, key: dict) -> Path:
        return self.path(key).with_suffix(".partial")


def read_embeddings(path: Path) -> Embeddings:
    """The embeddings of a cache file; :class:`UnreadableCacheFile` naming it when it does not read."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
        found = Embeddings(
            ids=json.loads(metadata["ids"]),
            vectors=tensors["embeddings"],
            provenance=json.loads(metadata.get("provenance") or "{}"),
        )
    except Exception as error:  # truncated, not safetensors, another file: all mean "compute again"
        raise UnreadableCacheFile(path, (str(error) or type(error).__name__).splitlines()[0]) from None
    if found.vectors.ndim != 2 or len(found.ids) != found.vectors.shape[0]:
        raise UnreadableCacheFile(path, f"{len(found.ids)} ids for embeddings of shape {tuple(found.vectors.shape)}")
    return found


def set_aside(path: Path, why: str) -> Path:
    """Move a file that does not read out of the way (beside it, for a look), saying so."""
    aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):  # another run moved or replaced it already
        os.replace(path, aside)
        logger.warning("cache file %s does not read (%s): moved to %s and computed again", path, why, aside.name)
    return aside


def write_embeddings(path: Path, ids: Sequence[str], vectors: torch.Tensor, provenance: dict) -> None:
    """Write atomically: a killed process leaves the old file or none, never half of one; two runs
    writing the same file each write their own temporary file and the last rename wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        save_file(
            {"embeddings": vectors.contiguous()},
            str(temporary),
            metadata={"ids": json.dumps(list(ids)), "provenance": json.dumps(provenance, sort_keys=True)},
        )
        os.replace(temporary, path)
    except Exception as error:  # a full disk, a cache on a read-only mount: the user's to mend
        if isinstance(error, OSError) or "os error" in str(error).lower():  # safetensors' own I/O error
            why = (str(error) or type(error).__name__).splitlines()[0]
            raise UsageError(
                f"cannot write the cache file {path}: {why} (free some space, or give --cache elsewhere)"
            ) from None
        raise
    finally:
        temporary.unlink(missing_ok=True)


def chunk_path(cache: EmbeddingCache, key: dict, index: int) -> Path:
    return cache.partial_dir(key) / f"chunk-{index:06d}.safetensors"
