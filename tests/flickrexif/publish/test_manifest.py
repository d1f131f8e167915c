"""Manifest checksums, versions and changelog entries."""

from __future__ import annotations

import pytest

from flickrexif.publish.manifest import (
    ReleaseError,
    changelog_entry,
    parse_version,
    verify_manifest,
    write_changelog,
    write_manifest,
)


def test_manifest_detects_changed_missing_and_extra_files(tmp_path):
    (tmp_path / "a").write_text("a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_text("b")
    write_manifest(tmp_path, name="X", version="1.0.0")
    assert verify_manifest(tmp_path) == []
    (tmp_path / "a").write_text("changed")
    (tmp_path / "sub" / "b").unlink()
    (tmp_path / "c").write_text("c")
    assert sorted(verify_manifest(tmp_path)) == [
        "a: content differs from the manifest",
        "c: not in the manifest",
        "sub/b: missing",
    ]


def test_versions_and_changelog_entries(tmp_path):
    assert parse_version("v1.2.3") == (1, 2, 3)
    for bad in ("1.2", "01.2.3", "1.2.3-rc1", "latest"):
        with pytest.raises(ReleaseError):
            parse_version(bad)
    old = tmp_path / "old"
    old.mkdir()
    write_changelog(old, changelog_entry("1.0.0", "2024-01-01", ["first"]), None)
    new = tmp_path / "new"
    new.mkdir()
    write_changelog(new, changelog_entry("1.1.0", "2024-02-01", ["second"]), old)
    assert (new / "CHANGELOG.md").read_text() == (
        "# Changelog\n\n## v1.1.0 (data as of 2024-02-01)\n\n- second\n\n## v1.0.0 (data as of 2024-01-01)\n\n- first\n"
    )
