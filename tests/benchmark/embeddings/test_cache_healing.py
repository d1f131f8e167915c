"""A cache that does not read heals: a truncated file or chunk is named, moved aside and computed again;
two extractions into one cache never collide; a run's leftovers never break the next one."""

from __future__ import annotations

import logging
import multiprocessing

import pytest
import torch

from benchmark.embeddings.cache import EmbeddingCache, chunk_path, write_embeddings
from benchmark.embeddings.extract import extract
from benchmark.embeddings.variants import Variant
from benchmark.encoders import load_encoder
from benchmark.sources.folder import image_folder
from benchmark.testing.datasets import make_folder

MODEL = "random:resnet10t"
VARIANTS = [Variant(), Variant("jpeg", "q75-420")]


@pytest.fixture(scope="module")
def encoder():
    return load_encoder(MODEL)


@pytest.fixture
def images(tmp_path):
    return image_folder(make_folder(tmp_path / "images", per_class=6, size=(40, 32)))


def cache_files(cache: EmbeddingCache) -> list:
    return sorted(p for p in cache.root.rglob("*.safetensors") if ".partial" not in p.as_posix())


def test_a_truncated_cache_file_is_moved_aside_and_computed_again(tmp_path, encoder, images, caplog):
    cache = EmbeddingCache(tmp_path / "cache")
    first = extract(encoder, images, "train", VARIANTS, cache, device="cpu")
    broken = cache_files(cache)[0]
    broken.write_bytes(broken.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger="benchmark"):
        again = extract(encoder, images, "train", VARIANTS, cache, device="cpu")
    for variant in VARIANTS:
        assert torch.equal(again[variant].vectors, first[variant].vectors)
    (aside,) = list(broken.parent.glob(f"{broken.name}.unreadable-*"))
    assert len(aside.read_bytes()) == 100 and broken.is_file()
    assert f"cache file {broken} does not read (" in caplog.text and "computed again" in caplog.text


def test_a_truncated_chunk_of_an_interrupted_run_is_computed_again(tmp_path, encoder, images, caplog):
    cache = EmbeddingCache(tmp_path / "cache")
    expected = extract(encoder, images, "train", VARIANTS, EmbeddingCache(tmp_path / "clean"), device="cpu")
    description = encoder.describe()
    key = cache.key(description, images, "train", VARIANTS[0], 0)
    chunk = chunk_path(cache, key, 0)  # what a run killed while writing its first chunk leaves
    chunk.parent.mkdir(parents=True)
    chunk.write_bytes(b'\x10\x00\x00\x00\x00\x00\x00\x00{"embeddings"')
    with caplog.at_level(logging.WARNING, logger="benchmark"):
        found = extract(encoder, images, "train", VARIANTS, cache, device="cpu")
    assert torch.equal(found[VARIANTS[0]].vectors, expected[VARIANTS[0]].vectors)
    assert not cache.partial_dir(key).exists()
    assert "of an interrupted run does not read" in caplog.text


def test_a_text_file_in_place_of_a_cache_file_is_set_aside(tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    key = {"format": 1, "anything": True}
    cache.path(key).parent.mkdir(parents=True)
    cache.path(key).write_text("not safetensors")
    assert cache.load(key) is None and not cache.path(key).exists()
    write_embeddings(cache.path(key), ["a"], torch.ones(1, 3), {})
    assert cache.load(key).ids == ["a"]


def _extract_in_another_process(folder: str, cache: str, done: multiprocessing.Queue) -> None:
    encoder = load_encoder(MODEL)
    found = extract(encoder, image_folder(folder), "train", VARIANTS, EmbeddingCache(cache), device="cpu")
    done.put({v.name: found[v].vectors.sum().item() for v in VARIANTS})


def test_two_extractions_into_one_cache_both_finish_with_the_same_embeddings(tmp_path, images):
    folder = str(tmp_path / "images")
    context = multiprocessing.get_context("spawn")
    done = context.Queue()
    workers = [
        context.Process(target=_extract_in_another_process, args=(folder, str(tmp_path / "c"), done)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(600)
    assert [worker.exitcode for worker in workers] == [0, 0]
    sums = [done.get(timeout=5), done.get(timeout=5)]
    assert sums[0] == sums[1]
    files = cache_files(EmbeddingCache(tmp_path / "c"))
    assert len(files) == len(VARIANTS)  # one file per variant: nothing left half-written or twice
    assert not list((tmp_path / "c").rglob("*.partial")) and not list((tmp_path / "c").rglob("*.tmp"))
