"""``--executor ray`` on a local Ray: the local run's embeddings and results, bit for bit, through a
dying worker, an interrupted run and a second run that finds everything in the cache."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch

import benchmark.embeddings.extract
from benchmark.embeddings.cache import EmbeddingCache, read_embeddings
from benchmark.embeddings.executors import LocalExecutor, executor_for
from benchmark.embeddings.extract import CHUNK_IMAGES as DEFAULT_CHUNK_IMAGES
from benchmark.embeddings.extract import Extractor, extract
from benchmark.embeddings.ray_executor import CRASH_ONCE_ENV, RayExecutor, fan_out, shutdown_pool
from benchmark.embeddings.variants import Variant
from benchmark.encoders import load_encoder
from benchmark.protocols.probe import ProbeConfig
from benchmark.runs.results import ResultStore
from benchmark.runs.runner import run
from benchmark.sources.folder import image_folder
from benchmark.sources.kinds import detect
from benchmark.tasks.task import TaskOptions
from benchmark.testing.datasets import make_folder

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
MODEL = "random:resnet10t"
VARIANTS = [Variant(), Variant("jpeg", "q75-420"), Variant("interpolation", "bicubic", mask_ratio=0.5)]
SMALL_RUN = TaskOptions(tasks=("probe-processing", "knn"), families=("sharpening",), probe=ProbeConfig(tune_epochs=2))


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # fan_out's job lives in this test
    yield ray
    shutdown_pool()
    ray.shutdown()


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Chunks of 4 images, so a tiny split has several (the driver cuts the chunks for the workers)."""
    monkeypatch.setattr(benchmark.embeddings.extract, "CHUNK_IMAGES", 4)


@pytest.fixture(scope="module")
def encoder():
    return load_encoder(MODEL)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("ray") / "images", per_class=8, size=(48, 40))


@pytest.fixture(scope="module")
def images(folder):
    return image_folder(folder)


class Refuse:
    """An executor for runs that must find everything in the cache."""

    name = "refuse"

    def default_device(self) -> str:
        return "cpu"

    def __call__(self, *args) -> None:
        raise AssertionError("a cached split was computed again")


def cache_files(cache: EmbeddingCache) -> dict[str, tuple]:
    """Every cache file by name: ids, vector bytes and provenance (safetensors orders its header freely)."""
    found = {}
    for path in sorted(cache.root.rglob("*.safetensors")):
        read = read_embeddings(path)
        found[path.relative_to(cache.root).as_posix()] = (read.ids, read.vectors.numpy().tobytes(), read.provenance)
    return found


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread here, so the 2-CPU Ray runs two workers of one thread (as this process)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("threads", [1, 2])
def test_ray_extraction_equals_the_local_run_and_is_reused(ray_session, tmp_path, encoder, images, threads):
    torch.set_num_threads(threads)  # a CPU convolution's last bits depend on it; Ray workers use this process's
    local_cache, ray_cache = EmbeddingCache(tmp_path / "local"), EmbeddingCache(tmp_path / "ray")
    local = extract(encoder, images, "train", VARIANTS, local_cache, device="cpu")
    executor = RayExecutor()
    on_ray = extract(encoder, images, "train", VARIANTS, ray_cache, device="cpu", executor=executor)
    assert executor.pool_size("cpu") == 2 // threads
    assert len(local[VARIANTS[0]].ids) > 8  # several chunks
    for variant in VARIANTS:
        assert on_ray[variant].ids == local[variant].ids
        assert torch.equal(on_ray[variant].vectors, local[variant].vectors), variant.name
    assert cache_files(ray_cache) == cache_files(local_cache)  # the same files and contents
    assert not list(ray_cache.root.rglob("*.partial"))
    again = extract(encoder, images, "train", VARIANTS, ray_cache, device="cpu", executor=Refuse())
    assert all(torch.equal(again[v].vectors, local[v].vectors) for v in VARIANTS)  # a second run: the cache


def test_an_interrupted_ray_run_resumes_from_its_chunks(ray_session, tmp_path, encoder, images):
    cache = EmbeddingCache(tmp_path / "cache")
    executor, given = RayExecutor(workers=1), []

    def interrupted(encoder, items, chunks, settings, write, on_batch):
        def write_once(chunk, outputs):
            write(chunk, outputs)
            raise KeyboardInterrupt

        executor(encoder, items, chunks, settings, write_once, on_batch)

    def counted(encoder, items, chunks, settings, write, on_batch):
        given.append(len(chunks))
        executor(encoder, items, chunks, settings, write, on_batch)

    interrupted.default_device = counted.default_device = executor.default_device
    with pytest.raises(KeyboardInterrupt):
        extract(encoder, images, "train", VARIANTS, cache, device="cpu", executor=interrupted)
    assert len(list(cache.root.rglob("chunk-*.safetensors"))) == len(VARIANTS)  # one chunk kept per variant
    resumed = extract(encoder, images, "train", VARIANTS, cache, device="cpu", executor=counted)
    chunks = -(-len(images.split("train")) // benchmark.embeddings.extract.CHUNK_IMAGES)
    assert given == [chunks - 1]
    local = extract(encoder, images, "train", VARIANTS, EmbeddingCache(tmp_path / "local"), device="cpu")
    assert all(torch.equal(resumed[v].vectors, local[v].vectors) for v in VARIANTS)


def test_a_worker_killed_mid_run_is_retried_with_the_same_result(ray_session, tmp_path, encoder, images, monkeypatch):
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ONCE_ENV, str(marker))
    shutdown_pool()  # new workers, which read the crash hook
    try:
        on_ray = extract(encoder, images, "test", VARIANTS, EmbeddingCache(tmp_path / "ray"), executor=RayExecutor())
    finally:
        shutdown_pool()
    assert marker.exists()  # a worker died on its first chunk
    local = extract(encoder, images, "test", VARIANTS, EmbeddingCache(tmp_path / "local"), device="cpu")
    assert all(torch.equal(on_ray[v].vectors, local[v].vectors) for v in VARIANTS)


