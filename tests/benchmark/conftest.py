"""Fixtures of the trace-bench tests."""

from __future__ import annotations

import datasets
import pytest

from flickrexif.testing.hub import HubStandin

HUB_TOKEN = "hf_loopback_token"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Hugging Face datasets offline, with a cache of this test's own."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Online, no token anywhere, every cache under ``tmp_path``; returns the Hugging Face hub cache."""
    import huggingface_hub.constants

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # in case it was set at import
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no token file
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "hub-cache"


@pytest.fixture
def hub(env, monkeypatch):
    """The loopback Hub stand-in: ``hub.push(repo, files)`` puts model files there, and it is
    ``HF_ENDPOINT`` for downloads."""
    with HubStandin(token=HUB_TOKEN) as standin:
        monkeypatch.setenv("HF_ENDPOINT", standin.url)
        yield standin


@pytest.fixture
def species_dataset(tmp_path, offline):
    """A Hugging Face dataset folder (parquet + card) of generated photos whose class is a plain string
    column ``species`` (husky: phones, wolf: cameras), with a ``camera`` column: no ClassLabel."""
    from benchmark.testing.datasets import PLAIN_CARD, write_card
    from flickrexif.testing.labelled import labelled_photos

    root = tmp_path / "pets-hub"
    written = labelled_photos(tmp_path / "photos", per_class=8, confound=1.0, size=(64, 48))
    rows = {"image": [{"bytes": p.path.read_bytes()} for p in written], "species": [p.label for p in written]}
    rows["camera"] = [p.model for p in written]
    features = datasets.Features(
        {"image": datasets.Image(), "species": datasets.Value("string"), "camera": datasets.Value("string")}
    )
    (root / "data").mkdir(parents=True)
    datasets.Dataset.from_dict(rows, features=features).to_parquet(str(root / "data" / "train-00000.parquet"))
    return write_card(root, PLAIN_CARD)
