"""Parquet shards: bounded shards and row groups, raw (uncompressed) image bytes, empty splits."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from flickrexif.publish.parquet import ParquetLayout, write_split


def test_write_split_bounds_shards_and_row_groups(tmp_path):
    schema = pa.schema([("id", pa.int64()), ("blob", pa.binary())])
    rows = [{"id": i, "blob": bytes([i]) * 100} for i in range(10)]
    layout = ParquetLayout(rows_per_row_group=2, max_shard_bytes=10_000, max_shard_rows=4, raw_columns=("blob",))
    files = write_split(iter(rows), schema, tmp_path, "data/x", "train", layout)
    assert files.paths == tuple(f"data/x/train-{i:05d}-of-00003.parquet" for i in range(3))
    assert files.num_examples == 10
    shards = [pq.ParquetFile(tmp_path / p) for p in files.paths]
    assert [s.metadata.num_rows for s in shards] == [4, 4, 2]
    assert all(s.metadata.row_group(i).num_rows <= 2 for s in shards for i in range(s.metadata.num_row_groups))
    blob = shards[0].metadata.row_group(0).column(1)
    assert blob.compression == "UNCOMPRESSED" and not blob.is_stats_set
    assert pq.read_table(tmp_path / "data/x").sort_by("id").column("id").to_pylist() == list(range(10))
    by_bytes = write_split(
        iter(rows), schema, tmp_path, "data/y", "train", ParquetLayout(rows_per_row_group=1, max_shard_bytes=250)
    )
    assert len(by_bytes.paths) == 5  # two ~108-byte rows per 250-byte shard
    empty = write_split(iter([]), schema, tmp_path, "data/z", "test", layout)
    assert empty.num_examples == 0 and pq.read_table(tmp_path / empty.paths[0]).num_rows == 0
    assert not list(tmp_path.rglob("*.tmp"))