def results_of(out, executor: str | None = None) -> dict[str, dict]:
    """Result files without their timings and execution record (checked to name ``executor``)."""
    found = {}
    for path in sorted(out.rglob("*.json")):
        result = json.loads(path.read_text())
        result.get("details", {}).pop("seconds", None)
        execution = result.pop("execution", None)
        if executor is not None:
            assert execution["executor"] == executor, execution
        found[path.relative_to(out).as_posix()] = {
            k: v for k, v in result.items() if k not in ("seconds", "created_at")
        }
    return found


def test_a_whole_run_on_ray_gives_the_local_results(ray_session, tmp_path, encoder, folder):
    outs = {}
    for executor in ("local", "ray"):
        extractor = Extractor(
            EmbeddingCache(tmp_path / executor / "cache"), device="cpu", executor=executor_for(executor)
        )
        run(encoder, detect(str(folder)), extractor, SMALL_RUN, ResultStore(tmp_path / executor / "results"))
        outs[executor] = results_of(tmp_path / executor / "results", executor)
    assert len(outs["local"]) == 2 and outs["ray"] == outs["local"]


def run_pair(model: str, dataset: str, out: str) -> list[str]:
    """One (encoder, dataset) of a sweep, as a Ray task runs it: everything local to that task."""
    encoder = load_encoder(model)
    extractor = Extractor(EmbeddingCache(f"{out}/cache"), device="cpu")
    return [str(p) for p in run(encoder, detect(dataset), extractor, SMALL_RUN, ResultStore(Path(out) / "results"))]


def test_a_sweep_fans_out_one_task_per_encoder_and_dataset(ray_session, tmp_path, folder):
    second = make_folder(tmp_path / "second", per_class=8, classes=("red", "green"), size=(48, 40))
    calls = [(MODEL, str(folder), str(tmp_path / "ray")), (MODEL, str(second), str(tmp_path / "ray"))]
    written = fan_out(run_pair, calls)
    assert [len(files) for files in written] == [2, 2]
    for call in calls:
        run_pair(call[0], call[1], str(tmp_path / "local"))
    assert results_of(tmp_path / "ray" / "results") == results_of(tmp_path / "local" / "results")


def test_the_record_names_the_executor_cluster_and_workers(ray_session):
    record = executor_for("ray", workers=1).record()
    assert record["executor"] == "ray" and record["cluster"] == {"nodes": 1, "cpus": 2, "gpus": 0}
    assert record["workers"] == 1 and record["worker_resources"] == {"num_cpus": 1, "num_gpus": 0}
    assert executor_for("ray").record()["workers"] == 2  # default: one per CPU of the cluster (one thread each)
    torch.set_num_threads(2)
    assert executor_for("ray").record()["workers"] == 1  # a worker reserves as many CPUs as it has threads
    assert executor_for("local").record(data_workers=2)["executor"] == "local"


def test_executor_choices_are_checked(monkeypatch):
    assert isinstance(executor_for("local"), LocalExecutor)
    with pytest.raises(ValueError, match="'dask' is not a valid Executor"):
        executor_for("dask")
    with pytest.raises(ValueError, match="belong to --executor ray"):
        executor_for("local", address="ray://head:10001")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    with pytest.raises(ValueError, match=r"pip install '\.\[ray\]'"):
        executor_for("ray")


def test_trace_bench_sweep_with_executor_ray_gives_the_local_results(ray_session, tmp_path, folder, monkeypatch):
    """`knn --model A --model B --executor ray`: one Ray task per (encoder, dataset), the local numbers."""
    from typer.testing import CliRunner

    from benchmark.cli.app import app

    monkeypatch.setattr(benchmark.embeddings.extract, "CHUNK_IMAGES", DEFAULT_CHUNK_IMAGES)  # as in the Ray workers
    args = ["knn", "--model", MODEL, "--model", "random:resnet14t", "--dataset", str(folder), "--family", "sharpening"]
    runs = {}
    for executor in ("local", "ray"):
        out = tmp_path / executor
        done = CliRunner().invoke(app, [*args, "--out", str(out), "--device", "cpu", "--executor", executor])
        assert done.exit_code == 0, done.output
        runs[executor] = {p.relative_to(out).as_posix(): json.loads(p.read_text()) for p in out.rglob("knn-*.json")}
        assert json.loads((out / "sweep.json").read_text())["outcomes"][1]["results"] == 1
    assert sorted(runs["ray"]) == sorted(runs["local"]) and len(runs["ray"]) == 2
    for name, result in runs["ray"].items():
        assert result["metrics"] == runs["local"][name]["metrics"], name
