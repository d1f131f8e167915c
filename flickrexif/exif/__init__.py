"""The Exif layer: a photo's metadata read, typed, labelled and scrubbed; no network, no other layer.

Every other part of the toolkit (the crawl, the datasets, PairCams, trace-bench) reads photo
metadata through this package, and it imports nothing else of the toolkit.
"""

from flickrexif.exif.labels import Label, Labels, label_record
from flickrexif.exif.read import DEFAULT_MAX_PIXELS, ExifReadError, read_exif
from flickrexif.exif.record import ExifRecord
from flickrexif.exif.tags import exif_from_flickr

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ExifReadError",
    "ExifRecord",
    "Label",
    "Labels",
    "exif_from_flickr",
    "label_record",
    "read_exif",
]
