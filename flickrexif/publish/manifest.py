"""Versions, manifest and changelog of a release folder: what proves a release is what it claims.

* :func:`release_name` turns ``1.2.0`` into the folder and Hub tag ``v1.2.0``;
* :func:`write_manifest` lists every file with its size and sha256; :func:`verify_manifest` checks it;
* :func:`write_changelog` prepends this version's entry to the previous release's changelog.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
CHANGELOG_NAME = "CHANGELOG.md"
_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


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


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dataset_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.relative_to(folder).as_posix())


def write_manifest(folder: Path, *, name: str, version: str, extra: Mapping[str, Any] | None = None) -> dict:
    """Write ``manifest.json``: every other file under ``folder`` with size and sha256, sorted by path."""
    files = [
        {"path": path.relative_to(folder).as_posix(), "size": path.stat().st_size, "sha256": sha256_file(path)}
        for path in dataset_files(folder)
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
    for path in dataset_files(folder):
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
