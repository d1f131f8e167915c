"""Images are prepared by threads (or loader processes) ahead of the forward pass, in order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.embeddings.batches import EmbedSettings, batches


class Numbers:
    """Item i -> {"x": [i]}; item ``bad`` raises, as a corrupt image would."""

    def __init__(self, n: int, bad: int | None = None):
        self.n, self.bad = n, bad

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if index == self.bad:
            raise ValueError(f"item {index} is broken")
        return {"x": np.array([index], dtype=np.uint8)}


def settings(workers: int, batch_size: int = 3) -> EmbedSettings:
    return EmbedSettings(
        seed=0, batch_size=batch_size, device="cpu", workers=workers, precision="float32", exif_transpose=False
    )


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_batches_come_in_order_and_equal_the_loader_ones(monkeypatch, threads):
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    threaded = [batch["x"].flatten().tolist() for batch in batches(Numbers(11), settings(workers=0))]
    assert threaded == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]
    loader = [batch["x"].flatten().tolist() for batch in batches(Numbers(11), settings(workers=1))]
    assert loader == threaded


def test_a_failing_item_stops_the_batches_with_its_error():
    found = batches(Numbers(11, bad=7), settings(workers=0))
    assert next(found)["x"].flatten().tolist() == [0, 1, 2]
    next(found)
    with pytest.raises(ValueError, match="item 7 is broken"):
        next(found)
