"""Standard layout (ImageNet, iNaturalist as distributed: ``train/<class>/``, ``val/<class>/``).

val is the test set: the processing probe carves its tuning split from train and refits over class
draws (benchmark.protocols.refit), kNN queries val against the train database.  Folders with their own test
split keep their behaviour.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

import benchmark.tasks.knn
from benchmark.cli.app import app
from benchmark.embeddings.cache import EmbeddingCache
from benchmark.embeddings.extract import Extractor
from benchmark.encoders import load_encoder
from benchmark.protocols.probe import ProbeConfig
from benchmark.sources.folder import image_folder
from benchmark.sources.imageset import SPLITS, STANDARD, ImageSet
from benchmark.tasks.knn import knn_influence
from benchmark.tasks.probing import processing_probe
from benchmark.tasks.task import TaskOptions
from benchmark.testing.datasets import split_folder

MODEL = "random:resnet10t"
FAST = ProbeConfig(learning_rates=(1.0, 10.0), weight_decays=(0.0,), epochs=5, device="cpu")


@pytest.fixture(scope="module")
def encoder():
    return load_encoder(MODEL)


@pytest.fixture(scope="module")
def imagenet(tmp_path_factory):
    """A tiny ImageNet-style folder and one embedding cache for the tests that embed it (sharpening)."""
    root = tmp_path_factory.mktemp("standard")
    return split_folder(root / "imagenet"), EmbeddingCache(root / "cache")


def test_train_and_val_folders_are_the_standard_layout(tmp_path):
    image_set = image_folder(split_folder(tmp_path / "imagenet"))
    assert image_set.layout == STANDARD and image_set.test_split == "validation"
    assert image_set.splits == ["train", "validation"]
    assert (len(image_set.split("train")), len(image_set.split("validation"))) == (16, 6)
    assert image_set.class_names == ("n01", "n02")
    assert {item.label for item in image_set.split("validation")} == {0, 1}


def test_validation_spelled_out_is_the_same_layout(tmp_path):
    image_set = image_folder(split_folder(tmp_path / "inat", splits=("train", "validation")))
    assert image_set.layout == STANDARD and image_set.test_split == "validation"


def test_folders_with_a_test_split_or_none_keep_their_splits(tmp_path):
    three = image_folder(split_folder(tmp_path / "three", splits=("train", "val", "test"), per_class=(4, 2, 2)))
    assert three.layout == SPLITS and three.test_split == "test"
    assert three.splits == ["train", "validation", "test"]
    assert (len(three.split("validation")), len(three.split("test"))) == (4, 4)
    flat = image_folder(split_folder(tmp_path / "flat", splits=("n",), per_class=(10,)) / "n")  # class folders only
    assert flat.layout == SPLITS and flat.test_split == "test"


@pytest.mark.parametrize("splits", [("train",), ("val",)])
def test_a_folder_without_test_images_that_is_not_train_and_val_is_refused(tmp_path, splits):
    split_folder(tmp_path / "odd", splits=splits, per_class=(3,) * len(splits))
    with pytest.raises(ValueError, match=r"hold no test images; use train/ \+ val/"):
        image_folder(tmp_path / "odd")


def test_an_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="unknown layout"):
        ImageSet(name="x", items=(), layout="imagenet")


def test_processing_probe_on_the_standard_layout_refits_and_tests_on_val(imagenet, encoder):
    image_set = image_folder(imagenet[0])
    options = Extractor(cache=imagenet[1], device="cpu")
    result = processing_probe(encoder, image_set, "sharpening", options, seed=3, probe_config=FAST, refits=4)
    details, parameters, metrics = result.details, result.parameters, result.metrics
    assert parameters["layout"] == STANDARD and parameters["refits"] == 4 and parameters["refit_seeds"] == [0, 1, 2, 3]
    assert parameters["tuning_share"] == 0.2 and parameters["seed"] == 3
    assert (details["n_train"], details["n_test"], details["tuning_seed"]) == (16, 3 * 6, 3)
    assert details["n_fit"] + details["n_tuning"] == 16
    accuracies = [r["accuracy"] for r in details["refits"]]
    assert [r["seed"] for r in details["refits"]] == [0, 1, 2, 3]
    assert metrics["accuracy"] == pytest.approx(np.mean(accuracies))
    assert metrics["accuracy_std"] == pytest.approx(np.std(accuracies))
    assert metrics["mean_per_class_accuracy"] == pytest.approx(
        np.mean([r["mean_per_class_accuracy"] for r in details["refits"]])
    )
    assert metrics["chance"] == pytest.approx(1 / 3)
    assert (details["learning_rate"], details["weight_decay"]) in FAST.grid()
    # every image embedded once per class (train and val), whatever the number of refits; kNN shares them
    assert len(list(options.cache.root.rglob("*.safetensors"))) == 2 * 3
    again = processing_probe(encoder, image_set, "sharpening", options, seed=3, probe_config=FAST, refits=4)
    assert again.metrics == metrics and len(list(options.cache.root.rglob("*.safetensors"))) == 6


def test_processing_probe_with_a_test_split_runs_as_before(tmp_path, encoder):
    image_set = image_folder(split_folder(tmp_path / "three", splits=("train", "val", "test"), per_class=(6, 3, 3)))
    options = Extractor(cache=EmbeddingCache(tmp_path / "cache"), device="cpu")
    result = processing_probe(encoder, image_set, "sharpening", options, probe_config=FAST)
    assert result.parameters["layout"] == SPLITS and "refits" not in result.parameters
    assert set(result.metrics) == {"accuracy", "mean_per_class_accuracy", "chance"}
    assert (result.details["n_train"], result.details["n_val"], result.details["n_test"]) == (12, 6, 3 * 6)


def test_knn_on_the_standard_layout_queries_val_against_train(imagenet, encoder, monkeypatch):
    image_set = image_folder(imagenet[0])
    seen = []
    real = benchmark.tasks.knn.knn_all_ks

    def spy(db, db_y, queries, queries_y, *args, **kwargs):
        seen.append((tuple(db.shape[:2]), queries_y.tolist()))
        return real(db, db_y, queries, queries_y, *args, **kwargs)

    monkeypatch.setattr(benchmark.tasks.knn, "knn_all_ks", spy)
    options = Extractor(cache=imagenet[1], device="cpu")
    result = knn_influence(encoder, image_set, "sharpening", options, ks=(3,))
    val_labels = [item.label for item in image_set.split("validation")]
    assert seen == [((16, 3), val_labels)]
    assert len(list(options.cache.root.rglob("*.safetensors"))) == 2 * 3
    assert result.parameters["layout"] == STANDARD
    assert (result.parameters["database_split"], result.parameters["query_split"]) == ("train", "validation")
    assert 0 <= result.metrics["all-same@k3"] <= 1


def test_run_command_on_an_imagenet_style_folder(imagenet, tmp_path):
    folder, cache = imagenet
    out = tmp_path / "results"
    args = ["run", "--model", MODEL, "--dataset", str(folder), "--out", str(out), "--family", "sharpening"]
    args += ["--cache", str(cache.root), "--probe-tune-epochs", "2", "--probe-refits", "3", "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "no test images" not in result.output
    files = {p.name: json.loads(p.read_text()) for p in out.rglob("*.json")}
    assert set(files) == {"knn-sharpening-seed0.json", "probe-processing-sharpening-seed0.json"}
    probe = files["probe-processing-sharpening-seed0.json"]
    assert probe["parameters"]["layout"] == STANDARD and probe["parameters"]["refits"] == 3
    assert len(probe["details"]["refits"]) == 3 and probe["details"]["n_test"] == 3 * 6
    assert probe["metrics"]["accuracy"] == pytest.approx(np.mean([r["accuracy"] for r in probe["details"]["refits"]]))
    assert files["knn-sharpening-seed0.json"]["parameters"]["query_split"] == "validation"
    assert len(list(cache.root.rglob("*.safetensors"))) == 2 * 3  # both tasks, one embedding per split and class


def test_refits_must_be_positive():
    with pytest.raises(ValueError, match="probe-refits"):
        TaskOptions(refits=0)
    assert TaskOptions().refits == 10 and replace(TaskOptions(), refits=3).refits == 3
