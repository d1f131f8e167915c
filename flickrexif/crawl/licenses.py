"""Flickr's license ids: names, URLs, and which ones a redistributable dataset may use."""

from __future__ import annotations

from dataclasses import dataclass

from flickrexif.exif.tables import load_table


@dataclass(frozen=True)
class License:
    id: int
    name: str
    url: str
    permissive: bool


LICENSES: dict[int, License] = {
    int(key): License(int(key), spec["name"], spec["url"], spec["permissive"])
    for key, spec in load_table("licenses")["licenses"].items()
}
PERMISSIVE_LICENSES = frozenset(i for i, license in LICENSES.items() if license.permissive)
NONPERMISSIVE_LICENSES = frozenset(LICENSES) - PERMISSIVE_LICENSES
