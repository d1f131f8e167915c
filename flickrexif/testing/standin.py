"""The Flickr stand-in's former single module, kept so old imports and commands still work.

The stand-in is now split by stage across :mod:`flickrexif.testing` (see its docstring); import
from there.  ``python -m flickrexif.testing.standin`` runs ``python -m flickrexif.testing``.
"""

from flickrexif.crawl.licenses import NONPERMISSIVE_LICENSES, PERMISSIVE_LICENSES
from flickrexif.testing import (
    DEFAULT_PHOTO_SIZE,
    FAULT_KINDS,
    CameraProfile,
    FlickrStandin,
    Rendering,
    StandinPhoto,
    builtin_profiles,
    camera_name,
    exif_items_from_file,
    flash_text,
    generate_photos,
    render_photo,
)
from flickrexif.testing.__main__ import main

__all__ = [
    "DEFAULT_PHOTO_SIZE",
    "FAULT_KINDS",
    "NONPERMISSIVE_LICENSES",
    "PERMISSIVE_LICENSES",
    "CameraProfile",
    "FlickrStandin",
    "Rendering",
    "StandinPhoto",
    "builtin_profiles",
    "camera_name",
    "exif_items_from_file",
    "flash_text",
    "generate_photos",
    "main",
    "render_photo",
]

if __name__ == "__main__":
    main()
