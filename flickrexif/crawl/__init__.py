"""Flickr acquisition: API client, search slicing, the crawl loop, the SQLite crawl store, downloads,
status and export.  Imports only :mod:`flickrexif.exif` of the toolkit."""
