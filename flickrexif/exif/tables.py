"""One loader for the package data tables in ``flickrexif/data/`` (make aliases, devices, stops, ...).

Tables of facts live as JSON files so they can be read and extended without touching code; every
module reads them through :func:`load_table`, which parses each file once per process.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_table(name: str) -> Any:
    """The parsed ``flickrexif/data/<name>.json``, e.g. ``load_table("makes")``.

    Cached because label functions consult the tables once per photo; the result is shared between
    callers, so treat it as read-only.  An unknown name raises ``ValueError``.
    """
    if not name.isidentifier():
        raise ValueError(f"table names are plain identifiers, got {name!r}")
    resource = resources.files("flickrexif").joinpath("data").joinpath(f"{name}.json")
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"no package data table {name!r} (flickrexif/data/{name}.json)") from None
    return json.loads(text)
