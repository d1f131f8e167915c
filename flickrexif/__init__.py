"""FlickrExif: crawl, label and publish permissively licensed Flickr photos with their Exif."""

__version__ = "0.1.0"
