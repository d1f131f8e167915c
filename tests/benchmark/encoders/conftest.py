"""Fixtures of the encoder tests: no network, small generated photos, a Hugging Face cache on disk."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from PIL import Image


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def photos() -> Callable[..., list[Image.Image]]:
    """``photos(n, size)``: ``n`` random RGB images, the same on every call."""

    def make(n: int = 3, size: tuple[int, int] = (120, 90)) -> list[Image.Image]:
        generator = torch.Generator().manual_seed(7)
        return [
            Image.fromarray((torch.rand(size[1], size[0], 3, generator=generator) * 255).to(torch.uint8).numpy())
            for _ in range(n)
        ]

    return make


@pytest.fixture
def fake_hf_cache() -> Callable[..., Path]:
    """``fake_hf_cache(cache, repo_id, filename, state, revision)``: a Hugging Face hub cache holding
    one safetensors file, laid out as huggingface_hub writes it; returns the file."""
    safetensors_torch = pytest.importorskip("safetensors.torch")

    def make(
        cache: Path, repo_id: str, filename: str, state: dict[str, torch.Tensor], revision: str = "0" * 40
    ) -> Path:
        repo = cache / ("models--" + repo_id.replace("/", "--"))
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(revision)
        snapshot = repo / "snapshots" / revision
        snapshot.mkdir(parents=True)
        safetensors_torch.save_file({k: v.contiguous() for k, v in state.items()}, str(snapshot / filename))
        return snapshot / filename

    return make
