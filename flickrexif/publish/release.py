"""Dataset release machinery that knows nothing about Flickr: shards, manifest, changelog, card, folder.

A release must be reproducible (same inputs → same bytes, so a checksum proves what was published)
and atomic (a reader never sees half a release).  The pieces here give those properties to any
dataset built from a stream of rows (FlickrExif, PairCams):

* :func:`write_split` streams rows into Parquet shards of bounded size.  Row order is the caller's;
  row groups and shards close at fixed row and byte counts, so the layout is a pure function of the
  rows.  pyarrow writes no timestamps; the only tool-dependent bytes in a file are the footer's
  ``created_by`` (``parquet-cpp-arrow version X``) and the codec output, both fixed for a given
  pyarrow build — the versions are recorded in the manifest, and identity is promised for the same
  library versions.  Already-compressed payloads (JPEG bytes) are stored uncompressed, without
  dictionary or statistics: compressing them again costs CPU and saves nothing.
* :func:`write_manifest` lists every file with its size and sha256; :func:`verify_manifest` checks it.
* :func:`write_changelog` prepends this version's entry to the previous release's changelog.
* :func:`render_card` renders a dataset card: YAML front matter (``configs``, ``dataset_info``) + body.
* :func:`atomic_folder` builds into a hidden sibling folder and renames it into place at the end, so
  an interrupted build leaves the previous state untouched (the hidden leftover is removed by the
  next build).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

MANIFEST_NAME = "manifest.json"
CHANGELOG_NAME = "CHANGELOG.md"
CARD_NAME = "README.md"
SPLITS = ("train", "validation", "test")
_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_PARTIAL = ".partial-"


class ReleaseError(Exception):
    """A release cannot be made as asked (bad version, existing release, corrupt files)."""


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.2.0"`` → ``(1, 2, 0)``; a leading ``v`` is accepted; anything else is a ReleaseError."""
    match = _VERSION.match(text[1:] if text.startswith("v") else text)
    if match is None:
        raise ReleaseError(f"version {text!r} is not of the form X.Y.Z (e.g. 1.0.0)")
    return int(match[1]), int(match[2]), int(match[3])


def release_name(version: str) -> str:
    """The folder and Hub tag of a version: ``"1.2.0"`` → ``"v1.2.0"``."""
    return "v{}.{}.{}".format(*parse_version(version))


# --- Parquet shards --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParquetLayout:
    """How rows are cut into row groups and shards; every limit is a count, so layout is deterministic.

    A row group closes after ``rows_per_row_group`` rows or once it holds ``max_row_group_bytes``
    (what a reader holds in memory at once); a shard closes before a row group that would take it
    past ``max_shard_bytes`` or ``max_shard_rows``.  ``raw_columns`` are Parquet leaf paths
    (``"image.bytes"``) holding already-compressed data.
    """

    rows_per_row_group: int = 100
    max_row_group_bytes: int = 64 << 20
    max_shard_bytes: int = 500 << 20
    max_shard_rows: int | None = None
    compression: str = "zstd"
    compression_level: int = 3
    raw_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.rows_per_row_group < 1 or self.max_row_group_bytes < 1 or self.max_shard_bytes < 1:
            raise ValueError("row group and shard limits must be positive")
        if self.max_shard_rows is not None and self.max_shard_rows < 1:
            raise ValueError("max_shard_rows must be positive")


@dataclass(frozen=True)
class SplitFiles:
    """What :func:`write_split` wrote: shard paths relative to the dataset root, rows and Arrow bytes."""

    split: str
    paths: tuple[str, ...]
    num_examples: int
    num_bytes: int


def leaf_paths(schema: pa.Schema) -> list[str]:
    """Parquet column paths of a schema's leaves: ``image.bytes``, ``tags.list.element``."""

    def walk(prefix: str, kind: pa.DataType) -> Iterator[str]:
        if pa.types.is_struct(kind):
            for index in range(kind.num_fields):
                child = kind.field(index)
                yield from walk(f"{prefix}.{child.name}", child.type)
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            yield from walk(f"{prefix}.list.element", kind.value_type)
        else:
            yield prefix

    return [path for field in schema for path in walk(field.name, field.type)]


