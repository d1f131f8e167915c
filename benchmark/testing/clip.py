"""Tiny two-tower open_clip models for tests: random weights, written as a Hub repository's files, and a
text tower planted to say chosen vectors (the zero-shot known-answer checks).

:func:`plant_text` sets the text projection so that ``encode_text`` of each given prompt points along
a given target vector: the pooled text features of the prompts are fixed by the random tower, so the
projection is the least-squares solution of ``features @ W = targets`` (exact while there are no more
prompts than the text width).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence

import torch

# Vocabulary as open_clip's own tokenizer's (its token ids reach 49407), everything else tiny.
TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
}
PREPROCESS = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}


@contextlib.contextmanager
def _registered(name: str, config: dict) -> Iterator[None]:
    from open_clip import factory

    factory._MODEL_CONFIGS[name] = json.loads(json.dumps(config))
    try:
        yield
    finally:
        factory._MODEL_CONFIGS.pop(name, None)


def tiny_clip(seed: int = 0, config: dict = TINY_CLIP) -> torch.nn.Module:
    """A two-tower open_clip model of ``config`` with random weights (the same for the same seed)."""
    import open_clip

    with _registered("Tiny-Test-CLIP", config), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return open_clip.create_model("Tiny-Test-CLIP", pretrained=None).eval()


def repo_files(model: torch.nn.Module, config: dict = TINY_CLIP) -> dict[str, bytes]:
    """The files open_clip's ``push_to_hf_hub`` writes for ``model``: config and safetensors weights."""
    from safetensors.torch import save

    described = {"model_cfg": config, "preprocess_cfg": PREPROCESS}
    return {
        "open_clip_config.json": json.dumps(described).encode(),
        "open_clip_model.safetensors": save({k: v.contiguous() for k, v in model.state_dict().items()}),
    }


def tokenize(texts: Sequence[str], config: dict = TINY_CLIP) -> torch.Tensor:
    import open_clip

    return open_clip.SimpleTokenizer(context_length=config["text_cfg"]["context_length"])(list(texts))


def plant_text(model: torch.nn.Module, prompts: Sequence[str], targets: torch.Tensor) -> None:
    """Make ``model.encode_text(tokenize(prompts))[i]`` equal ``targets[i]`` (``[len(prompts), embed_dim]``)."""
    projection = model.text_projection
    model.text_projection = None  # encode_text then returns the pooled features
    try:
        with torch.no_grad():
            features = model.encode_text(tokenize(prompts))
    finally:
        model.text_projection = projection
    if len(prompts) > features.shape[1]:
        raise ValueError(f"{len(prompts)} prompts, but a text width of {features.shape[1]} plants at most that many")
    solution = torch.linalg.lstsq(features.double(), targets.double(), driver="gelsd").solution
    model.text_projection = torch.nn.Parameter(solution.float())
