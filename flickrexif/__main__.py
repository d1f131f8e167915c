"""``python -m flickrexif`` runs the ``flickrexif`` command line."""

from flickrexif.cli.app import app

app(prog_name="flickrexif")