def estimate_row_bytes(value: Any) -> int:
    """A cheap size estimate of one row (bytes and strings by length), for the byte limits."""
    if isinstance(value, (bytes, bytearray, str)):
        return len(value)
    if isinstance(value, Mapping):
        return sum(estimate_row_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(estimate_row_bytes(v) for v in value)
    return 8


def _writer(path: Path, schema: pa.Schema, layout: ParquetLayout) -> pq.ParquetWriter:
    leaves = leaf_paths(schema)
    raw = set(layout.raw_columns)
    unknown = raw - set(leaves)
    if unknown:
        raise ValueError(f"raw_columns {sorted(unknown)} are not columns of the schema ({leaves})")
    return pq.ParquetWriter(
        path,
        schema,
        version="2.6",
        compression={leaf: ("none" if leaf in raw else layout.compression) for leaf in leaves},
        compression_level={leaf: layout.compression_level for leaf in leaves if leaf not in raw} or None,
        use_dictionary=[leaf for leaf in leaves if leaf not in raw],
        write_statistics=[leaf for leaf in leaves if leaf not in raw],
        store_schema=True,
        write_page_index=False,
    )


def write_split(
    rows: Iterable[Mapping[str, Any]],
    schema: pa.Schema,
    root: Path,
    folder: str,
    split: str,
    layout: ParquetLayout,
    *,
    row_bytes: Callable[[Mapping[str, Any]], int] = estimate_row_bytes,
    on_row_group: Callable[[int], None] | None = None,
) -> SplitFiles:
    """Stream ``rows`` into ``root/folder/{split}-NNNNN-of-MMMMM.parquet``; memory is one row group.

    ``schema`` should carry the ``datasets`` features in its metadata (``Features.arrow_schema``)
    so readers get typed columns.  A split without rows still gets one (empty) shard, so every
    split a card names has a file.  ``on_row_group`` is called with the rows written so far.
    """
    target = root / folder
    target.mkdir(parents=True, exist_ok=True)
    shards: list[Path] = []
    writer: pq.ParquetWriter | None = None
    shard_bytes = shard_rows = total_rows = arrow_bytes = 0
    group: list[Mapping[str, Any]] = []
    group_bytes = 0

    def open_shard() -> pq.ParquetWriter:
        path = target / f".{split}-{len(shards):05d}.parquet.tmp"
        shards.append(path)
        return _writer(path, schema, layout)

    def flush() -> None:
        nonlocal writer, shard_bytes, shard_rows, total_rows, arrow_bytes, group, group_bytes
        full = (shard_bytes + group_bytes > layout.max_shard_bytes) or (
            layout.max_shard_rows is not None and shard_rows + len(group) > layout.max_shard_rows
        )
        if writer is not None and shard_rows and full:
            writer.close()
            writer = None
        if writer is None:
            writer = open_shard()
            shard_bytes = shard_rows = 0
        table = pa.Table.from_pylist(group, schema=schema)
        writer.write_table(table, row_group_size=len(group))
        arrow_bytes += table.nbytes
        shard_bytes += group_bytes
        shard_rows += len(group)
        total_rows += len(group)
        group, group_bytes = [], 0
        if on_row_group is not None:
            on_row_group(total_rows)

    try:
        for row in rows:
            group.append(row)
            group_bytes += row_bytes(row)
            if len(group) >= layout.rows_per_row_group or group_bytes >= layout.max_row_group_bytes:
                flush()
        if group:
            flush()
        if writer is None:  # no rows at all: one empty shard with the schema
            writer = open_shard()
            writer.write_table(schema.empty_table())
        writer.close()
        writer = None
    finally:
        if writer is not None:
            writer.close()
    final = []
    for index, path in enumerate(shards):
        name = f"{split}-{index:05d}-of-{len(shards):05d}.parquet"
        os.replace(path, target / name)
        final.append(f"{folder}/{name}")
    return SplitFiles(split, tuple(final), total_rows, arrow_bytes)


# --- manifest and changelog ------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.relative_to(folder).as_posix())


def write_manifest(folder: Path, *, name: str, version: str, extra: Mapping[str, Any] | None = None) -> dict:
    """Write ``manifest.json``: every other file under ``folder`` with size and sha256, sorted by path."""
    files = [
        {"path": path.relative_to(folder).as_posix(), "size": path.stat().st_size, "sha256": sha256_file(path)}
        for path in _files(folder)
        if path.relative_to(folder).as_posix() != MANIFEST_NAME
    ]
    manifest = {"name": name, "version": version, **(extra or {}), "files": files}
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise ReleaseError(f"{folder} is not a release: it has no {MANIFEST_NAME}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ReleaseError(f"{path} is not valid JSON: {error}") from None


def verify_manifest(folder: Path) -> list[str]:
    """Problems found comparing ``folder`` with its manifest (missing, changed or unlisted files)."""
    manifest = read_manifest(folder)
    problems = []
    listed = {entry["path"]: entry for entry in manifest["files"]}
    for relative, entry in listed.items():
        path = folder / relative
        if not path.is_file():
            problems.append(f"{relative}: missing")
        elif path.stat().st_size != entry["size"] or sha256_file(path) != entry["sha256"]:
            problems.append(f"{relative}: content differs from the manifest")
    for path in _files(folder):
        relative = path.relative_to(folder).as_posix()
        if relative != MANIFEST_NAME and relative not in listed:
            problems.append(f"{relative}: not in the manifest")
    return problems


def changelog_entry(version: str, date: str, lines: Sequence[str]) -> str:
    """One version's section: ``## v1.2.0 (data as of 2024-05-01)`` and a bullet per line."""
    bullets = "".join(f"- {line}\n" for line in lines)
    return f"## {release_name(version)} (data as of {date})\n\n{bullets}"


def write_changelog(folder: Path, entry: str, previous: Path | None) -> None:
    """``CHANGELOG.md`` = this entry followed by the previous release's entries (newest first)."""
    older = ""
    if previous is not None and (previous / CHANGELOG_NAME).is_file():
        text = (previous / CHANGELOG_NAME).read_text(encoding="utf-8")
        start = text.find("\n## ")
        older = "\n" + text[start + 1 :] if start >= 0 else ""
    (folder / CHANGELOG_NAME).write_text(f"# Changelog\n\n{entry}{older}", encoding="utf-8")


def releases(root: Path) -> list[tuple[tuple[int, int, int], Path]]:
    """Finished releases under ``root`` (folders ``vX.Y.Z``), oldest first; partial ones are ignored."""
    found = []
    if root.is_dir():
        for path in root.iterdir():
            if path.is_dir() and _VERSION.match(path.name[1:]) and path.name.startswith("v"):
                found.append((parse_version(path.name), path))
    return sorted(found)


def previous_release(root: Path, version: str) -> Path | None:
    """The newest finished release older than ``version``, whose changelog this one extends."""
    wanted = parse_version(version)
    older = [path for number, path in releases(root) if number < wanted]
    return older[-1] if older else None


# --- dataset card ----------------------------------------------------------------------------------


def size_category(count: int) -> str:
    """The Hub's ``size_categories`` value for ``count`` examples."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]
    return next((name for bound, name in bounds if count < bound), "100M<n<1B")


def config_yaml(config_name: str, splits: Sequence[SplitFiles], *, default: bool = False) -> dict:
    """A ``configs`` entry listing each split's shard files explicitly (no globs to go stale)."""
    entry: dict[str, Any] = {"config_name": config_name}
    if default:
        entry["default"] = True
    entry["data_files"] = [{"split": s.split, "path": list(s.paths)} for s in splits]
    return entry


def dataset_info_yaml(config_name: str, features: Any, splits: Sequence[SplitFiles]) -> dict:
    """A ``dataset_info`` entry: the ``datasets.Features`` and each split's size, as the Hub writes it."""
    return {
        "config_name": config_name,
        "features": features._to_yaml_list(),
        "splits": [{"name": s.split, "num_bytes": s.num_bytes, "num_examples": s.num_examples} for s in splits],
        "dataset_size": sum(s.num_bytes for s in splits),
    }


def render_card(metadata: Mapping[str, Any], body: str) -> str:
    """A card: YAML front matter (key order kept, deterministic) then the Markdown body."""
    front = yaml.safe_dump(dict(metadata), sort_keys=False, allow_unicode=True, width=1000, default_flow_style=False)
    return f"---\n{front}---\n\n{body.rstrip()}\n"


# --- atomic folders --------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(parent: Path) -> list[Path]:
    """Delete hidden ``.NAME.partial-PID`` folders whose process is gone (killed earlier builds)."""
    removed = []
    if not parent.is_dir():
        return removed
    for path in parent.iterdir():
        name = path.name
        if path.is_dir() and name.startswith(".") and _PARTIAL in name:
            pid = name.rsplit(_PARTIAL, 1)[1]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def _fsync_tree(folder: Path) -> None:
    for path in [*_files(folder)]:
        with path.open("rb") as file:
            os.fsync(file.fileno())
    for directory in sorted({p.parent for p in _files(folder)} | {folder}, key=lambda p: len(p.parts), reverse=True):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextmanager
def atomic_folder(final: Path) -> Iterator[Path]:
    """Yield a hidden sibling of ``final`` to write into; rename it to ``final`` when the block ends.

    ``final`` must not exist.  On an exception the partial folder is deleted; after a kill it stays
    hidden (``.NAME.partial-PID``) and the next call removes it.  Files are fsynced before the
    rename, so after the rename the folder is complete even across a power cut.
    """
    final = Path(final)
    if final.exists():
        raise ReleaseError(f"{final} already exists; releases are immutable (choose a new version or folder)")
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final.parent)
    partial = final.parent / f".{final.name}{_PARTIAL}{os.getpid()}"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir()
    try:
        yield partial
        _fsync_tree(partial)
        os.rename(partial, final)  # fails if someone else created `final` meanwhile
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    descriptor = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
