"""The zero-shot task end to end, with random-weight two-tower open_clip models (the loopback Hub serves them).

The known answers: a text tower planted so that each class's prompts embed along that class's centroid
of training image embeddings classifies the test images near 100%; the same prompts handed to the
classes in a shuffled order score chance on average; an encoder without a text tower is skipped with
the reason.  The images and split are the acquisition probe's, and the probe's MP sits beside.
"""

from __future__ import annotations

import itertools
import json
import socket
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from benchmark.cli.app import app
from benchmark.embeddings.cache import EmbeddingCache
from benchmark.embeddings.extract import Extractor
from benchmark.encoders import load_encoder
from benchmark.imaging.masking import DEFAULT_MASK_RATIO
from benchmark.protocols.probe import ProbeConfig
from benchmark.sources.kinds import SourceOptions
from benchmark.tasks.probing import acquisition_split
from benchmark.tasks.prompts import default_templates, parse_templates
from benchmark.tasks.task import TaskOptions
from benchmark.tasks.zeroshot import zeroshot_task
from benchmark.testing.clip import plant_text, repo_files, tiny_clip
from benchmark.testing.datasets import coloured_official_layout, make_folder

pytest.importorskip("open_clip")

runner = CliRunner()
CLASSES = {"Make": ["Canon", "Nikon", "Sony"], "Is Smartphone": ["False", "True"]}
PER_CLASS = (6, 2, 6)  # train, val, test images per class
REPO = "test-org/planted-clip"
FAST = ["--probe-tune-epochs", "5"]
FAST_PROBE = ProbeConfig(learning_rates=(0.1, 1.0), weight_decays=(0.0,), epochs=20)


def expected_prompts(target: str, name: str) -> list[str]:
    """A class's prompts, read from the package's table as its format says (not through the library)."""
    entry = default_templates().targets[target]
    if name in entry.get("prompts", {}):
        return list(entry["prompts"][name])
    return [t.replace("{c}", entry.get("names", {}).get(name, name)) for t in entry["templates"]]


def save_folder(model: torch.nn.Module, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in repo_files(model).items():
        (folder / name).write_bytes(content)
    return f"open_clip:local-dir:{folder}"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """(dataset, planted model): a random tiny CLIP whose text tower says, for each prompt of each class,
    that class's centroid of the training images' embeddings (the acquisition probe's masked input)."""
    root = tmp_path_factory.mktemp("planted")
    dataset = coloured_official_layout(root / "data", CLASSES, per_class=PER_CLASS)
    model = tiny_clip(seed=0)
    encoder = load_encoder(save_folder(model, root / "random"))
    found = SourceOptions((dataset,)).detect(dataset)
    extractor = Extractor(cache=EmbeddingCache(root / "cache"))
    prompts, targets = [], []
    for target, classes in CLASSES.items():
        x, y = acquisition_split(encoder, found.open(target), "train", extractor, 0, DEFAULT_MASK_RATIO)
        unit = torch.nn.functional.normalize(x, dim=1)
        for label, name in enumerate(classes):
            own = expected_prompts(target, name)
            prompts += own
            targets += [unit[y == label].mean(0)] * len(own)
    plant_text(model, prompts, torch.stack(targets))
    return dataset, model


def results_of(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(out.rglob("*.json")) if p.name != "sweep.json"}


def refuse_connections(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_planted_prompts_classify_near_perfectly_and_run_offline_after_the_first_download(
    planted, hub, env, tmp_path, monkeypatch
):
    dataset, model = planted
    commit = hub.push(REPO, repo_files(model))
    cache = tmp_path / "cache"
    args = ["zeroshot", "--model", f"open_clip:hf-hub:{REPO}", "--dataset", dataset, "--cache", str(cache), *FAST]
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "online")])
    assert done.exit_code == 0, done.output
    found = results_of(tmp_path / "online")
    assert sorted(found) == ["zeroshot-Is_Smartphone-seed0.json", "zeroshot-Make-seed0.json"]
    for target, classes in CLASSES.items():
        result = found[f"zeroshot-{target.replace(' ', '_')}-seed0.json"]
        metrics = result["metrics"]
        assert metrics["accuracy"] >= 0.9 and metrics["mean_per_class_recall"] >= 0.9, (target, metrics)
        assert metrics["chance"] == pytest.approx(1 / len(classes))
        assert 0 <= metrics["probe_accuracy"] <= 1 and 0 <= metrics["probe_mean_per_class_accuracy"] <= 1
        parameters = result["parameters"]
        assert parameters["prompts"] == {name: expected_prompts(target, name) for name in classes}
        assert parameters["templates"]["sha256"] == default_templates().sha256
        assert parameters["text_tower"]["weights"] == f"hf-cache:{REPO}@{commit}/open_clip_model.safetensors"
        assert (parameters["test_split"], parameters["mask_ratio"]) == ("test", DEFAULT_MASK_RATIO)
        assert parameters["probe"]["tune_epochs"] == 5 and parameters["classes"] == classes
        assert result["details"]["n_test"] == len(classes) * PER_CLASS[2]
        assert sum(result["details"]["predicted_per_class"]) == result["details"]["n_test"]
    cached = sorted(cache.rglob("*.safetensors"))

    hub.close()  # the Hub is gone and the network refused: the caches serve the second run
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    refuse_connections(monkeypatch)
    again = runner.invoke(app, [*args, "--out", str(tmp_path / "offline"), "--offline"])
    assert again.exit_code == 0, again.output
    for name, result in results_of(tmp_path / "offline").items():
        assert result["metrics"] == found[name]["metrics"]
    assert sorted(cache.rglob("*.safetensors")) == cached  # image and text embeddings reused, nothing new


