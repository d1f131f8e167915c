"""Fixtures of the trace-bench tests."""

from __future__ import annotations

import datasets
import pytest


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Hugging Face datasets offline, with a cache of this test's own."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
