"""``trace-bench mitigate``: erasers fitted on train erase a planted trace and keep the semantics."""

from __future__ import annotations

import json

import pytest
import torch
import typer
from typer.testing import CliRunner

from benchmark.cli.app import app
from benchmark.embeddings.released_layout import scan
from benchmark.protocols.erasers import load_eraser
from benchmark.protocols.probe import ProbeConfig
from benchmark.reporting.report import write_report
from benchmark.tasks.mitigation import Assigned, mitigate_acquisition, mitigate_processing, processing_metrics
from benchmark.testing.datasets import make_folder, paircams_release
from benchmark.testing.embeddings import FAMILY, planted_folder, random_embeddings

MODEL = "random:resnet10t"

FAST_PROBE = ProbeConfig(tune_epochs=5, epochs=30, precision="float32", device="cpu")
FAST_OPTIONS = ["--device", "cpu", "--probe-tune-epochs", "3", "--probe-refits", "2", "--probe-precision", "float32"]

runner = CliRunner()


def planted(seed=0):
    """Class centroids + a per-processing offset + noise: train [N, P, D] and val, with labels."""
    db, db_y, q, q_y = random_embeddings(n_db=400, n_q=150, n_proc=3, dim=24, classes=5, seed=seed)
    return (db, db_y), (q, q_y)


@pytest.mark.parametrize("seed", [0, 3])
def test_leace_erases_a_planted_processing_trace_and_keeps_the_semantics(seed):
    train, val = planted(seed)
    found = mitigate_processing(FAMILY, train, val, "leace", ks=(10,), probe=FAST_PROBE, refits=3, device="cpu")
    before, after = found.before, found.after
    assert before["probe_accuracy"] > before["chance"] + 0.4 and before["spd_p@k10"] > 0.1  # the trace is there
    assert abs(after["probe_accuracy"] - after["chance"]) <= 0.05  # the processing probe is at chance
    assert abs(after["spd_p@k10"]) <= before["spd_p@k10"] / 5
    assert after["all-same@k10"] >= before["all-same@k10"] - 0.08  # the semantics are kept
    assert found.eraser.rank == 2  # P - 1 directions


def test_leace_erases_the_trace_under_the_probe_of_a_set_with_its_own_validation_split():
    """The probe of a class folder (one drawn class per train and validation image) sees the trace
    before and none after, as the train/val probe does."""
    (db, db_y), val = planted(1)
    draw = torch.Generator().manual_seed(1)
    assigned = Assigned(
        db[340:], torch.randint(0, 3, (340,), generator=draw), torch.randint(0, 3, (60,), generator=draw)
    )
    found = mitigate_processing(
        FAMILY, (db[:340], db_y[:340]), val, "leace", ks=(10,), probe=FAST_PROBE, device="cpu", assigned=assigned
    )
    before, after = found.before, found.after
    assert before["probe_accuracy"] > before["chance"] + 0.4
    chance, tests = after["chance"], len(val[0]) * 3  # every test image under each of the 3 classes
    assert abs(after["probe_accuracy"] - chance) <= 3.5 * (chance * (1 - chance) / tests) ** 0.5  # sampling noise
    assert after["all-same@k10"] >= before["all-same@k10"] - 0.08


def test_camera_type_erasure_on_planted_pairs():
    gen = torch.Generator().manual_seed(1)
    subjects, offsets = torch.randn(300, 24, generator=gen), torch.randn(2, 24, generator=gen)
    cameras = subjects + 0.8 * offsets[0] + 0.6 * torch.randn(300, 24, generator=gen)
    phones = subjects + 0.8 * offsets[1] + 0.6 * torch.randn(300, 24, generator=gen)
    found, fitted = mitigate_acquisition(cameras, phones, "leace", probe=FAST_PROBE, device="cpu")
    before, after = found.before, found.after
    assert int(fitted.sum()) == 150
    assert before["spd_a"] > 0.1 and before["probe_accuracy"] > 0.9  # the camera type steers retrieval
    assert abs(after["spd_a"]) <= before["spd_a"] / 5 and abs(after["probe_accuracy"] - 0.5) <= 0.05
    assert after["recall_same_as_target"] >= before["recall_same_as_target"] - 0.08


