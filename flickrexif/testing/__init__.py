"""Loopback stand-ins for the services the toolkit talks to, for tests, benchmarks and the demo.

Like ``numpy.testing``, this package serves tests and demos; no product module imports it
(tests/test_architecture.py checks).  The Flickr stand-in, by stage:

* :mod:`~flickrexif.testing.flickr_server`: :class:`FlickrStandin`, the REST API and photo file
  server on 127.0.0.1, with latency and injected faults (:data:`FAULT_KINDS`);
* :mod:`~flickrexif.testing.search`: what ``flickr.photos.search`` finds, sorts and pages;
* :mod:`~flickrexif.testing.getexif`: a real file's Exif as ``flickr.photos.getExif`` prints it
  (:func:`exif_items_from_file`);
* :mod:`~flickrexif.testing.photos`: the photos served (:class:`StandinPhoto`) and a generated,
  seeded population of them (:func:`generate_photos`);
* :mod:`~flickrexif.testing.profiles`: the cameras those photos come from (:class:`CameraProfile`,
  :class:`Rendering`, :func:`builtin_profiles`);
* :mod:`~flickrexif.testing.render`: one photo rendered from a seeded scene through a profile
  (:func:`render_photo`).

:mod:`flickrexif.testing.hub` is a loopback Hugging Face Hub (import it from its module).
Run ``python -m flickrexif.testing --photos 1000`` to serve a generated population by hand.
"""

from flickrexif.testing.flickr_server import FAULT_KINDS, FlickrStandin
from flickrexif.testing.getexif import camera_name, exif_items_from_file, flash_text
from flickrexif.testing.photos import StandinPhoto, generate_photos
from flickrexif.testing.profiles import CameraProfile, Rendering, builtin_profiles
from flickrexif.testing.render import DEFAULT_PHOTO_SIZE, render_photo

__all__ = [
    "DEFAULT_PHOTO_SIZE",
    "FAULT_KINDS",
    "CameraProfile",
    "FlickrStandin",
    "Rendering",
    "StandinPhoto",
    "builtin_profiles",
    "camera_name",
    "exif_items_from_file",
    "flash_text",
    "generate_photos",
    "render_photo",
]
