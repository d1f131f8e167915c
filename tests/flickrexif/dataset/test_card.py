"""The FlickrExif card: what it says about each configuration, limitations, and that its config names load."""

from __future__ import annotations

import datasets
import huggingface_hub.constants
import pytest
import yaml

from flickrexif.dataset.builder import FlickrExifDataset
from flickrexif.dataset.spec import BuildConfig
from flickrexif.publish.release import release

ATTRIBUTES = ("Make", "Is Smartphone", "Smartphone Model")


@pytest.fixture(scope="module")
def released(crawled_db, small_specs, tmp_path_factory):
    """Every attribute asks for up to 6 classes (``small_specs``); "Is Smartphone" can only have 2."""
    config = BuildConfig(db=crawled_db.db, images=crawled_db.images, specs=small_specs, attributes=ATTRIBUTES)
    return release(FlickrExifDataset(config), tmp_path_factory.mktemp("releases"), "1.0.0")


def front_matter(card: str) -> dict:
    return yaml.safe_load(card.split("---\n", 2)[1])


def test_the_card_counts_the_classes_a_configuration_has(released):
    card = (released.path / "README.md").read_text()
    assert "Top 6 classes" not in card
    phone = next(c for c in released.contents.details.built if c.name == "Is Smartphone")
    assert len(phone.classes) == 2
    assert "### Is Smartphone\n\n2 classes (the most frequent; up to 6 were allowed, 2 qualified) with at least" in card


def test_the_card_has_limitations_and_the_attribution_decision(released):
    card = (released.path / "README.md").read_text()
    assert "## Limitations and biases" in card
    text = " ".join(card.split())
    assert "maker notes and the Artist and Copyright fields" in text
    assert "each photo's credit comes from its Flickr owner, license and URL columns" in text


def test_every_config_name_of_the_card_loads(released, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    names = [entry["config_name"] for entry in front_matter((released.path / "README.md").read_text())["configs"]]
    built = {c.name: c for c in released.contents.details.built}
    assert set(names) == set(built) and "Is Smartphone" in names
    for name in names:
        ds = datasets.load_dataset(str(released.path), name, cache_dir=str(tmp_path / "cache"))
        assert ds["train"].features["label"].names == list(built[name].classes), name
        assert {split: len(ds[split]) for split in ds} == {s.split: s.num_examples for s in built[name].splits}
