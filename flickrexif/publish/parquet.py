"""Parquet shards any dataset release is made of: bounded, deterministic, readable by ``datasets``.

:func:`write_split` streams rows into Parquet shards of bounded size.  Row order is the caller's;
row groups and shards close at fixed row and byte counts, so the layout is a pure function of the
rows.  pyarrow writes no timestamps; the only tool-dependent bytes in a file are the footer's
``created_by`` (``parquet-cpp-arrow version X``) and the codec output, both fixed for a given
pyarrow build — the versions are recorded in the manifest, and identity is promised for the same
library versions.  Already-compressed payloads (JPEG bytes) are stored uncompressed, without
dictionary or statistics: compressing them again costs CPU and saves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


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


@dataclass(frozen=True)
class PublishedConfig:
    """One configuration as written: its name, ``datasets.Features`` and shard files per split."""

    name: str
    features: Any  # datasets.Features
    splits: tuple[SplitFiles, ...]  # in split order
    default: bool = False

    @property
    def rows(self) -> int:
        return sum(split.num_examples for split in self.splits)


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


def image_layout() -> ParquetLayout:
    """Shards of at most 500 MB, row groups of 100 photos or 64 MB; JPEG/HEIC bytes stored uncompressed."""
    return ParquetLayout(raw_columns=("image.bytes",))


def write_config(
    rows: Mapping[str, Iterable[Mapping[str, Any]]],
    features: Any,
    root: Path,
    name: str,
    folder: str,
    layout: ParquetLayout,
    *,
    default: bool = False,
    row_bytes: Callable[[Mapping[str, Any]], int] = estimate_row_bytes,
    on_row_group: Callable[[str, int], None] | None = None,
) -> PublishedConfig:
    """One configuration: each split's rows (``split → rows``, in order) into ``root/folder``.

    ``features`` is the ``datasets.Features`` of every row; its Arrow schema carries them, so readers
    get typed columns.  ``on_row_group(split, rows_so_far)`` reports progress.
    """
    schema = features.arrow_schema
    written = []
    for split, split_rows in rows.items():
        report = None if on_row_group is None else (lambda done, split=split: on_row_group(split, done))
        written.append(
            write_split(split_rows, schema, root, folder, split, layout, row_bytes=row_bytes, on_row_group=report)
        )
    return PublishedConfig(name, features, tuple(written), default)
