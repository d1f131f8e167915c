"""Atomic folders: a failed build leaves nothing, an existing release is never overwritten."""

from __future__ import annotations

import pytest

from flickrexif.publish.folder import atomic_folder
from flickrexif.publish.manifest import ReleaseError


def test_atomic_folder_cleans_up_on_error_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "v1.0.0"
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as folder:
            (folder / "half.txt").write_text("x")
            raise RuntimeError("interrupted")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_folder(target) as folder:
        (folder / "done.txt").write_text("x")
    assert (target / "done.txt").read_text() == "x"
    with pytest.raises(ReleaseError, match="already exists"):
        with atomic_folder(target):
            pass
