"""Dataset kinds: each detected from a small generated folder or card, read once, and what each gets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import benchmark.kinds
from benchmark.kinds import FLICKREXIF_ATTRIBUTES, KINDS, detect
from benchmark.runner import RunConfig, open_image_set, plan
from benchmark.tasks import TASK_NAMES
from flickrexif.exif.labels import ATTRIBUTES

FLICKREXIF_CARD = """pretty_name: FlickrExif
configs:
- config_name: Make
  data_files:
  - split: train
    path: Make/train-*.parquet
- config_name: Year
  data_files:
  - split: train
    path: Year/train-*.parquet
- config_name: extra
"""
PAIRCAMS_CARD = """pretty_name: PairCams
dataset_info:
  features:
  - name: image
    dtype: image
  - name: subject_idx
    dtype: int64
  - name: camera_type
    dtype: string
"""
PAIRCAMS_CARD_PER_CONFIG = """dataset_info:
- config_name: default
  features:
  - name: image
    dtype: image
  - name: subject_idx
    dtype: int64
"""
OTHER_CARD = """license: mit
configs:
- config_name: default
  data_files: data/*.parquet
dataset_info:
  features:
  - name: image
    dtype: image
  - name: label
    dtype: int64
"""


def write_card(folder, yaml_text):
    folder.mkdir(parents=True, exist_ok=True)
    text = "# No header\n" if yaml_text is None else f"---\n{yaml_text}---\n\n# A dataset\n"
    (folder / "README.md").write_text(text)
    return folder


def image_folder(root, classes=("red", "blue"), per_class=3):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (12, 10), (40 * c + 20, 5 * i, 90)).save(root / name / f"{name}{i}.png")
    return root


def official(tmp_path, attributes=("Make", "Flash")):
    images, splits = tmp_path / "images", tmp_path / "splits"
    images.mkdir()
    splits.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    for photo_id in (11, 12, 13):
        Image.fromarray(pixels).save(images / f"{photo_id}.jpg")
    for attribute in attributes:
        spec = {
            "train_ids": [11],
            "encoded_train_labels": [0],
            "val_ids": [12],
            "encoded_val_labels": [1],
            "test_ids": [13],
            "encoded_test_labels": [0],
            "label_encoder_classes": ["A", "B"],
        }
        (splits / f"split_data_target_attribute={attribute}.json").write_text(json.dumps(spec))
    return f"official:{images}:{splits}"


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda tmp: official(tmp), "official-flickrexif"),
        (lambda tmp: str(write_card(tmp / "pairs", PAIRCAMS_CARD)), "paircams"),
        (lambda tmp: str(write_card(tmp / "pairs", PAIRCAMS_CARD_PER_CONFIG)), "paircams"),
        (lambda tmp: str(write_card(tmp / "flickr", FLICKREXIF_CARD)), "flickrexif"),
        (lambda tmp: str(image_folder(tmp / "images")), "image-folder"),
        (lambda tmp: str(write_card(image_folder(tmp / "images"), None)), "image-folder"),  # a README, no card
        (lambda tmp: str(write_card(tmp / "other", OTHER_CARD)), "hf-dataset"),
        (lambda tmp: "someone/cached-dataset", "hf-dataset"),  # a Hub id, not a folder
    ],
)
def test_each_kind_is_detected(tmp_path, make, kind):
    assert detect(make(tmp_path)).kind.name == kind


def test_the_card_is_read_once_per_detection(tmp_path, monkeypatch):
    import huggingface_hub.repocard

    reads = []
    real = huggingface_hub.repocard.metadata_load
    monkeypatch.setattr(huggingface_hub.repocard, "metadata_load", lambda path: reads.append(path) or real(path))
    found = detect(str(write_card(tmp_path / "flickr" / "v1.0.0", FLICKREXIF_CARD)))
    assert found.card["pretty_name"] == "FlickrExif" and found.configs == ["Make", "Year", "extra"]
    assert [(p.task, p.target) for p in plan(found, RunConfig())] == [
        ("probe-acquisition", "Make"),
        ("probe-acquisition", "Year"),
    ]
    assert found.label == "FlickrExif-v1.0.0"
    assert len(reads) == 1


def test_flickrexif_release_plans_one_probe_per_attribute_and_opens_lazily(tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr(benchmark.kinds, "hf_dataset", lambda *args, **source: opened.append(args) or args)
    dataset = str(write_card(tmp_path / "flickr", FLICKREXIF_CARD))
    planned = plan(dataset, RunConfig(targets=("Year", "Model")))
    assert [(p.task, p.target) for p in planned] == [("probe-acquisition", "Year")]
    assert opened == []  # nothing is opened before a task needs it
    assert planned[0].load() == planned[0].load() == (dataset, "Year") and opened == [(dataset, "Year")]
    assert open_image_set(dataset) == (dataset, "Make")  # several configurations: the first
    assert plan(dataset, RunConfig(tasks=("knn", "retrieval"))) == []


def test_official_layout_plans_its_split_files(tmp_path):
    dataset = official(tmp_path)
    assert [(p.task, p.target) for p in plan(dataset, RunConfig())] == [
        ("probe-acquisition", "Flash"),
        ("probe-acquisition", "Make"),
    ]
    assert [p.target for p in plan(dataset, RunConfig(targets=("Make",)))] == ["Make"]
    opened = open_image_set(dataset, "Make")
    assert opened.target == "Make" and len(opened.items) == 3
    with pytest.raises(ValueError, match="needs an attribute"):
        open_image_set(dataset)
    assert detect(dataset).label == "flickrexif-official"


def test_paircams_plans_retrieval(tmp_path):
    planned = plan(str(write_card(tmp_path / "pairs", PAIRCAMS_CARD)), RunConfig())
    assert [(p.task, p.target) for p in planned] == [("retrieval", "paircams")]


def test_image_folder_plans_processing_probes_and_knn_only_with_classes(tmp_path):
    config = RunConfig(families=("jpeg", "resizing"))
    labelled = str(image_folder(tmp_path / "labelled"))
    planned = plan(labelled, config)
    assert [(p.task, p.target) for p in planned] == [
        ("probe-processing", "jpeg"),
        ("probe-processing", "resizing"),
        ("knn", "jpeg"),
        ("knn", "resizing"),
    ]
    assert len({id(p.load) for p in planned}) == 1 and planned[0].load() is planned[-1].load()  # opened once
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("RGB", (8, 8)).save(flat / "a.png")
    assert [p.task for p in plan(str(flat), config)] == ["probe-processing", "probe-processing"]
    assert open_image_set(labelled).class_names == ("blue", "red")


def test_the_kind_table():
    assert FLICKREXIF_ATTRIBUTES == tuple(ATTRIBUTES)
    names = [kind.name for kind in KINDS]
    assert len(set(names)) == len(names)
    assert all(task in TASK_NAMES for kind in KINDS for task in kind.tasks)
    assert KINDS[-1].matches("anything", {"any": "card"})  # the last kind takes what no other does


def test_official_layout_finds_photos_in_the_download_folders(tmp_path):
    """``flickrexif download`` writes IMAGES/<last two digits>/<id>.jpg: the official layout reads that too."""
    dataset = official(tmp_path)
    images = tmp_path / "images"
    for photo in list(images.glob("*.jpg")):
        (images / photo.stem[-2:]).mkdir(exist_ok=True)
        photo.rename(images / photo.stem[-2:] / photo.name)
    assert sorted(item.id for item in open_image_set(dataset, "Make").items) == ["11", "12", "13"]
