"""Images are prepared by threads (or loader processes) ahead of the forward pass, in order; an image
that cannot be prepared is left out of its batch and named, the others go on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import benchmark.embeddings.batches
from benchmark.embeddings.batches import EmbedSettings, Prepared, batches, loader_processes
from benchmark.embeddings.extract import ExtractionOptions


class Numbers:
    """Item i -> {"x": [i]}; item ``bad`` cannot be prepared, as a corrupt image."""

    def __init__(self, n: int, bad: int | None = None):
        self.n, self.bad = n, bad

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Prepared:
        if index == self.bad:
            return Prepared(index, None, f"item {index} is broken")
        return Prepared(index, {"x": np.array([index], dtype=np.uint8)})


def settings(workers: int, batch_size: int = 3) -> EmbedSettings:
    return EmbedSettings(
        seed=0, batch_size=batch_size, device="cpu", workers=workers, precisions=("float32",), exif_transpose=False
    )


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_batches_come_in_order_and_equal_the_loader_ones(monkeypatch, threads):
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    threaded = [batch.pixels["x"].flatten().tolist() for batch in batches(Numbers(11), settings(workers=0))]
    assert threaded == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]
    loader = [batch.pixels["x"].flatten().tolist() for batch in batches(Numbers(11), settings(workers=1))]
    assert loader == threaded


@pytest.mark.parametrize("workers", [0, 1])
def test_an_item_that_cannot_be_prepared_is_left_out_and_named(workers):
    found = list(batches(Numbers(11, bad=7), settings(workers=workers)))
    assert [b.pixels["x"].flatten().tolist() for b in found] == [[0, 1, 2], [3, 4, 5], [6, 8], [9, 10]]
    assert [b.kept for b in found][2] == [6, 8] and found[2].failed == {7: "item 7 is broken"}
    assert all(not b.failed for i, b in enumerate(found) if i != 2)


@pytest.mark.parametrize(
    ("device", "cores", "threads", "workers", "expected"),
    [
        ("cpu", 16, 16, "auto", 0),  # the forward pass takes every core: threads of this process prepare
        ("cpu", 16, 4, "auto", 12),  # torch kept to 4 threads: the other 12 cores prepare
        ("cuda", 16, 16, "auto", 15),  # a GPU's forward pass keeps one core busy
        ("cuda", 2, 2, "auto", 0),  # one spare core: threads prepare on both, where one process would on one
        ("cpu", 2, 2, "auto", 0),
        ("cuda", 16, 16, 3, 3),
        ("cpu", 16, 16, 0, 0),
    ],
)
def test_auto_workers_are_the_cores_the_forward_pass_leaves(monkeypatch, device, cores, threads, workers, expected):
    monkeypatch.setattr(benchmark.embeddings.batches, "usable_cores", lambda: cores)
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    assert loader_processes(workers, device) == expected


@pytest.mark.parametrize(("given", "found"), [("auto", "auto"), ("4", 4), (0, 0)])
def test_workers_take_a_number_or_auto(given, found):
    assert ExtractionOptions(workers=given).workers == found
    assert ExtractionOptions().workers == "auto"
    with pytest.raises(ValueError, match="--workers takes a number of processes or auto, got 'many'"):
        ExtractionOptions(workers="many")
