"""``python -m flickrexif`` runs the ``flickrexif`` command line."""

from flickrexif.cli import app

app(prog_name="flickrexif")
