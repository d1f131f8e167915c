"""``trace-bench run --plan``: the counts of a small sweep are those the sweep then makes, a second plan
finds them in the cache, and the plan loads no model for counting and runs none of the sweep's images."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import benchmark.embeddings.batches
import benchmark.imaging.processing
from benchmark.cli.app import app
from benchmark.embeddings.extract import ExtractionOptions
from benchmark.embeddings.variants import Variant
from benchmark.encoders.factory import EncoderOptions
from benchmark.protocols.probe import ProbeConfig
from benchmark.runs.planning import plan_sweep
from benchmark.runs.results import ResultStore
from benchmark.runs.sweep import Sweep, run_sweep
from benchmark.sources.kinds import SourceOptions
from benchmark.tasks.task import TaskOptions
from benchmark.testing.datasets import make_folder, split_folder

MODELS = ("random:test_vit", "random:test_efficientnet", "random:test_resnet")  # two input geometries
runner = CliRunner()


@pytest.fixture
def sweep(tmp_path):
    folders = (
        str(make_folder(tmp_path / "images", per_class=7, size=(64, 48))),
        str(split_folder(tmp_path / "imagenet", per_class=(9, 3))),
    )
    return Sweep(
        SourceOptions(folders),
        EncoderOptions(MODELS, device="cpu"),
        ExtractionOptions(batch_size=4),
        TaskOptions(
            tasks=("probe-processing", "knn"),
            families=("sharpening", "interpolation"),
            seeds=(0, 1),
            refits=2,
            probe=ProbeConfig(tune_epochs=1, device="cpu", precision="float32"),
        ),
        ResultStore(tmp_path / "out"),
    )


class Counted:
    """What the pipeline makes: sources decoded, processings of full images, crops, images forwarded."""

    def __init__(self, monkeypatch):
        self.decoded, self.processed, self.cropped, self.forwarded = [], [], [], []
        real_open, real_apply = benchmark.embeddings.batches.open_rgb, benchmark.imaging.processing._apply
        real_pixels, real_forward = Variant.encoder_pixels, benchmark.embeddings.batches.forward_batch
        monkeypatch.setattr(
            benchmark.embeddings.batches, "open_rgb", lambda *a, **k: self.decoded.append(1) or real_open(*a, **k)
        )
        monkeypatch.setattr(
            benchmark.imaging.processing, "_apply", lambda *a, **k: self.processed.append(1) or real_apply(*a, **k)
        )
        monkeypatch.setattr(Variant, "encoder_pixels", lambda *a, **k: self.cropped.append(1) or real_pixels(*a, **k))
        monkeypatch.setattr(
            benchmark.embeddings.batches,
            "forward_batch",
            lambda member, pixels, device: self.forwarded.append(len(pixels)) or real_forward(member, pixels, device),
        )


def test_the_plan_counts_what_the_sweep_then_makes(sweep, monkeypatch):
    planned = plan_sweep(sweep, calibrate=False)
    assert (len(planned.encoders), planned.geometries, planned.results) == (3, 2, 3 * 2 * 4 * 2)
    assert planned.cohorts == [list(MODELS)]  # small encoders: held together
    counted = Counted(monkeypatch)
    done = run_sweep(sweep)
    assert not done.failed and len(done.written) == planned.results
    work = planned.work
    assert work.source_images == len(counted.decoded)
    assert work.processings == len(counted.processed)
    assert work.processed_inputs == len(counted.cropped)
    assert work.forward_passes == sum(counted.forwarded) and work.cached_forward_passes == 0
    written = sum(path.stat().st_size for path in (sweep.results.root / "cache").rglob("*.safetensors"))
    assert 0.5 * written <= work.cache_bytes <= written  # vectors and ids; not the provenance header
    again = plan_sweep(sweep, calibrate=False).work
    assert (again.forward_passes, again.cached_forward_passes, again.cache_bytes) == (0, work.forward_passes, 0)
    assert again.source_images == again.processed_inputs == 0


def test_skip_existing_results_are_not_planned_again(sweep):
    run_sweep(sweep)
    kept = Sweep(
        sweep.source, sweep.encoder, sweep.extraction, sweep.tasks, ResultStore(sweep.results.root, skip_existing=True)
    )
    assert plan_sweep(kept, calibrate=False).work.forward_passes == 0


def test_plan_json_prints_the_plan_and_an_estimate_and_runs_nothing(tmp_path):
    folder = make_folder(tmp_path / "images", per_class=5, size=(48, 40))
    args = ["run", *(a for m in MODELS for a in ("--model", m)), "--dataset", str(folder), "--out", str(tmp_path / "o")]
    done = runner.invoke(app, [*args, "--family", "jpeg", "--device", "cpu", "--plan", "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.stdout)
    keys = {"encoders", "geometries", "source_images", "processed_inputs", "forward_passes", "cached_forward_passes"}
    assert keys | {"cache_bytes", "estimated_seconds", "free_bytes"} <= set(found)
    assert found["encoders"] == 3 and found["geometries"] == 2 and found["estimated_seconds"] > 0
    assert found["source_images"] == 10 and not (tmp_path / "o").exists()  # nothing written
    assert found["tasks"] == ["knn", "probe-processing"] and found["results"] == 3 * 2  # no text tower: no zero-shot
    text = runner.invoke(app, [*args, "--family", "jpeg", "--device", "cpu", "--plan"])
    assert text.exit_code == 0 and "forward passes" in text.stdout and "estimated time" in text.stdout
    alone = runner.invoke(app, [*args, "--json"])
    assert alone.exit_code == 2 and "--json prints the plan" in alone.output


def test_a_cache_larger_than_the_free_disk_is_said_before_the_sweep(tmp_path, monkeypatch):
    import benchmark.runs.planning

    monkeypatch.setattr(benchmark.runs.planning, "_free_bytes", lambda folder: 1000)
    folder = make_folder(tmp_path / "images", per_class=5, size=(48, 40))
    done = runner.invoke(
        app, ["run", "-m", MODELS[0], "-d", str(folder), "-o", str(tmp_path / "o"), "--device", "cpu", "--plan"]
    )
    assert done.exit_code == 0 and "The embedding cache needs" in done.output and "1.0 kB free" in done.output


def test_mitigate_plans_its_sweep_too(tmp_path):
    """A folder's mitigation embeds every image under every JPEG class (train, validation and test): 6 inputs."""
    folder = make_folder(tmp_path / "images", per_class=4, size=(48, 40))
    args = ["mitigate", "-m", MODELS[0], "-d", str(folder), "-o", str(tmp_path / "o"), "--family", "jpeg"]
    done = runner.invoke(app, [*args, "--device", "cpu", "--plan", "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.stdout)
    assert found["tasks"] == ["mitigate"] and found["source_images"] == 8
    assert found["processed_inputs"] == found["forward_passes"] == 8 * 6 and not (tmp_path / "o").exists()
    embeddings = runner.invoke(app, [*args, "--embeddings", str(tmp_path), "--plan"])
    assert embeddings.exit_code == 2 and "--embeddings DIR embeds nothing" in embeddings.output


def test_unreadable_images_first_in_a_folder_are_passed_over_by_the_calibration(tmp_path):
    """The run leaves unreadable images out and names them; its plan must not stop on them either."""
    folder = make_folder(tmp_path / "images", per_class=7, size=(64, 48))
    for class_folder in (p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(class_folder.glob("*.jpg"))[:3]:  # the first of each class, which it would time
            path.write_bytes(b"")
    args = ["run", "-m", MODELS[0], "-d", str(folder), "-o", str(tmp_path / "out"), "--family", "jpeg"]
    done = runner.invoke(app, [*args, "--device", "cpu", "--plan", "--json"])
    assert done.exit_code == 0, done.output
    plan = json.loads(done.stdout)
    assert plan["source_images"] > 0 and plan["estimated_seconds"] > 0, plan
