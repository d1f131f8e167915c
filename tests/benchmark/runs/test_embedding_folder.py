"""``--embeddings DIR`` (the released layout) for knn and probe, and ``extract --layout released``."""

from __future__ import annotations

import json
import os

import pytest
import torch
from typer.testing import CliRunner

from benchmark.cli.app import app
from benchmark.embeddings.released_layout import SOURCE, layout_split, model_and_variant, released_name
from benchmark.encoders.registry import resolve
from benchmark.imaging.processing import FAMILIES
from benchmark.protocols.knn import SETUPS
from benchmark.protocols.probe import ProbeConfig
from benchmark.protocols.refit import refit_probe
from benchmark.testing.datasets import split_folder
from benchmark.testing.embeddings import FAMILY, PAPER, planted_folder
from benchmark.testing.knn import released_protocol

runner = CliRunner()
MODEL = "random:resnet10t"


def results(out):
    return {p.name: json.loads(p.read_text()) for p in out.rglob("*.json")}


def test_knn_on_a_released_folder_equals_the_released_scripts_summary(tmp_path):
    folder, data = planted_folder(tmp_path / "embeddings")
    out = tmp_path / "results"
    done = runner.invoke(app, ["knn", "--embeddings", str(folder), "--out", str(out), "--device", "cpu"])
    assert done.exit_code == 0, done.output
    (result,) = results(out).values()
    assert result["encoder"] == resolve("clip-vit-b16").key and result["encoder_group"] == "CVL"
    assert result["target"] == FAMILY and result["parameters"]["encoder"]["released"] == PAPER
    for k in (1, 10):
        released = released_protocol(*data, k)
        for setup in SETUPS:
            assert result["metrics"][f"{setup}@k{k}"] == pytest.approx(released[setup], abs=1e-12), (setup, k)
        assert result["metrics"][f"spd_p@k{k}"] == pytest.approx(released["pos-same"] - released["neg-same"])
    assert result["metrics"]["pos-same@k10"] > result["metrics"]["neg-same@k10"]  # the planted trace shows


def test_probe_on_a_released_folder_is_the_standard_layout_probe(tmp_path):
    folder, (db, db_y, q, q_y) = planted_folder(tmp_path / "embeddings", model="mymodel,v1")
    out = tmp_path / "results"
    args = ["probe", "--embeddings", str(folder), "--out", str(out), "--device", "cpu"]
    args += ["--probe-tune-epochs", "3", "--probe-refits", "2", "--probe-precision", "float32"]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    (result,) = results(out).values()
    assert result["encoder"] == "mymodel,v1" and result["encoder_group"] is None  # not a registry encoder
    config = ProbeConfig(tune_epochs=3, precision="float32", device="cpu")
    classes = len(FAMILIES[FAMILY])
    test_x = torch.cat([q[:, i] for i in range(classes)])
    test_y = torch.arange(classes).repeat_interleave(len(q))
    expected = refit_probe(list(db.unbind(1)), test_x, test_y, config, seed=0, refits=2)
    assert result["metrics"]["accuracy"] == pytest.approx(expected.accuracy)
    assert result["metrics"]["accuracy"] > result["metrics"]["chance"] + 0.2  # the planted processing is seen
    assert result["parameters"]["probe"]["precision_used"] == "float32"


def test_an_incomplete_family_names_the_missing_files(tmp_path):
    folder, _ = planted_folder(tmp_path / "embeddings")
    next(folder.glob("SHARPEN_4/*split=val.safetensors")).unlink()
    done = runner.invoke(app, ["knn", "--embeddings", str(folder), "--out", str(tmp_path / "r"), "--family", FAMILY])
    assert done.exit_code == 2
    assert "SHARPEN_4/model=clip_variant=ViT-B-16_split=val.safetensors" in done.output
    assert "Traceback" not in done.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "r"], "missing --model"),
        (["--out", "r", "--embeddings", "e", "--model", MODEL], "replaces --model and --dataset"),
        (["--out", "r", "--embeddings", "nowhere"], "not a folder of embeddings"),
    ],
)
def test_embeddings_and_model_arguments_are_checked(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "e").mkdir()
    done = runner.invoke(app, ["knn", *args])
    assert done.exit_code == 2 and message in done.output, done.output


def test_naming_rules_of_the_layout():
    assert released_name(None, None) == SOURCE == "IDENTITY"
    assert model_and_variant("clip,ViT-L-14@336px", "open_clip:ViT-L-14-336/openai") == ("clip", "ViT-L-14@336px")
    assert model_and_variant(None, "timm:resnet10t") == ("timm", "resnet10t")
    assert model_and_variant(None, "effnet-lite0") == ("effnet-lite0", "default")
    assert layout_split("train", "validation") == "train" and layout_split("validation", "validation") == "val"
    assert layout_split("validation", "test") is None and layout_split("test", "test") == "val"


