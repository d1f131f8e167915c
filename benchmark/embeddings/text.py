"""Text embeddings of class prompts, cached like image embeddings.

One safetensors file per (text tower and its weights, prompt table sha256, target, class names),
in the image embeddings' cache folder and format (:mod:`.cache`): the ids are the prompts in order,
so a file that does not hold exactly the prompts asked for is computed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from benchmark.embeddings.cache import CACHE_FORMAT, EmbeddingCache, write_embeddings


def text_key(tower: Any, templates: dict[str, str], target: str, classes: Sequence[str]) -> dict[str, Any]:
    """What the prompt embeddings of one target depend on (``templates``: the table's record, with its sha256)."""
    return {
        "format": CACHE_FORMAT,
        "kind": "text",
        "text_tower": tower.describe(),
        "templates_sha256": templates["sha256"],
        "target": target,
        "classes": list(classes),
    }


def prompt_embeddings(
    tower: Any, prompts: Sequence[str], key: dict[str, Any], cache: EmbeddingCache, device: str = "cpu"
) -> tuple[torch.Tensor, bool]:
    """``([len(prompts), D] float32, whether they came from the cache)``: read, or computed on ``device`` and cached."""
    found = cache.load(key)
    if found is not None and found.ids == list(prompts):
        return found.vectors, True
    vectors = tower.embed(list(prompts), device=device)
    write_embeddings(cache.path(key), list(prompts), vectors, key)
    return vectors, False
