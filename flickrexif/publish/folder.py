"""Atomic release folders: a reader sees a whole release or none of it.

:func:`atomic_folder` builds into a hidden sibling folder and renames it into place at the end, so an
interrupted build leaves the previous state untouched; a killed build's hidden leftover is removed
when the next build starts, which can report it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flickrexif.publish.manifest import ReleaseError, dataset_files

_PARTIAL = ".partial-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def remove_stale_partials(parent: Path, on_removed: Callable[[Path, int], object] | None = None) -> list[Path]:
    """Delete hidden ``.NAME.partial-PID`` folders whose process is gone (killed earlier builds).

    ``on_removed(folder, bytes)`` is called for each folder removed, so a command can say so.
    Folders of a process still running (another build in progress) are left alone.
    """
    removed = []
    if not parent.is_dir():
        return removed
    for path in sorted(parent.iterdir()):
        name = path.name
        if path.is_dir() and not path.is_symlink() and name.startswith(".") and _PARTIAL in name:
            pid = name.rsplit(_PARTIAL, 1)[1]
            if pid.isdigit() and not _pid_alive(int(pid)):
                size = _size(path)
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
                if on_removed is not None:
                    on_removed(path, size)
    return removed


def _fsync_tree(folder: Path) -> None:
    for path in [*dataset_files(folder)]:
        with path.open("rb") as file:
            os.fsync(file.fileno())
    for directory in sorted(
        {p.parent for p in dataset_files(folder)} | {folder}, key=lambda p: len(p.parts), reverse=True
    ):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


@contextmanager
def atomic_folder(final: Path, on_removed: Callable[[Path, int], object] | None = None) -> Iterator[Path]:
    """Yield a hidden sibling of ``final`` to write into; rename it to ``final`` when the block ends.

    ``final`` must not exist.  On an exception the partial folder is deleted; after a kill it stays
    hidden (``.NAME.partial-PID``) and the next call removes it first (telling ``on_removed``, as
    :func:`remove_stale_partials`).  Files are fsynced before the
    rename, so after the rename the folder is complete even across a power cut.
    """
    final = Path(final)
    if final.exists():
        raise ReleaseError(f"{final} already exists; releases are immutable (choose a new version or folder)")
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final.parent, on_removed)
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