def test_shuffled_prompts_score_chance_on_average(planted, tmp_path):
    """Every order of the classes' prompts: the right one is near 100%; on average over all orders each
    class is recalled as often as chance says (a class keeps its own prompts in 1 of its C orders)."""
    dataset, model = planted
    encoder = load_encoder(save_folder(model, tmp_path / "model"))
    image_set = SourceOptions((dataset,)).detect(dataset).open("Make")
    extractor = Extractor(cache=EmbeddingCache(tmp_path / "cache"))
    names = CLASSES["Make"]
    recalls = {}
    for order in itertools.permutations(range(len(names))):
        prompts = {name: expected_prompts("Make", names[j]) for name, j in zip(names, order)}
        table = json.dumps({"format": 1, "targets": {"Make": {"prompts": prompts}}}).encode()
        options = TaskOptions(probe=FAST_PROBE, templates=parse_templates(table, f"order {order}"))
        result = zeroshot_task(encoder, image_set, "Make", extractor, 0, options)
        recalls[order] = result.metrics["mean_per_class_recall"]
    assert recalls[(0, 1, 2)] >= 0.9
    assert sum(recalls.values()) / len(recalls) == pytest.approx(1 / len(names), abs=0.05), recalls


def test_run_puts_zero_shot_beside_the_probe_on_the_same_split(planted, tmp_path):
    dataset, model = planted
    out = tmp_path / "results"
    args = ["run", "--model", save_folder(model, tmp_path / "model"), "--dataset", dataset, "--out", str(out)]
    done = runner.invoke(app, [*args, *FAST, "--target", "Make"])
    assert done.exit_code == 0, done.output
    found = results_of(out)
    assert sorted(found) == ["probe-acquisition-Make-seed0.json", "zeroshot-Make-seed0.json"]
    probe, zeroshot = found["probe-acquisition-Make-seed0.json"], found["zeroshot-Make-seed0.json"]
    assert zeroshot["metrics"]["probe_accuracy"] == probe["metrics"]["accuracy"]
    assert zeroshot["metrics"]["probe_mean_per_class_accuracy"] == probe["metrics"]["mean_per_class_accuracy"]
    timeless = [
        {k: v for k, v in details.items() if k != "seconds"}
        for details in (zeroshot["details"]["probe"], probe["details"])
    ]
    assert timeless[0] == timeless[1]  # the same grid, choice and predictions: the same probe


def test_a_processing_family_prompts_its_classes_on_the_probes_test_set(planted, tmp_path):
    _, model = planted
    images = make_folder(tmp_path / "images", per_class=10)
    out = tmp_path / "results"
    args = ["zeroshot", "--model", save_folder(model, tmp_path / "model"), "--dataset", str(images), "--out", str(out)]
    done = runner.invoke(app, [*args, *FAST, "--family", "jpeg"])
    assert done.exit_code == 0, done.output
    (result,) = results_of(out).values()
    assert result["target"] == "jpeg" and result["metrics"]["chance"] == pytest.approx(1 / 6)
    assert (
        result["parameters"]["prompts"]["q75-420"][0]
        == "a JPEG photo compressed at quality 75 with 4:2:0 chroma subsampling."
    )
    image_set_test = result["details"]["n_test"] // 6
    assert image_set_test > 0 and result["details"]["n_test"] == 6 * image_set_test  # every test image x every class
    assert result["details"]["probe"]["n_test"] == result["details"]["n_test"]


