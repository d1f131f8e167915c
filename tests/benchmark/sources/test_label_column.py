"""``--label-column``: a Hugging Face dataset's classes from any column the user names (a PairCams release's
too); a missing column, or the option on a folder, is one line."""

from __future__ import annotations

import datasets
import pytest

from benchmark.errors import UsageError
from benchmark.sources.kinds import SourceOptions
from benchmark.testing.datasets import PLAIN_CARD, tiny_class_folder, write_card


def test_the_named_column_gives_the_classes(species_dataset):
    folder = str(species_dataset)
    image_set = SourceOptions((folder,), label_column="species").detect(folder).open()
    assert image_set.class_names == ("husky", "wolf") and image_set.target == "species"
    assert [image_set.class_names[i.label] for i in image_set.items] == [i.extra["species"] for i in image_set.items]
    unnamed = SourceOptions((folder,)).detect(folder).open()
    assert unnamed.class_names is None  # no ClassLabel "label" column: no classes unless one is named
    assert unnamed.fingerprint != image_set.fingerprint


def test_a_missing_column_is_named_with_the_columns_there_are(species_dataset):
    folder = str(species_dataset)
    with pytest.raises(UsageError, match=r"no column 'breed'.*image, species, camera"):
        SourceOptions((folder,), label_column="breed").detect(folder).open()


def test_a_folder_refuses_the_option(tmp_path):
    folder = str(tiny_class_folder(tmp_path / "images"))
    with pytest.raises(UsageError, match="--label-column"):
        SourceOptions((folder,), label_column="species").detect(folder).open()
    with pytest.raises(UsageError, match="names no column"):
        SourceOptions((folder,), label_column=" ")


def test_a_hub_dataset_with_a_class_label_keeps_its_names(tmp_path, offline):
    root = write_card(tmp_path / "other", PLAIN_CARD)
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["a", "b"])})
    (root / "data").mkdir()
    rows = {"image": [{"bytes": p.read_bytes()} for p in sorted((tiny_class_folder(tmp_path / "t")).rglob("*.png"))]}
    rows["label"] = [0, 0, 0, 1, 1, 1]
    datasets.Dataset.from_dict(rows, features=features).to_parquet(str(root / "data" / "train-00000.parquet"))
    image_set = SourceOptions((str(root),), label_column="label").detect(str(root)).open()
    assert image_set.class_names == ("a", "b") and sorted(i.label for i in image_set.items) == [0, 0, 0, 1, 1, 1]
