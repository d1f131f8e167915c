"""Dataset kinds: each detected from a small generated folder or card, read once, and how each opens."""

from __future__ import annotations

import pytest

import benchmark.sources.kinds
from benchmark.sources.kinds import FLICKREXIF_ATTRIBUTES, KINDS, detect
from benchmark.testing.datasets import (
    FLICKREXIF_CARD,
    OTHER_CARD,
    PAIRCAMS_CARD,
    PAIRCAMS_CARD_PER_CONFIG,
    official_layout,
    tiny_class_folder,
    write_card,
)
from flickrexif.exif.labels import ATTRIBUTES


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda tmp: official_layout(tmp), "official-flickrexif"),
        (lambda tmp: str(write_card(tmp / "pairs", PAIRCAMS_CARD)), "paircams"),
        (lambda tmp: str(write_card(tmp / "pairs", PAIRCAMS_CARD_PER_CONFIG)), "paircams"),
        (lambda tmp: str(write_card(tmp / "flickr", FLICKREXIF_CARD)), "flickrexif"),
        (lambda tmp: str(tiny_class_folder(tmp / "images")), "image-folder"),
        (lambda tmp: str(write_card(tiny_class_folder(tmp / "images"), None)), "image-folder"),  # a README, no card
        (lambda tmp: str(write_card(tmp / "other", OTHER_CARD)), "hf-dataset"),
        (lambda tmp: "someone/cached-dataset", "hf-dataset"),  # a Hub id, not a folder
    ],
)
def test_each_kind_is_detected(tmp_path, make, kind):
    assert detect(make(tmp_path)).kind.name == kind


def test_official_layout_finds_photos_in_the_download_folders(tmp_path):
    """``flickrexif download`` writes IMAGES/<last two digits>/<id>.jpg: the official layout reads that too."""
    dataset = official_layout(tmp_path)
    images = tmp_path / "images"
    for photo in list(images.glob("*.jpg")):
        (images / photo.stem[-2:]).mkdir(exist_ok=True)
        photo.rename(images / photo.stem[-2:] / photo.name)
    assert sorted(item.id for item in detect(dataset).open("Make").items) == ["11", "12", "13"]


def test_the_kind_table():
    assert FLICKREXIF_ATTRIBUTES == tuple(ATTRIBUTES)
    names = [kind.name for kind in KINDS]
    assert len(set(names)) == len(names)
    assert KINDS[-1].matches("anything", {"any": "card"})  # the last kind takes what no other does


def test_the_official_layout_opens_an_attribute_and_needs_one(tmp_path):
    dataset = official_layout(tmp_path)
    opened = detect(dataset).open("Make")
    assert opened.target == "Make" and len(opened.items) == 3
    assert detect(dataset).attributes() == ["Flash", "Make"]
    with pytest.raises(ValueError, match="needs an attribute"):
        detect(dataset).open()
    assert detect(dataset).label == "flickrexif-official"


def test_a_release_with_several_configurations_opens_the_first(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmark.sources.kinds, "hf_dataset", lambda *args, **source: args)
    dataset = str(write_card(tmp_path / "flickr", FLICKREXIF_CARD))
    assert detect(dataset).open() == (dataset, "Make")
    assert detect(dataset).attributes() == ["Make", "Year"]  # "extra" is no FlickrExif attribute