def test_an_encoder_without_a_text_tower_is_skipped_with_the_reason(planted, tmp_path, monkeypatch):
    dataset, model = planted
    clip = save_folder(model, tmp_path / "model")
    # alone, zero-shot is all it was asked for: one line, exit 2, and the model is never loaded
    import benchmark.encoders.factory

    loaded = []
    original = benchmark.encoders.factory.EncoderOptions.load
    monkeypatch.setattr(
        benchmark.encoders.factory.EncoderOptions,
        "load",
        lambda self, name: loaded.append(name) or original(self, name),
    )
    alone = runner.invoke(
        app, ["zeroshot", "--model", "random:resnet10t", "--dataset", dataset, "--out", str(tmp_path / "a")]
    )
    assert (
        alone.exit_code == 2 and "random:resnet10t has no text tower: zero-shot needs a vision-language" in alone.output
    )
    assert loaded == []

    # in a sweep it is recorded and the sweep goes on
    out = tmp_path / "sweep"
    args = ["zeroshot", "--model", "random:resnet10t", "--model", clip, "--dataset", dataset, "--out", str(out)]
    swept = runner.invoke(app, [*args, *FAST, "--target", "Make"])
    assert swept.exit_code == 0, swept.output
    assert "random:resnet10t: skipped" in swept.output and loaded == [clip]
    record = {o["encoder"]: o for o in json.loads((out / "sweep.json").read_text())["outcomes"]}
    assert record["random:resnet10t"]["results"] == 0 and record["random:resnet10t"]["error"] is None
    assert "has no text tower" in record["random:resnet10t"]["skipped"]["zeroshot"]
    assert record[clip]["results"] == 1 and record[clip]["skipped"] == {}

    # in `run`, the probes run and zero-shot is skipped, saying why
    ran = runner.invoke(
        app, ["run", "--model", "random:resnet10t", "--dataset", dataset, "--out", str(tmp_path / "r"), *FAST]
    )
    assert ran.exit_code == 0, ran.output
    assert sorted(results_of(tmp_path / "r")) == [
        "probe-acquisition-Is_Smartphone-seed0.json",
        "probe-acquisition-Make-seed0.json",
    ]
    skipped = [line for line in ran.output.splitlines() if "skipped (random:resnet10t has no text tower" in line]
    assert len(skipped) == 1 and "zeroshot Make" in skipped[0] and "zeroshot Is Smartphone" in skipped[0], ran.output


def test_a_target_the_table_lacks_and_a_bad_table_stop_before_any_model_loads(planted, tmp_path):
    dataset, _ = planted
    table = tmp_path / "mine.json"
    table.write_text(json.dumps({"format": 1, "targets": {"Make": {"templates": ["a {c} photo."]}}}))
    base = ["zeroshot", "--model", "random:resnet10t", "--dataset", dataset, "--out", str(tmp_path / "o")]
    lacking = runner.invoke(app, [*base, "--templates", str(table), "--target", "Is Smartphone"])
    assert (
        lacking.exit_code == 2
        and "--target Is Smartphone: " in lacking.output
        and "has no prompts for it" in lacking.output
    )
    table.write_text("{not json")
    bad = runner.invoke(app, [*base, "--templates", str(table)])
    assert bad.exit_code == 2 and "mine.json is not JSON" in bad.output and "Traceback" not in bad.output


def test_the_plan_counts_the_prompts_it_does_not_time(planted, tmp_path):
    dataset, model = planted
    clip = save_folder(model, tmp_path / "model")
    args = ["run", "--model", clip, "--dataset", dataset, "--out", str(tmp_path / "o"), "--target", "Make"]
    done = runner.invoke(app, [*args, "--device", "cpu", "--plan", "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.stdout)
    prompts = sum(len(expected_prompts("Make", name)) for name in CLASSES["Make"])
    assert "zeroshot" in found["tasks"] and prompts > 0
    assert any(f"zero-shot's {prompts:,} prompts through the text towers" in note for note in found["notes"])
