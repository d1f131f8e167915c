"""Where the images come from: every source becomes an :class:`~.imageset.ImageSet` (:mod:`.imageset`):
an image folder (:mod:`.folder`), a Hugging Face dataset, local or on the Hub (:mod:`.hub`), the
official FlickrExif layout (:mod:`.official`), PairCams (:mod:`.paircams`); :mod:`.kinds` tells which a
``--dataset`` argument is (reading its card, :mod:`.cards`).  Imports the benchmark's errors and
imaging, and ``flickrexif.exif``."""
