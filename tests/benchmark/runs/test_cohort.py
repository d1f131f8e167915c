"""A sweep's cohort: each source decoded and processed once for all its encoders, each crop made once per
input geometry, and every encoder's embeddings and results those it gets alone."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

import benchmark.embeddings.batches
from benchmark.cli.app import app
from benchmark.embeddings.cache import EmbeddingCache, read_embeddings
from benchmark.embeddings.extract import Extractor, extract, extract_cohort
from benchmark.embeddings.variants import Variant
from benchmark.encoders import load_encoder
from benchmark.encoders.factory import Shape, encoder_shape, parameter_bytes
from benchmark.imaging.preprocess import Preprocess
from benchmark.protocols.probe import ProbeConfig
from benchmark.runs.cohort import cohort_inputs, plan_cohorts
from benchmark.runs.results import ResultStore
from benchmark.runs.runner import plan, result_path, run
from benchmark.sources.folder import image_folder
from benchmark.sources.kinds import detect
from benchmark.tasks.registry import TASKS
from benchmark.tasks.task import TaskOptions
from benchmark.testing.datasets import make_folder, official_layout, paircams_release, split_folder

SHARED = ("random:test_vit", "random:test_efficientnet", "random:test_convnext")  # one geometry: 160 px bicubic
OTHER = "random:test_resnet"  # 160 px bilinear: another geometry
FAMILIES = [Variant("jpeg", name) for name in ("q75-420", "q85-444", "q95-444")] + [
    Variant("sharpening", name) for name in ("none", "sharpness-x2")
]  # sharpening/none is jpeg/q95-444: 4 distinct inputs
runner = CliRunner()


@pytest.fixture(scope="module")
def encoders():
    return [load_encoder(name) for name in (*SHARED, OTHER)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("cohort") / "images", per_class=6, size=(72, 56))


@pytest.fixture(scope="module")
def images(folder):
    return image_folder(folder)


class Counts:
    """Sources decoded, uint8 crops made and images through each model, counted as the extraction runs."""

    def __init__(self, monkeypatch, encoders):
        self.decoded, self.crops, self.forwards = 0, 0, {id(e.model): 0 for e in encoders}
        real_open, real_pixels = benchmark.embeddings.batches.open_rgb, Variant.encoder_pixels

        def opened(*args, **kwargs):
            self.decoded += 1
            return real_open(*args, **kwargs)

        def cropped(variant, image, preprocess):
            self.crops += 1
            return real_pixels(variant, image, preprocess)

        monkeypatch.setattr(benchmark.embeddings.batches, "open_rgb", opened)
        monkeypatch.setattr(Variant, "encoder_pixels", cropped)
        self.hooks = [e.model.register_forward_hook(self.forwarded) for e in encoders]

    def forwarded(self, module, inputs, output):
        self.forwards[id(module)] += len(inputs[0])

    def close(self):
        for hook in self.hooks:
            hook.remove()


@pytest.fixture
def counts(monkeypatch, encoders):
    counted = Counts(monkeypatch, encoders)
    yield counted
    counted.close()


def test_a_cohort_gives_each_encoder_the_embeddings_it_gets_alone(tmp_path, encoders, images):
    masked = Variant(mask_ratio=0.5, crop_encoding="q95-444")
    wanted = [
        FAMILIES,
        [*FAMILIES, masked],
        [Variant("sharpening", assigned=True), FAMILIES[0]],
        [*FAMILIES, masked, Variant("interpolation", "lanczos")],
    ]
    how = {"seed": 3, "batch_size": 4, "device": "cpu"}
    together = extract_cohort(encoders, images, "train", wanted, EmbeddingCache(tmp_path / "cohort"), **how)
    for position, (encoder, variants) in enumerate(zip(encoders, wanted)):
        alone = extract(encoder, images, "train", variants, EmbeddingCache(tmp_path / f"alone{position}"), **how)
        for variant in variants:
            assert together[position][variant].ids == alone[variant].ids
            assert torch.equal(together[position][variant].vectors, alone[variant].vectors), (position, variant.name)
    assert not torch.equal(together[0][FAMILIES[0]].vectors, together[1][FAMILIES[0]].vectors[:, :64])


def test_a_cohort_decodes_each_source_once_and_crops_once_per_geometry(tmp_path, encoders, images, counts):
    sources = len(images.split("train"))
    extract_cohort(
        encoders, images, "train", [FAMILIES] * 4, EmbeddingCache(tmp_path / "c"), batch_size=4, device="cpu"
    )
    assert counts.decoded == sources
    assert counts.crops == sources * 4 * 2  # 4 distinct inputs, 2 geometries
    assert list(counts.forwards.values()) == [sources * 4] * 4  # each encoder embeds each distinct input once
    counts.decoded = counts.crops = 0
    for position, encoder in enumerate(encoders):
        extract(
            encoder, images, "train", FAMILIES, EmbeddingCache(tmp_path / f"a{position}"), batch_size=4, device="cpu"
        )
    assert (counts.decoded, counts.crops) == (4 * sources, 4 * 4 * sources)  # alone: the work of each, again


def test_what_an_encoder_has_in_the_cache_is_not_prepared_for_it(tmp_path, encoders, images, counts):
    cache = EmbeddingCache(tmp_path / "cache")
    extract(encoders[3], images, "train", FAMILIES, cache, batch_size=4, device="cpu")
    counts.crops, counts.forwards[id(encoders[3].model)] = 0, 0
    again = extract_cohort(encoders, images, "train", [FAMILIES] * 4, cache, batch_size=4, device="cpu", keep=False)
    assert again == [None] * 4
    assert counts.forwards[id(encoders[3].model)] == 0
    assert counts.crops == len(images.split("train")) * 4  # the other geometry's crops are not made


def test_cohorts_hold_encoders_by_geometry_while_their_parameters_fit():
    def shape(size: int, crop: int) -> Shape:
        return Shape(Preprocess(crop, (0.5,) * 3, (0.5,) * 3), embed_dim=8, parameter_bytes=size)

    shapes = [shape(10, 224), shape(20, 256), None, shape(15, 224), shape(50, 224), shape(5, 256)]
    # by geometry: 224 (0, 3, 4), then 256 (1, 5); each cohort within 30 bytes; the unknown one alone, last
    assert plan_cohorts(shapes, budget=30) == [[0, 3], [4], [1, 5], [2]]
    assert plan_cohorts(shapes, budget=100) == [[0, 3, 4, 1, 5], [2]]
    assert plan_cohorts(shapes, budget=100, by_geometry=True) == [[0, 3, 4], [1, 5], [2]]


def test_a_shape_is_the_loaded_encoder_without_its_weights(encoders):
    for encoder in encoders:
        found = encoder_shape(encoder.spec.key)
        assert found == Shape(encoder.preprocess, encoder.embed_dim, parameter_bytes(encoder.model))
    assert encoder_shape("random:not_a_network") is None


def untimed(details: dict) -> dict:
    return {key: value for key, value in details.items() if key != "seconds"}


def test_a_sweep_prepares_once_and_writes_the_results_of_one_encoder_runs(tmp_path, folder, encoders, counts):
    fast = ["--family", "sharpening", "--device", "cpu", "--probe-tune-epochs", "2", "--probe-precision", "float32"]
    models = [arg for name in SHARED for arg in ("--model", name)]
    done = runner.invoke(app, ["run", *models, "--dataset", str(folder), "--out", str(tmp_path / "sweep"), *fast])
    assert done.exit_code == 0, done.output
    shared = counts.decoded, counts.crops
    counts.decoded = counts.crops = 0
    for name in SHARED:
        alone = runner.invoke(
            app, ["run", "--model", name, "--dataset", str(folder), "--out", str(tmp_path / name), *fast]
        )
        assert alone.exit_code == 0, alone.output
    assert (3 * shared[0], 3 * shared[1]) == (counts.decoded, counts.crops)
    image_set = image_folder(folder)
    train, validation, test = (len(image_set.split(split)) for split in ("train", "validation", "test"))
    # train: the probe's assigned class and kNN's 3 classes; validation: the probe's; test: the 3 classes
    assert shared == (len(image_set.items), 4 * train + validation + 3 * test)
    for name in SHARED:
        results = sorted((tmp_path / name).rglob("*-seed0.json"))
        assert len(results) == 2  # probe-processing and knn
        for path in results:
            alone, together = (
                json.loads(p.read_text()) for p in (path, tmp_path / "sweep" / path.relative_to(tmp_path / name))
            )
            assert alone["metrics"] == together["metrics"]
            assert untimed(alone["details"]) == untimed(together["details"])
    sweep_cache = {p.name: read_embeddings(p) for p in (tmp_path / "sweep" / "cache").rglob("*.safetensors")}
    alone_cache = {
        p.name: read_embeddings(p) for name in SHARED for p in (tmp_path / name / "cache").rglob("*.safetensors")
    }
    assert sweep_cache.keys() == alone_cache.keys()
    assert all(torch.equal(sweep_cache[f].vectors, alone_cache[f].vectors) for f in sweep_cache)


def test_a_kept_result_is_not_prepared_again(tmp_path, folder):
    found, options = detect(str(folder)), TaskOptions(tasks=("knn",), families=("sharpening",))
    results = ResultStore(tmp_path / "out", skip_existing=True)
    (task,) = plan(found, options)
    kept = result_path(results, SHARED[0], found, task, 0, options)
    kept.parent.mkdir(parents=True)
    kept.write_text(json.dumps({"task": "knn", "target": "sharpening", "metrics": {}}))
    groups = cohort_inputs(SHARED[:2], found, options, results)
    every = tuple(Variant("sharpening", name) for name in ("none", "sharpness-x2", "sharpness-x4"))
    assert [(g.split, g.variants) for g in groups] == [("train", [(), every]), ("test", [(), every])]


@pytest.mark.parametrize("kind", ["splits", "standard", "flickrexif", "paircams"])
def test_what_each_task_declares_is_what_it_embeds(tmp_path, monkeypatch, kind, offline):
    dataset = {
        "splits": lambda: str(make_folder(tmp_path / "images", per_class=6, size=(40, 32))),
        "standard": lambda: str(split_folder(tmp_path / "imagenet", per_class=(10, 3))),
        "flickrexif": lambda: official_layout(tmp_path, per_split=4),
        "paircams": lambda: str(paircams_release(tmp_path / "paircams", subjects=5, size=24)),
    }[kind]()
    options = TaskOptions(
        tasks=tuple(TASKS),
        seeds=(0, 1),
        probe=ProbeConfig(tune_epochs=1, device="cpu"),
        refits=2,
        families=("sharpening",),
    )
    found, encoder = detect(dataset), load_encoder(SHARED[1])
    embedded = []
    real = Extractor.embed

    def recorded(self, encoder, image_set, split, variants, seed=0):
        embedded.extend((image_set.name, split, variant, seed if variant.uses_seed else 0) for variant in variants)
        return real(self, encoder, image_set, split, variants, seed)

    monkeypatch.setattr(Extractor, "embed", recorded)
    results = ResultStore(tmp_path / "out")
    declared = {
        (group.image_set.name, group.split, variant, group.seed)
        for group in cohort_inputs([encoder.spec.key], found, options, results)
        for variant in group.variants[0]
    }
    assert plan(found, options) and all(TASKS[task.task].inputs for task in plan(found, options))
    run(encoder, found, Extractor(EmbeddingCache(tmp_path / "cache"), device="cpu"), options, results)
    assert set(embedded) == declared
