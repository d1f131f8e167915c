"""Folders a run writes to, checked before any work: a results folder or a cache that cannot be written
is found in the first second, not after the encoder loaded and the extraction ran."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from benchmark.errors import UsageError


def writable_folder(path: Path, option: str) -> Path:
    """``path`` as a folder this process can write into (made when missing); a UsageError naming ``option``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file, not a folder: give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".trace-bench-write-check-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise UsageError(f"{option} {path} cannot be written: {error.strerror or error}") from None
    return path
