"""Flickr and Hub secrets: read from the environment or a config file, never printed.

Precedence: explicit values, then environment variables (``FLICKR_API_KEY``,
``FLICKR_API_SECRET``), then the config file (``$FLICKREXIF_CONFIG`` or
``~/.config/flickrexif/config.toml``) with a ``[flickr]`` table holding ``api_key`` and
``api_secret``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


class CredentialsError(ValueError):
    """Missing or unreadable credentials; the message says where they are looked for."""


def default_config_path() -> Path:
    return Path(os.environ.get("FLICKREXIF_CONFIG", Path.home() / ".config" / "flickrexif" / "config.toml"))


@dataclass(frozen=True)
class FlickrCredentials:
    api_key: str
    api_secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"FlickrCredentials(api_key={mask(self.api_key)!r}, api_secret='***')"

    __str__ = __repr__


def mask(secret: str) -> str:
    """Enough of a key to tell two apart in a log, never enough to use it."""
    return secret[:4] + "…" if len(secret) > 8 else "***"


def load_flickr_credentials(
    api_key: str | None = None, api_secret: str | None = None, config_path: Path | None = None
) -> FlickrCredentials:
    key = api_key or os.environ.get("FLICKR_API_KEY")
    secret = api_secret or os.environ.get("FLICKR_API_SECRET")
    path = config_path or default_config_path()
    if (not key or not secret) and path.is_file():
        try:
            table = tomllib.loads(path.read_text()).get("flickr", {})
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise CredentialsError(f"cannot read {path}: {error}") from None
        key = key or table.get("api_key")
        secret = secret or table.get("api_secret")
    if not key or not secret:
        if key:  # the key was found, only its secret is missing
            missing, variables, fields = "no Flickr API secret", "FLICKR_API_SECRET", "api_secret"
        elif secret:
            missing, variables, fields = "no Flickr API key", "FLICKR_API_KEY", "api_key"
        else:
            missing = "no Flickr API key or secret"
            variables, fields = "FLICKR_API_KEY and FLICKR_API_SECRET", "api_key and api_secret"
        raise CredentialsError(
            f"{missing}: set {variables}, or put {fields} in a [flickr] table of {path} "
            "(the key and its secret are both given at flickr.com/services/apps/create)"
        )
    return FlickrCredentials(str(key), str(secret))
