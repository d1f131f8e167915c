"""Moved to :mod:`flickrexif.exif.labels`; kept so ``from flickrexif.labels import label_record`` still works."""

from flickrexif.exif.labels import *  # noqa: F403
