"""trace-bench end to end on generated images and a tiny random model: run, cache, report.

Includes the known-answer checks: a processing the model can see is probed far above chance;
labels independent of the images stay at chance.
"""

from __future__ import annotations

import json
import random
from collections import Counter

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from benchmark.cli.app import app
from benchmark.embeddings.cache import EmbeddingCache
from benchmark.embeddings.extract import Extractor, extract
from benchmark.embeddings.variants import Variant
from benchmark.encoders import load_encoder
from benchmark.protocols.probe import ProbeConfig
from benchmark.sources.folder import image_folder
from benchmark.sources.imageset import ImageItem, ImageSet
from benchmark.tasks.probing import acquisition_probe, processing_probe
from benchmark.testing.datasets import make_folder

runner = CliRunner()
MODEL = "random:resnet10t"
FAST_PROBE = ProbeConfig(learning_rates=(0.1, 1.0, 10.0), weight_decays=(0.0, 1e-4), epochs=30)


@pytest.fixture(scope="module")
def encoder():
    return load_encoder(MODEL)


@pytest.mark.slow
def test_probe_sees_visible_processing_and_not_random_labels(tmp_path):
    # The offline pretrained EfficientNet-Lite0: random networks' pooled features are nearly
    # constant (cosine > 0.999 between any two images), so only a trained model is a fair check.
    encoder = load_encoder("effnet-lite0")
    image_set = image_folder(make_folder(tmp_path / "images", per_class=40))
    options = Extractor(cache=EmbeddingCache(tmp_path / "cache"))
    visible = processing_probe(encoder, image_set, "resizing", options, probe_config=FAST_PROBE)
    assert visible.metrics["accuracy"] > visible.metrics["chance"] + 0.25

    rng = random.Random(0)  # labels drawn independently of the images
    shuffled = ImageSet(
        name="random-labels",
        class_names=("a", "b", "c", "d"),
        target="random",
        items=tuple(ImageItem(id=i.id, split=i.split, read=i.read, label=rng.randrange(4)) for i in image_set.items),
        fingerprint="random-labels",
    )
    blind = acquisition_probe(encoder, shuffled, options, mask_ratio=0.5, probe_config=FAST_PROBE)
    assert blind.metrics["accuracy"] < blind.metrics["chance"] + 0.15


def test_cache_is_reused_and_keyed_by_every_setting(tmp_path, encoder):
    image_set = image_folder(make_folder(tmp_path / "images", per_class=6))
    cache = EmbeddingCache(tmp_path / "cache")
    plain, masked = Variant("jpeg", "q75-420"), Variant("jpeg", "q75-420", mask_ratio=0.9)
    first = extract(encoder, image_set, "train", [plain, masked], cache)
    files = sorted(cache.root.rglob("*.safetensors"))
    assert len(files) == 2 and not list(cache.root.rglob("*.partial"))
    assert not np.allclose(first[plain].vectors.numpy(), first[masked].vectors.numpy())
    again = extract(encoder, image_set, "train", [plain], cache)
    assert np.array_equal(again[plain].vectors.numpy(), first[plain].vectors.numpy())
    assert sorted(cache.root.rglob("*.safetensors")) == files  # nothing recomputed
    assert again[plain].ids == [item.id for item in image_set.split("train")]
    other = load_encoder(MODEL, seed=1)
    extract(other, image_set, "train", [plain], cache)
    assert len(list(cache.root.rglob("*.safetensors"))) == 3  # another weight, another file
    provenance = again[plain].provenance
    assert provenance["encoder"]["key"] == MODEL and provenance["variant"]["class"] == "q75-420"


