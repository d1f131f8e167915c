"""What a run plans on each kind of dataset: the tasks that apply (each task's declaration), their
targets, and the image sets opened lazily and once."""

from __future__ import annotations

from PIL import Image

import benchmark.sources.kinds
from benchmark.runs.runner import plan
from benchmark.sources.kinds import KINDS, detect
from benchmark.tasks.registry import TASKS
from benchmark.tasks.task import TaskOptions
from benchmark.testing.datasets import FLICKREXIF_CARD, PAIRCAMS_CARD, official_layout, tiny_class_folder, write_card


def test_the_card_is_read_once_per_detection(tmp_path, monkeypatch):
    import huggingface_hub.repocard

    reads = []
    real = huggingface_hub.repocard.metadata_load
    monkeypatch.setattr(huggingface_hub.repocard, "metadata_load", lambda path: reads.append(path) or real(path))
    found = detect(str(write_card(tmp_path / "flickr" / "v1.0.0", FLICKREXIF_CARD)))
    assert found.card["pretty_name"] == "FlickrExif" and found.configs == ["Make", "Year", "extra"]
    assert [(p.task, p.target) for p in plan(found, TaskOptions())] == [
        ("probe-acquisition", "Make"),
        ("probe-acquisition", "Year"),
    ]
    assert found.label == "FlickrExif-v1.0.0"
    assert len(reads) == 1


def test_flickrexif_release_plans_one_probe_per_attribute_and_opens_lazily(tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr(benchmark.sources.kinds, "hf_dataset", lambda *args, **source: opened.append(args) or args)
    dataset = str(write_card(tmp_path / "flickr", FLICKREXIF_CARD))
    planned = plan(detect(dataset), TaskOptions(targets=("Year", "Model")))
    assert [(p.task, p.target) for p in planned] == [("probe-acquisition", "Year")]
    assert opened == []  # nothing is opened before a task needs it
    assert planned[0].load() == planned[0].load() == (dataset, "Year") and opened == [(dataset, "Year")]
    assert detect(dataset).open() == (dataset, "Make")  # several configurations: the first
    assert plan(detect(dataset), TaskOptions(tasks=("knn", "retrieval"))) == []


def test_official_layout_plans_its_split_files(tmp_path):
    dataset = official_layout(tmp_path)
    assert [(p.task, p.target) for p in plan(detect(dataset), TaskOptions())] == [
        ("probe-acquisition", "Flash"),
        ("probe-acquisition", "Make"),
    ]
    assert [p.target for p in plan(detect(dataset), TaskOptions(targets=("Make",)))] == ["Make"]


def test_paircams_plans_retrieval(tmp_path):
    planned = plan(detect(str(write_card(tmp_path / "pairs", PAIRCAMS_CARD))), TaskOptions())
    assert [(p.task, p.target) for p in planned] == [("retrieval", "paircams")]


def test_image_folder_plans_processing_probes_and_knn_only_with_classes(tmp_path):
    config = TaskOptions(families=("jpeg", "resizing"))
    labelled = str(tiny_class_folder(tmp_path / "labelled"))
    planned = plan(detect(labelled), config)
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
    assert [p.task for p in plan(detect(str(flat)), config)] == ["probe-processing", "probe-processing"]
    assert detect(labelled).open().class_names == ("blue", "red")


def test_every_task_applies_to_known_kinds():
    kinds = {kind.name for kind in KINDS}
    assert all(set(task.kinds) <= kinds for task in TASKS.values())
