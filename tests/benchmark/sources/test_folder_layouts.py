"""Folder layouts that can be read two ways are refused in one line naming what to move; the layout
decided is said once (classes, images per split); one class is run without kNN, and said so."""

from __future__ import annotations

import pytest
from PIL import Image
from typer.testing import CliRunner

from benchmark.cli.app import app
from benchmark.sources.folder import image_folder
from benchmark.testing.datasets import split_folder, tiny_class_folder

runner = CliRunner()
MODEL = "random:resnet10t"


def image(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 10), (90, 40, 20)).save(path)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda root: image(root / "misc" / "x" / "a.png"), "train/, val/ are split folders but misc/ beside them"),
        (lambda root: image(root / "stray.png"), "are split folders but stray.png beside them"),
        (lambda root: image(root / "train" / "loose.png"), "1 images in their split folders (train/loose.png)"),
        (lambda root: image(root / "val" / "n03" / "a.png"), "validation images of n03 but train/ has no images"),
    ],
    ids=["extra-top-folder", "stray-root-file", "image-beside-classes", "val-class-not-in-train"],
)
def test_a_split_layout_that_reads_two_ways_is_refused(tmp_path, build, message):
    root = split_folder(tmp_path / "imagenet", per_class=(3, 2))
    build(root)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        image_folder(root)


def test_stray_images_beside_class_folders_are_refused(tmp_path):
    root = tiny_class_folder(tmp_path / "photos")
    image(root / "oops.png")
    with pytest.raises(ValueError, match=r"1 images at the top of .*photos \(oops.png\) beside class folders"):
        image_folder(root)


def test_a_flat_folder_has_no_classes_and_a_class_folder_says_what_it_holds(tmp_path):
    for i in range(4):
        image(tmp_path / "flat" / f"{i}.png")
    assert image_folder(tmp_path / "flat").class_names is None
    summary = image_folder(split_folder(tmp_path / "imagenet", per_class=(3, 2))).summary()
    expected = "2 classes (n01, n02); images: train 6, validation 4; val is the test set"
    assert summary == expected + " (per class, train/validation: n01 3/2, n02 3/2)"


def test_one_class_runs_the_processing_probes_and_says_why_knn_is_not_run(tmp_path):
    root = tiny_class_folder(tmp_path / "cats", classes=("cat",), per_class=30)
    assert image_folder(root).notes == ("one class: kNN and mitigation need two or more and are not run",)
    out = tmp_path / "out"
    args = ["run", "--model", MODEL, "--dataset", str(root), "--out", str(out), "--family", "jpeg"]
    done = runner.invoke(app, [*args, "--probe-tune-epochs", "2", "--device", "cpu"])
    assert done.exit_code == 0, done.output
    assert "1 class (cat)" in done.output and "kNN and mitigation need two or more" in done.output
    assert [p.name for p in out.rglob("*-seed0.json")] == ["probe-processing-jpeg-seed0.json"]
    knn = runner.invoke(app, ["knn", "--model", MODEL, "--dataset", str(root), "--out", str(out)])
    assert knn.exit_code == 2 and "it has one class (cat); kNN and mitigation need two or more" in knn.output


def test_k_above_a_class_size_is_a_warning_printed_and_recorded(tmp_path):
    root = split_folder(tmp_path / "imagenet", per_class=(4, 2))  # 4 training images per class, k = 10 and 1
    out = tmp_path / "out"
    args = ["knn", "--model", MODEL, "--dataset", str(root), "--out", str(out), "--family", "sharpening"]
    done = runner.invoke(app, [*args, "--device", "cpu"])
    assert done.exit_code == 0, done.output
    (result,) = [p for p in out.rglob("knn-*.json")]
    import json

    warnings = json.loads(result.read_text())["parameters"]["warnings"]
    assert warnings == ["k=10 is above the database size of 2 classes: n01 (4), n02 (4)"]
    assert "k=10 is above the database size of 2 classes" in done.output


@pytest.mark.parametrize("split", ["val", "validation"])
def test_split_names_val_and_validation_are_one_split(tmp_path, split):
    root = split_folder(tmp_path / "imagenet", per_class=(3, 2))
    args = ["extract", "--model", MODEL, "--dataset", str(root), "--cache", str(tmp_path / "c"), "--split", split]
    done = runner.invoke(app, [*args, "--device", "cpu"])
    assert done.exit_code == 0, done.output
    assert "\nvalidation source " in done.output and "(4, 512)" in done.output
    missing = runner.invoke(app, [*args[:-2], "--split", "test", "--device", "cpu"])
    assert missing.exit_code == 2 and "has no test split; it has: train, validation" in missing.output


def test_class_folders_are_split_per_class_so_every_class_is_in_every_split(tmp_path):
    root = tiny_class_folder(tmp_path / "photos", classes=("a", "b", "c"), per_class=12)
    found = image_folder(root)
    sizes = found.split_sizes()
    assert sizes["all"] == {"train": 27, "validation": 3, "test": 6}
    assert all(sizes[name] == {"train": 9, "validation": 1, "test": 2} for name in ("a", "b", "c"))
    assert found.split_rule.startswith("per class 70/10/20")
    again = image_folder(root)
    assert [i.split for i in again.items] == [i.split for i in found.items]  # seeded: the same split every time


def test_a_class_too_small_for_every_split_is_said(tmp_path):
    root = tiny_class_folder(tmp_path / "photos", classes=("a", "b"), per_class=6)
    for extra in (root / "rare").glob("*"):
        extra.unlink()
    image(root / "rare" / "only.png")
    found = image_folder(root)
    assert found.split_sizes()["rare"] == {"train": 1, "validation": 0, "test": 0}
    assert "1 classes have fewer than 3 images and are not in every split" in found.notes