def test_run_then_report_end_to_end(tmp_path):
    folder = make_folder(tmp_path / "images", per_class=8)
    out = tmp_path / "results"
    args = [
        "run",
        "--model",
        MODEL,
        "--dataset",
        str(folder),
        "--out",
        str(out),
        "--family",
        "jpeg",
        "--probe-tune-epochs",
        "20",
        "--probe-precision",
        "bfloat16",
        "--device",
        "cpu",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    files = sorted(p for p in out.rglob("*.json"))
    assert [p.name for p in files] == ["knn-jpeg-seed0.json", "probe-processing-jpeg-seed0.json"]
    probe = json.loads(files[1].read_text())
    assert probe["parameters"]["encoder"]["key"] == MODEL and probe["seed"] == 0
    assert 0 <= probe["metrics"]["accuracy"] <= 1 and probe["metrics"]["chance"] == pytest.approx(1 / 6)
    assert probe["parameters"]["probe"]["tune_epochs"] == 20 and probe["parameters"]["probe"]["precision"] == "bfloat16"
    knn = json.loads(files[0].read_text())
    assert {"all-same@k10", "neg-same@k1", "spd_p@k10"} <= set(knn["metrics"])

    before = {p: p.stat().st_mtime_ns for p in files}
    again = runner.invoke(app, [*args, "--skip-existing"])
    assert again.exit_code == 0
    assert {p: p.stat().st_mtime_ns for p in files} == before

    report = runner.invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    row = next(line for line in report.stdout.splitlines() if "| probe-processing | jpeg |" in line)
    assert row.startswith(f"| {MODEL} | images |") and "| MP " in row and "% | 16.7% |" in row  # percent, chance
    written = {p.name for p in (out / "report").iterdir()}
    assert {
        "summary.csv",
        "summary.md",
        "metrics.csv",
        "probe-processing-jpeg-images.png",
        "knn-jpeg-images.png",
    } <= written


def test_run_on_a_folder_without_classes_does_the_processing_probes_only(tmp_path):
    folder = make_folder(tmp_path / "staging", per_class=20)
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in folder.rglob("*.jpg"):
        path.rename(flat / path.name)
    out = tmp_path / "results"
    result = runner.invoke(
        app,
        [
            "run",
            "--model",
            MODEL,
            "--dataset",
            str(flat),
            "--out",
            str(out),
            "--family",
            "resizing",
            "--probe-tune-epochs",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.rglob("*.json")] == ["probe-processing-resizing-seed0.json"]


def test_device_option_reaches_the_probe(tmp_path, monkeypatch):
    import benchmark.runs.sweep

    seen = {}
    monkeypatch.setattr(benchmark.runs.sweep, "prepare", lambda *args: None)  # nothing embedded: the probe's options
    monkeypatch.setattr(
        benchmark.runs.sweep,
        "run",
        lambda encoder, found, extractor, options, results, on_task, on_skip: (
            seen.update(probe=options.probe.device, extract=extractor.device) or []
        ),
    )
    images = make_folder(tmp_path / "images", per_class=2)
    result = runner.invoke(
        app, ["run", "--model", MODEL, "--dataset", str(images), "--out", str(tmp_path / "o"), "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    assert seen == {"probe": "cpu", "extract": "cpu"}


def test_models_lists_aliases_and_groups():
    result = runner.invoke(app, ["models", "siglip*", "--json"])
    rows = json.loads(result.stdout)
    assert rows and all(r["group"] == "CVL" for r in rows)
    assert any(r["alias"] == "siglip" or "siglip" in r["key"] for r in rows)
    assert {r["weights"] for r in rows if r["alias"] == "siglip-vit-b16-256"} == {
        "hf:timm/vit_base_patch16_siglip_256.webli"
    }


def test_models_paper_lists_the_released_47():
    rows = json.loads(runner.invoke(app, ["models", "--paper", "--json"]).stdout)
    assert len(rows) == 47 and all(r["paper"] and r["released"] for r in rows)
    assert len({r["key"] for r in rows}) == 47
    table = runner.invoke(app, ["models", "--paper"])
    assert table.exit_code == 0 and "47 paper encoders" in table.stdout


def test_unknown_model_and_missing_weights_are_clear(tmp_path):
    folder = make_folder(tmp_path / "images", per_class=3)
    unknown = runner.invoke(app, ["run", "-m", "siglp", "-d", str(folder), "-o", str(tmp_path / "r")])
    assert unknown.exit_code == 2 and "siglip" in unknown.stderr
    missing = runner.invoke(
        app,
        ["run", "-m", "siglip", "-d", str(folder), "-o", str(tmp_path / "r")],
        env={"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache")},
    )
    assert missing.exit_code == 2 and "Missing weights" in missing.stderr


def test_report_of_an_empty_folder(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "no result files" in result.stderr


def test_extract_command_writes_cache_files(tmp_path):
    folder = make_folder(tmp_path / "images", per_class=4)
    result = runner.invoke(
        app,
        [
            "extract",
            "-m",
            MODEL,
            "-d",
            str(folder),
            "--cache",
            str(tmp_path / "cache"),
            "--variant",
            "sharpening/all",
            "--variant",
            "source",
            "--split",
            "train",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("train") for line in lines)
    assert len(list((tmp_path / "cache").rglob("*.safetensors"))) == 4
    bad = runner.invoke(
        app, ["extract", "-m", MODEL, "-d", str(folder), "--cache", str(tmp_path / "c"), "--variant", "blur/x2"]
    )
    assert bad.exit_code == 2 and "unknown processing family" in bad.stderr


def test_extract_names_the_images_it_could_not_read(tmp_path):
    folder = make_folder(tmp_path / "images", per_class=4)
    first_class = sorted(p for p in folder.iterdir() if p.is_dir())[0]
    (first_class / "empty.jpg").write_bytes(b"")
    (first_class / "notes.jpg").write_text("not a picture")
    args = ["extract", "-m", MODEL, "-d", str(folder), "--cache", str(tmp_path / "cache"), "--variant", "source"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 images could not be read and were left out" in result.stderr, result.stderr
    assert "empty.jpg" in result.stderr and "notes.jpg" in result.stderr, result.stderr
    assert "images" in result.stderr.splitlines()[0], result.stderr  # the dataset summary comes first


def test_official_flickrexif_layout(tmp_path, paper_splits):
    """Images named by Flickr id next to the paper's split files (a few real ids of the real file)."""
    spec = json.loads((paper_splits / "split_data_target_attribute=Make.json").read_text())
    images, splits = tmp_path / "official", tmp_path / "splits"
    images.mkdir()
    splits.mkdir()
    rng = np.random.default_rng(1)
    subset = {}
    for split in ("train", "val", "test"):
        chosen, per_label = [], Counter()
        for photo_id, label in zip(spec[f"{split}_ids"], spec[f"encoded_{split}_labels"]):
            if per_label[label] < 2 and len(chosen) < 12:  # two photos of each of six classes
                per_label[label] += 1
                chosen.append((photo_id, label))
        ids, labels = [i for i, _ in chosen], [label for _, label in chosen]
        subset[f"{split}_ids"], subset[f"encoded_{split}_labels"] = ids, labels
        for photo_id in ids:
            pixels = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(images / f"{photo_id}.jpg", quality=90)
    subset.update(label_encoder_classes=spec["label_encoder_classes"], target_attribute="Make")
    (splits / "split_data_target_attribute=Make.json").write_text(json.dumps(subset))
    out = tmp_path / "results"
    result = runner.invoke(app, ["probe", "-m", MODEL, "-d", f"official:{images}:{splits}", "-o", str(out)])
    assert result.exit_code == 0, result.output
    (path,) = out.rglob("probe-acquisition-Make-seed0.json")
    data = json.loads(path.read_text())
    assert data["parameters"]["classes"] == spec["label_encoder_classes"]
    assert data["details"]["n_train"] == 12 and data["details"]["n_test"] == 12


def test_dataset_labels_keep_releases_of_the_same_version_apart(tmp_path):
    from benchmark.sources.kinds import detect

    def dataset_label(dataset: str) -> str:
        return detect(dataset).label

    flickr, pairs, bare = (tmp_path / name / "v1.0.0" for name in ("releases", "releases-paircams", "other"))
    for folder, card in ((flickr, "FlickrExif"), (pairs, "PairCams")):
        folder.mkdir(parents=True)
        (folder / "README.md").write_text(f"---\npretty_name: {card}\n---\n# {card}\n")
    bare.mkdir(parents=True)
    labels = {dataset_label(str(f)) for f in (flickr, pairs, bare)}
    assert labels == {"FlickrExif-v1.0.0", "PairCams-v1.0.0", "other-v1.0.0"}
    assert dataset_label(str(tmp_path / "my_images")) == "my_images"
    assert dataset_label(f"official:{tmp_path}:{tmp_path}") == "flickrexif-official"
