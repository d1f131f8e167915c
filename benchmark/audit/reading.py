"""The metadata of every image of a labelled set, read once and cached.

:func:`read_metadata` reads each image's header (:func:`benchmark.audit.metadata.image_metadata`) and
keeps the result in a JSON file named by the image set's fingerprint (which changes with its images and
labels), so an audit run again, with another encoder or more permutations, reads no image twice.  An
image whose header cannot be read is counted and named, never fatal; so is an image without a class.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmark.audit.metadata import AUDIT_ATTRIBUTES, UNKNOWN, image_metadata
from benchmark.errors import UsageError
from benchmark.imaging.processing import UnreadableImage
from benchmark.sources.imageset import ImageSet

CACHE_FORMAT = "trace-bench audit metadata 1"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SetMetadata:
    """What the files of a labelled set say: one row per image whose header reads and that has a class."""

    ids: tuple[str, ...]
    labels: tuple[int, ...]  # class index per image
    values: dict[str, tuple[str, ...]]  # attribute -> value per image (UNKNOWN where the file does not say)
    unreadable: dict[str, str]  # image id -> why its header does not read
    unlabelled: tuple[str, ...] = ()  # images without a class (a missing label): left out

    def __len__(self) -> int:
        return len(self.ids)

    def known(self, attribute: str) -> int:
        """Images whose file gives ``attribute`` a value."""
        return sum(value != UNKNOWN for value in self.values[attribute])


def cache_file(folder: Path, image_set: ImageSet) -> Path:
    return folder / f"metadata-{image_set.fingerprint or 'unfingerprinted'}.json"


def read_metadata(
    image_set: ImageSet, cache: Path | None = None, on_image: Callable[[int], None] | None = None
) -> SetMetadata:
    """Every image's metadata, from ``cache`` (a folder) where it was read before, else from the files."""
    path = cache_file(cache, image_set) if cache is not None else None
    found = _cached(path) if path is not None and image_set.fingerprint else {}
    fresh = False
    for item in image_set.items:
        if item.id not in found:
            found[item.id] = _read_one(item.read)
            fresh = True
        if on_image:
            on_image(1)
    if fresh and path is not None and image_set.fingerprint:
        _write(path, image_set, found)
    ids, labels, unreadable, unlabelled = [], [], {}, []
    rows = []
    for item in image_set.items:
        entry = found[item.id]
        if "error" in entry:
            unreadable[item.id] = entry["error"]
        elif item.label is None:
            unlabelled.append(item.id)
        else:
            ids.append(item.id)
            labels.append(int(item.label))
            rows.append(entry["values"])
    if not ids:
        first = "; ".join(f"{name}: {why}" for name, why in list(unreadable.items())[:3])
        raise UsageError(f"none of the {len(image_set.items)} images of {image_set.name} can be read: {first}")
    values = {name: tuple(row.get(name) or UNKNOWN for row in rows) for name in AUDIT_ATTRIBUTES}
    return SetMetadata(tuple(ids), tuple(labels), values, unreadable, tuple(unlabelled))


def _read_one(read: Callable[[], bytes]) -> dict:
    try:
        return {"values": image_metadata(read())}
    except UnreadableImage as error:
        return {"error": str(error)}
    except OSError as error:  # the file went away or cannot be opened: counted like an unreadable header
        return {"error": (error.strerror or str(error) or type(error).__name__).lower()}


def _cached(path: Path) -> dict[str, dict]:
    """The rows a cache file holds; nothing when there is none or it does not read (it is rewritten)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        if data.get("format") != CACHE_FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        return dict(data["items"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        logger.warning("metadata cache %s does not read (%s): the images are read again", path, error)
        return {}


def _write(path: Path, image_set: ImageSet, rows: dict[str, dict]) -> None:
    """Atomically (a temporary file, then a rename): a killed run leaves the old file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    record = {"format": CACHE_FORMAT, "dataset": image_set.name, "fingerprint": image_set.fingerprint, "items": rows}
    try:
        temporary.write_text(json.dumps(record))
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
