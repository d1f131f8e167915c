"""Prompt embeddings are cached like image embeddings: keyed by the text tower and its weights, the prompt
table's sha256, the target and its classes; a file that does not hold exactly the prompts is computed again."""

from __future__ import annotations

import torch

from benchmark.embeddings.cache import EmbeddingCache
from benchmark.embeddings.text import prompt_embeddings, text_key


class CountingTower:
    """A text tower stand-in that counts what it embeds."""

    def __init__(self, weights: str = "file:a#sha256=1") -> None:
        self.weights, self.embedded = weights, []

    def describe(self) -> dict:
        return {"key": "open_clip:test", "weights": self.weights, "embed_dim": 4, "tokenizer": "t"}

    def embed(self, texts, device="cpu"):
        self.embedded += texts
        return torch.stack([torch.full((4,), float(len(t))) for t in texts])


PROMPTS = ["a Canon photo.", "a Nikon photo."]
TABLE = {"source": "table.json", "sha256": "ab" * 32}


def test_prompt_embeddings_are_computed_once_then_read(tmp_path):
    cache, tower = EmbeddingCache(tmp_path), CountingTower()
    key = text_key(tower, TABLE, "Make", ["Canon", "Nikon"])
    first, cached = prompt_embeddings(tower, PROMPTS, key, cache)
    assert not cached and tower.embedded == PROMPTS
    again, cached = prompt_embeddings(tower, PROMPTS, key, cache)
    assert cached and torch.equal(again, first) and tower.embedded == PROMPTS  # nothing embedded twice
    assert cache.path(key).is_file() and cache.path(key).parent.parent == tmp_path


def test_every_input_of_the_prompts_keys_its_own_file():
    tower = CountingTower()
    base = text_key(tower, TABLE, "Make", ["Canon", "Nikon"])
    others = [
        text_key(CountingTower("file:b#sha256=2"), TABLE, "Make", ["Canon", "Nikon"]),  # other weights
        text_key(tower, {**TABLE, "sha256": "cd" * 32}, "Make", ["Canon", "Nikon"]),  # another table
        text_key(tower, TABLE, "Model", ["Canon", "Nikon"]),
        text_key(tower, TABLE, "Make", ["Nikon", "Canon"]),  # classes in another order
    ]
    cache = EmbeddingCache("c")
    assert len({cache.path(key) for key in [base, *others]}) == 5


def test_a_file_holding_other_prompts_is_computed_again(tmp_path):
    cache, tower = EmbeddingCache(tmp_path), CountingTower()
    key = text_key(tower, TABLE, "Make", ["Canon", "Nikon"])
    prompt_embeddings(tower, PROMPTS, key, cache)
    changed = ["a Canon camera photo.", "a Nikon photo."]  # same key, other prompts: not the cached vectors
    vectors, cached = prompt_embeddings(tower, changed, key, cache)
    assert not cached and vectors[0, 0] == len(changed[0]) and tower.embedded[-2:] == changed
