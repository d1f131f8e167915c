"""The FlickrExif dataset: build settings (:mod:`.spec`), columns (:mod:`.features`), owner-disjoint
splits (:mod:`.split`), the builder that the release sequence publishes (:mod:`.builder`) and its card
(:mod:`.card`).  Imports the crawl store, the Exif layer and the release machinery."""
