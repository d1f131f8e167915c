"""Sweeps (several encoders × datasets in one run) and errors that stop a run before any work."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import benchmark.encoders
from benchmark.cli.app import app
from benchmark.encoders.registry import list_encoders
from benchmark.runs.sweep import expand_models
from benchmark.testing.datasets import FLICKREXIF_CARD, official_layout, tiny_class_folder, write_card

runner = CliRunner()
MODEL = "random:resnet10t"
FAST = ["--family", "sharpening", "--device", "cpu", "--probe-tune-epochs", "2"]


def test_paper_and_patterns_expand_to_registry_encoders():
    paper = expand_models(["paper"])
    assert len(paper) == 47 == sum(spec.paper for spec in list_encoders())
    assert expand_models(["siglip*", "siglip"]) == [s.alias or s.key for s in list_encoders("siglip*")]
    assert expand_models([MODEL, MODEL]) == [MODEL]  # each encoder once
    with pytest.raises(ValueError, match="no registered encoder matches"):
        expand_models(["nothing-like-this*"])
    with pytest.raises(ValueError, match="unknown encoder 'sigllip'"):
        expand_models([MODEL, "sigllip"])


def test_a_sweep_records_a_failing_encoder_and_goes_on(tmp_path):
    first, second = (
        tiny_class_folder(tmp_path / "first"),
        tiny_class_folder(tmp_path / "second", classes=("a", "b", "c")),
    )
    out = tmp_path / "results"
    args = ["probe", "--model", MODEL, "--model", "random:not_a_network", "--dataset", str(first)]
    done = runner.invoke(app, [*args, "--dataset", str(second), "--out", str(out), *FAST])
    assert done.exit_code == 1, done.output  # some pairs did not run
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("probe-*.json"))
    assert files == [
        "random_resnet10t/first/probe-processing-sharpening-seed0.json",
        "random_resnet10t/second/probe-processing-sharpening-seed0.json",
    ]
    outcomes = json.loads((out / "sweep.json").read_text())["outcomes"]
    assert [(o["encoder"], o["dataset"], o["results"]) for o in outcomes] == [
        ("random:resnet10t", "first", 1),
        ("random:resnet10t", "second", 1),
        ("random:not_a_network", "first", 0),
        ("random:not_a_network", "second", 0),
    ]
    assert "not_a_network" in outcomes[2]["error"] and outcomes[0]["error"] is None
    assert "Sweep: 2 of 4 ran" in done.output and "Traceback" not in done.output


def test_one_encoder_that_cannot_load_stops_with_its_message(tmp_path):
    done = runner.invoke(
        app,
        ["probe", "--model", "random:not_a_network", "--dataset", str(tiny_class_folder(tmp_path / "i")), "--out", "o"],
    )
    assert done.exit_code == 2 and "timm has no model 'not_a_network'" in done.output, done.output


@pytest.fixture
def no_model(monkeypatch):
    """The checks below must stop the run before any encoder is loaded."""

    def refuse(*args, **kwargs):
        raise AssertionError("an encoder was loaded before the dataset was checked")

    monkeypatch.setattr(benchmark.encoders, "load_encoder", refuse)
    monkeypatch.setattr(benchmark.encoders.factory, "load_encoder", refuse)  # what EncoderOptions.load calls


@pytest.mark.parametrize(
    "make_dataset, message",
    [
        (lambda tmp: str(tmp / "nowhere" / "images"), "holds no folders"),
        (lambda tmp: "nowhere", "no dataset folder nowhere"),
        (lambda tmp: (tmp / "releases" / "v1.0.0").mkdir(parents=True) or str(tmp / "releases" / "v1.0"), "v1.0.0/"),
        (lambda tmp: str((tmp / "empty").mkdir() or tmp / "empty"), "no images"),
        (lambda tmp: official_layout(tmp).replace(":", ":/missing-", 1), "no images folder"),
    ],
)
def test_a_dataset_that_is_not_there_stops_before_the_model_loads(tmp_path, no_model, make_dataset, message):
    dataset = make_dataset(tmp_path)
    done = runner.invoke(app, ["run", "--model", MODEL, "--dataset", dataset, "--out", str(tmp_path / "o")])
    assert done.exit_code == 2 and message in done.output, done.output
    assert "Traceback" not in done.output and not (tmp_path / "o").exists()


def test_an_unknown_target_names_the_valid_ones(tmp_path, no_model):
    dataset = str(write_card(tmp_path / "flickr", FLICKREXIF_CARD))
    done = runner.invoke(app, ["probe", "--model", MODEL, "--dataset", dataset, "--target", "Mkae", "--out", "o"])
    assert done.exit_code == 2, done.output
    assert "unknown --target Mkae" in done.output and "Make, Year" in done.output


@pytest.mark.parametrize("command", ["run", "probe"])
def test_a_target_on_datasets_without_targets_is_refused_before_the_model_loads(tmp_path, no_model, command):
    images = str(tiny_class_folder(tmp_path / "i"))
    done = runner.invoke(
        app, [command, "--model", MODEL, "--dataset", images, "--target", "no-such-target", "--out", "o"]
    )
    assert done.exit_code == 2, done.output
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and "--target no-such-target: no dataset of this run has acquisition targets" in lines[0]
    assert "i has: no acquisition targets" in lines[0] and not (tmp_path / "o").exists()


def test_a_target_that_one_dataset_of_the_run_has_is_accepted(tmp_path):
    from benchmark.runs.runner import check_targets
    from benchmark.sources.kinds import detect
    from benchmark.tasks.task import TaskOptions

    found = [detect(str(tiny_class_folder(tmp_path / "i"))), detect(str(write_card(tmp_path / "f", FLICKREXIF_CARD)))]
    check_targets(found, TaskOptions(targets=("Year",)))  # the image folder has none, the release has Year
    with pytest.raises(
        ValueError, match="unknown --target ISO for this run; i has: no acquisition targets; f has: Make, Year"
    ):
        check_targets(found, TaskOptions(targets=("ISO",)))


def test_an_unknown_target_of_the_official_layout_names_its_split_files(tmp_path, no_model):
    done = runner.invoke(
        app, ["probe", "--model", MODEL, "--dataset", official_layout(tmp_path), "--target", "ISO", "--out", "o"]
    )
    assert done.exit_code == 2 and "flickrexif-official has: Flash, Make" in done.output, done.output


def test_weights_file_with_a_sweep_is_refused(tmp_path, no_model):
    images = str(tiny_class_folder(tmp_path / "i"))
    (tmp_path / "w.pt").write_bytes(b"")
    done = runner.invoke(
        app, ["run", "--model", "paper", "--dataset", images, "--weights", str(tmp_path / "w.pt"), "--out", "o"]
    )
    assert done.exit_code == 2 and "not to a sweep of 47 encoders" in done.output, done.output