def test_mitigate_command_on_a_released_folder_writes_before_after_and_the_eraser(tmp_path):
    folder, _ = planted_folder(tmp_path / "embeddings")
    out = tmp_path / "results"
    for method in ("leace", "paired"):
        done = runner.invoke(
            app, ["mitigate", "--embeddings", str(folder), "--out", str(out), "--method", method, *FAST_OPTIONS]
        )
        assert done.exit_code == 0, done.output
        assert f"mitigate sharpening seed 0 ({method}, rank" in done.stdout
    written = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert written == [f"mitigate-{m}-{FAMILY}-seed0.{s}" for m in ("leace", "paired") for s in ("json", "safetensors")]
    result = json.loads(next(out.rglob("mitigate-leace-*.json")).read_text())
    assert result["task"] == "mitigate" and result["target"] == FAMILY and result["method"] == "leace"
    assert result["metrics"] == result["after"] and set(result["before"]) == set(result["after"])
    assert {"probe_accuracy", "chance", "all-same@k10", "pos-same@k10", "neg-same@k10", "spd_p@k10"} <= set(
        result["after"]
    )
    parameters = result["parameters"]
    assert parameters["fitted_on"] == "train" and parameters["rank"] == 2 and parameters["method"] == "leace"
    assert result["before"]["spd_p@k10"] > 0.1 and abs(result["after"]["spd_p@k10"]) < result["before"]["spd_p@k10"] / 5

    # The saved eraser applied to the folder's embeddings gives the recorded after metrics.
    eraser, _ = load_eraser(parameters["eraser_file"])
    (encoder,) = scan(folder)
    train, val = (encoder.load(FAMILY, split) for split in ("train", "val"))
    again = processing_metrics(
        FAMILY, (eraser(train[0]), train[1]), (eraser(val[0]), val[1]), ks=(10, 1),
        probe=ProbeConfig(tune_epochs=3, precision="float32", device="cpu"), refits=2, device="cpu", seed=0,
    )  # fmt: skip
    for metric in ("all-same@k10", "spd_p@k10", "neg-same@k1"):
        assert again[metric] == pytest.approx(result["after"][metric], abs=1e-6)

    _, files = write_report(out)
    assert {"mitigation.md", "mitigation.csv", "mitigation.png"} <= {p.name for p in files}
    table = (out / "report" / "mitigation.md").read_text()
    assert (
        "| leace | 2 |" in table
        and "| paired | 2 |" in table
        and "→" in table
        and "## Mitigation" in (out / "report" / "summary.md").read_text()
    )


def test_mitigate_command_with_a_model_on_an_image_folder(tmp_path):
    folder = make_folder(tmp_path / "images", per_class=12)
    out = tmp_path / "results"
    args = ["mitigate", "--model", MODEL, "--dataset", str(folder), "--out", str(out), "--family", "jpeg"]
    done = runner.invoke(app, [*args, *FAST_OPTIONS])
    assert done.exit_code == 0, done.output
    (path,) = out.rglob("*.json")
    result = json.loads(path.read_text())
    assert result["encoder"] == MODEL and result["target"] == "jpeg" and result["parameters"]["fitted_on"] == "train"
    assert result["parameters"]["classes"] and path.with_suffix(".safetensors").is_file()
    assert list((out / "cache").rglob("*.safetensors"))  # the embeddings went through the cache


def test_mitigate_command_with_a_model_on_paircams(tmp_path, offline):
    folder = paircams_release(tmp_path / "paircams")
    out = tmp_path / "results"
    args = ["mitigate", "--model", MODEL, "--dataset", str(folder), "--out", str(out), "--method", "paired"]
    done = runner.invoke(app, [*args, *FAST_OPTIONS])
    assert done.exit_code == 0, done.output
    (path,) = out.rglob("*.json")
    result = json.loads(path.read_text())
    assert result["target"] == "paircams" and result["parameters"]["concept"] == "camera type"
    assert result["parameters"]["fitted_subjects"] == 5 and result["parameters"]["measured_subjects"] == 5
    assert {"spd_a", "recall_same_as_query", "recall_same_as_target", "probe_accuracy"} <= set(result["after"])
    assert result["parameters"]["rank"] == 1 and result["after"]["chance"] == 0.5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "pca"], "'pca' is not one of"),
        (["--model", "x"], "replaces --model and --dataset"),
    ],
)
def test_mitigate_command_refuses_bad_options(tmp_path, extra, message):
    folder, _ = planted_folder(tmp_path / "embeddings")
    done = runner.invoke(app, ["mitigate", "--embeddings", str(folder), "--out", str(tmp_path / "r"), *extra])
    assert done.exit_code == 2 and message in done.output
    missing = runner.invoke(app, ["mitigate", "--out", str(tmp_path / "r")])
    assert missing.exit_code == 2 and "--embeddings DIR" in missing.output


def test_mitigate_offers_every_option_of_run():
    commands = typer.main.get_command(app).commands

    def options(command: str) -> set[str]:
        return {flag for param in commands[command].params for flag in param.opts if flag.startswith("--")}

    assert {"--offline", "--executor", "--revision", "--split", "--config"} <= options("mitigate")
    # the options of the paper's tasks and zero-shot, not mitigation's
    shared = options("run") - {"--mask-ratio", "--target", "--vote-ties", "--templates"}
    assert shared <= options("mitigate"), shared - options("mitigate")


def test_mitigate_before_is_runs_numbers_on_a_class_folder(tmp_path):
    """A class folder (its own validation split): mitigate measures 'before' with run's own protocol."""
    folder = make_folder(tmp_path / "images", per_class=12)
    out, cache = tmp_path / "results", tmp_path / "cache"
    common = ["--model", MODEL, "--dataset", str(folder), "--out", str(out), "--cache", str(cache), "--family", "jpeg"]
    common += ["--device", "cpu", "--probe-tune-epochs", "3", "--probe-precision", "float32"]
    assert runner.invoke(app, ["run", *common]).exit_code == 0
    done = runner.invoke(app, ["mitigate", *common])
    assert done.exit_code == 0, done.output
    found = {p.name: json.loads(p.read_text()) for p in out.rglob("*-seed0.json")}
    probe, knn, mitigated = (found[f"{task}-jpeg-seed0.json"] for task in ("probe-processing", "knn", "mitigate-leace"))
    before = mitigated["before"]
    assert before["probe_accuracy"] == probe["metrics"]["accuracy"]
    assert before["spd_p@k10"] == knn["metrics"]["spd_p@k10"] and before["knn_chance"] == knn["metrics"]["chance"]
    assert "assigned classes of run's processing probe" in mitigated["parameters"]["probe_protocol"]
