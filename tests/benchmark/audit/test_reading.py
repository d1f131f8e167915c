"""An image set's metadata: read once and cached, unreadable images counted and named."""

from __future__ import annotations

from benchmark.audit.metadata import UNKNOWN
from benchmark.audit.reading import cache_file, read_metadata
from benchmark.sources.folder import image_folder
from benchmark.sources.imageset import ImageItem, ImageSet


def counting(image_set: ImageSet, reads: list[str]) -> ImageSet:
    """The set with every read recorded in ``reads``."""

    def reader(item: ImageItem):
        return lambda: reads.append(item.id) or item.read()

    items = tuple(ImageItem(i.id, i.split, reader(i), i.label) for i in image_set.items)
    return ImageSet(image_set.name, items, image_set.class_names, "class", image_set.fingerprint)


def test_metadata_is_read_once_then_from_the_cache(confounded_set, tmp_path):
    root, written = confounded_set
    reads: list[str] = []
    image_set = counting(image_folder(root), reads)
    first = read_metadata(image_set, tmp_path)
    assert len(reads) == len(written) and cache_file(tmp_path, image_set).is_file()
    again = read_metadata(image_set, tmp_path)
    assert len(reads) == len(written)  # no image read again
    assert again == first
    models = dict(zip(first.ids, first.values["Model"]))
    assert all(models[str(p.path.relative_to(root))] == p.model for p in written)


def test_unreadable_and_unlabelled_images_are_counted_and_named(confounded_set, tmp_path):
    root, _ = confounded_set
    good = image_folder(root)
    broken = ImageItem("broken.jpg", "train", lambda: b"\xff\xd8 not really a JPEG", 0)
    stripped = ImageItem("no-label.jpg", "train", good.items[0].read, None)
    image_set = ImageSet("mixed", (*good.items, broken, stripped), good.class_names, "class", "mixed-v1")
    found = read_metadata(image_set, tmp_path)
    assert "broken.jpg" in found.unreadable and found.unreadable["broken.jpg"]
    assert found.unlabelled == ("no-label.jpg",) and len(found) == len(good.items)
    assert found.known("Make") == len(good.items) and UNKNOWN not in found.values["Make"]
