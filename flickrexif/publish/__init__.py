"""Release machinery shared by FlickrExif and PairCams; knows nothing about Flickr.

Parquet shards (:mod:`.parquet`), versions, manifest and changelog (:mod:`.manifest`), atomic folders
(:mod:`.folder`), dataset cards (:mod:`.card`), the Exif columns both datasets publish (:mod:`.columns`),
the one release sequence (:mod:`.release`) and pushing a release to the Hub (:mod:`.hub`).  Imports
only :mod:`flickrexif.exif` of the toolkit.
"""