def test_extract_writes_the_released_layout_that_knn_reads_back(tmp_path):
    images = split_folder(tmp_path / "imagenet")
    layout, cache = tmp_path / "layout", tmp_path / "cache"
    args = ["extract", "--model", MODEL, "--dataset", str(images), "--cache", str(cache), "--device", "cpu"]
    done = runner.invoke(app, [*args, "--variant", f"{FAMILY}/all", "--layout", "released", "--out", str(layout)])
    assert done.exit_code == 0, done.output
    names = sorted(str(p.relative_to(layout)) for p in layout.rglob("*.safetensors"))
    assert names == sorted(
        f"{released_name(FAMILY, c)}/model=random_variant=resnet10t_split={s}.safetensors"
        for c in FAMILIES[FAMILY]
        for s in ("train", "val")
    )
    from_images, from_layout = tmp_path / "from-images", tmp_path / "from-layout"
    knn = ["knn", "--family", FAMILY, "--device", "cpu"]
    images_run = runner.invoke(
        app, [*knn, "--model", MODEL, "--dataset", str(images), "--cache", str(cache), "--out", str(from_images)]
    )
    assert images_run.exit_code == 0, images_run.output
    layout_run = runner.invoke(app, [*knn, "--embeddings", str(layout), "--out", str(from_layout)])
    assert layout_run.exit_code == 0, layout_run.output
    (a,) = results(from_images).values()
    (b,) = results(from_layout).values()
    assert a["metrics"] == b["metrics"]  # the same embeddings give the same numbers by either road


def test_extract_refuses_masked_variants_in_the_released_layout(tmp_path):
    images = split_folder(tmp_path / "imagenet")
    args = ["extract", "--model", MODEL, "--dataset", str(images), "--cache", str(tmp_path / "c")]
    done = runner.invoke(app, [*args, "--mask-ratio", "0.5", "--layout", "released", "--out", str(tmp_path / "l")])
    assert done.exit_code == 2 and "masked variants" in done.output, done.output


def _first_file(root):
    return sorted(root.rglob("*.safetensors"))[0]


def _fifo_in_place_of(path):
    path.unlink()
    os.mkfifo(path)


def _rewrite(root, **tensors):
    from safetensors.torch import load_file, save_file

    path = _first_file(root)
    found = load_file(str(path))
    save_file({**found, **tensors}, str(path))


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (
            lambda root: _first_file(root).write_bytes(_first_file(root).read_bytes()[:60]),
            "does not read as safetensors",
        ),
        (lambda root: _first_file(root).write_text("hello"), "does not read as safetensors"),
        (lambda root: _fifo_in_place_of(_first_file(root)), "is not a regular file"),
        (lambda root: _rewrite(root, image_embeddings=torch.full((120, 12), float("nan"))), "NaN or infinite"),
        (
            lambda root: _rewrite(root, label=torch.zeros(7, dtype=torch.long)),
            "image_embeddings must be [N, D] and label [N]",
        ),
        (
            lambda root: _rewrite(root, image_embeddings=torch.zeros(120, 5)),
            "-dimensional embeddings, the other sharpening files",
        ),
        (lambda root: _rewrite(root, label=torch.zeros(120)), "label must hold integer classes"),
    ],
    ids=["truncated", "text", "fifo", "nan", "label-count", "dimension", "float-labels"],
)
def test_an_embedding_file_that_is_not_one_is_named_in_one_line(tmp_path, spoil, message):
    folder, _ = planted_folder(tmp_path / "embeddings")
    spoil(folder)
    done = runner.invoke(app, ["knn", "--embeddings", str(folder), "--out", str(tmp_path / "out")])
    assert done.exit_code == 2, done.output
    lines = [line for line in done.output.splitlines() if message in line]
    assert lines and "Traceback" not in done.output, done.output


def test_a_label_of_fifty_million_is_one_class_among_the_others(tmp_path):
    folder, (db, db_y, q, q_y) = planted_folder(tmp_path / "embeddings")
    sparse = {0: 0, 1: 7, 2: 50_000_000, 3: 12}  # the same classes, named by far apart integers
    for path in folder.rglob("*.safetensors"):
        from safetensors.torch import load_file, save_file

        found = load_file(str(path))
        save_file({**found, "label": found["label"].apply_(lambda c: sparse[c])}, str(path))
    out = tmp_path / "out"
    done = runner.invoke(app, ["knn", "--embeddings", str(folder), "--out", str(out)])
    assert done.exit_code == 0, done.output
    dense = runner.invoke(
        app, ["knn", "--embeddings", str(planted_folder(tmp_path / "again")[0]), "--out", str(tmp_path / "o2")]
    )
    assert dense.exit_code == 0
    (sparse_result,), (dense_result,) = results(out).values(), results(tmp_path / "o2").values()
    assert sparse_result["metrics"] == dense_result["metrics"]  # renumbered in order: the same votes
