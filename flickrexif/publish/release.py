"""The one release sequence, for any dataset that implements :class:`ReleasableDataset`.

A release must be reproducible (same inputs → same bytes, so a checksum proves what was published)
and atomic (a reader never sees half a release).  FlickrExif and PairCams differ in what they write
(their configurations, rows and card); the order of the steps and the files around the data are
the same, and live here once:

1. the version is checked and its folder must not exist (a published version is immutable);
2. everything is written into a hidden sibling folder (:func:`~flickrexif.publish.folder.atomic_folder`):
   the dataset's data, its card (``README.md``) and ``build_info.json``;
3. a release adds ``CHANGELOG.md`` (this version's entry on top of the previous release's) and
   ``manifest.json`` (every file's sha256, and the versions of the libraries whose bytes it holds);
4. the folder is renamed into place.

:func:`write_dataset` is steps 2 and 4 alone, for an unversioned build folder.
"""

from __future__ import annotations

import importlib.metadata
import json
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from flickrexif.publish.card import CARD_NAME
from flickrexif.publish.folder import atomic_folder
from flickrexif.publish.manifest import (
    ReleaseError,
    changelog_entry,
    previous_release,
    release_name,
    write_changelog,
    write_manifest,
)
from flickrexif.publish.parquet import PublishedConfig

BUILD_INFO_NAME = "build_info.json"
# Pillow's warnings about Exif it cannot read whole (PIL.TiffImagePlugin, PIL.Image): noise in a release.
_PILLOW_EXIF_WARNINGS = (
    r"Corrupt EXIF data",
    r"Possibly corrupt EXIF",
    r"Tag data larger than file",
    r"Tag offset too large",
    r"Metadata Warning, tag",
)
#: Libraries whose output bytes every release depends on; a dataset adds its own (pillow-heif, ...).
RELEASE_PACKAGES = ("flickrexif", "pyarrow", "datasets", "pillow")

__all__ = [
    "BUILD_INFO_NAME",
    "DatasetContents",
    "PublishedConfig",
    "ReleasableDataset",
    "ReleaseError",
    "ReleaseResult",
    "release",
    "tool_versions",
    "write_dataset",
]


@dataclass(frozen=True)
class DatasetContents:
    """What a dataset wrote into a folder, and what the files around it say about it."""

    configs: tuple[PublishedConfig, ...]  # the configurations the card lists
    build_info: Mapping[str, Any]  # everything that decided the content (no timings, no paths)
    data_as_of: str  # a date that depends on the data only, so rebuilds agree
    manifest: Mapping[str, Any] = field(default_factory=dict)  # extra manifest fields (counts, seed)
    details: Any = None  # the dataset's own account of the build, for its command line


class ReleasableDataset(Protocol):
    """A dataset the release sequence can publish (FlickrExif, PairCams)."""

    name: str  # the manifest's and the card's name
    packages: tuple[str, ...]  # further libraries whose output bytes the files depend on

    def write_data(self, folder: Path) -> DatasetContents:
        """Write every configuration's shards (with :func:`~flickrexif.publish.parquet.write_config`)
        and any files of the dataset's own (split lists) into ``folder``."""
        ...

    def card(self, contents: DatasetContents, version: str | None) -> str:
        """The whole ``README.md`` (``version`` is ``None`` for an unversioned build)."""
        ...

    def changelog_lines(self, contents: DatasetContents, previous: Path | None) -> list[str]:
        """This version's changelog lines after the release notes; ``previous`` is the last release."""
        ...


@dataclass(frozen=True)
class ReleaseResult:
    path: Path
    version: str
    contents: DatasetContents
    manifest: Mapping[str, Any]


def tool_versions(packages: Sequence[str]) -> dict[str, str]:
    """Installed versions of ``packages`` (``"unknown"`` when one is not installed)."""
    versions = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


@contextmanager
def quiet_pillow_exif() -> Iterator[None]:
    """Silence Pillow's "Corrupt EXIF data" warnings (and its kin) while photos are read.

    Every photo with an Exif block Pillow cannot fully parse warns, and a release reads thousands;
    what such a block means for the photo is decided (and recorded) by the code reading it.
    """
    with warnings.catch_warnings():
        for message in _PILLOW_EXIF_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


def _write_contents(dataset: ReleasableDataset, folder: Path, version: str | None) -> DatasetContents:
    with quiet_pillow_exif():
        contents = dataset.write_data(folder)
    (folder / CARD_NAME).write_text(dataset.card(contents, version), encoding="utf-8")
    info = json.dumps(contents.build_info, indent=2, sort_keys=True) + "\n"
    (folder / BUILD_INFO_NAME).write_text(info, encoding="utf-8")
    return contents


def write_dataset(
    dataset: ReleasableDataset, out_dir: Path, on_removed: Callable[[Path, int], object] | None = None
) -> DatasetContents:
    """Write the dataset into ``out_dir`` (which must not exist): data, card, build info; atomic.

    ``on_removed(folder, bytes)`` hears of each killed build's leftover removed first.
    """
    with atomic_folder(Path(out_dir), on_removed) as folder:
        return _write_contents(dataset, folder, version=None)


def release(
    dataset: ReleasableDataset,
    releases_dir: Path,
    version: str,
    notes: Sequence[str] = (),
    on_removed: Callable[[Path, int], object] | None = None,
) -> ReleaseResult:
    """Publish ``dataset`` as ``RELEASES/vX.Y.Z/`` with changelog and manifest (see the module doc).

    The same inputs, version and earlier releases (which the changelog extends) give byte-identical
    files.  A killed release leaves only a hidden ``.vX.Y.Z.partial-PID`` folder; the next release
    removes every such folder whose process is gone before it starts, telling ``on_removed(folder,
    bytes)``; ``vX.Y.Z`` never exists half-made.
    """
    name = release_name(version)
    version = name[1:]
    root = Path(releases_dir)
    if (root / name).exists():
        raise ReleaseError(f"{root / name} already exists; releases are immutable (choose a new version)")
    previous = previous_release(root, version)
    with atomic_folder(root / name, on_removed) as folder:
        contents = _write_contents(dataset, folder, version)
        lines = [*notes, *dataset.changelog_lines(contents, previous)]
        write_changelog(folder, changelog_entry(version, contents.data_as_of, lines), previous)
        extra = {"tools": tool_versions((*RELEASE_PACKAGES, *dataset.packages)), **contents.manifest}
        manifest = write_manifest(folder, name=dataset.name, version=version, extra=extra)
    return ReleaseResult(root / name, version, contents, manifest)
