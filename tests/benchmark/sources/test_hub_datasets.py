"""``--dataset ORG/NAME`` (with ``--revision``, ``--split``): a Hub dataset through ``datasets``, tested
against the loopback Hub (``HF_ENDPOINT``) in a subprocess, as a researcher's shell runs it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
from huggingface_hub import HfApi
from PIL import Image

from flickrexif.testing.hub import HubStandin

REPO = "tester/tiny-images"
CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
  - split: validation
    path: data/validation-*.parquet
---

# Tiny images
"""


def jpeg(colour, seed) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.normal(0, 25, (24, 32, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def dataset_folder(root: Path) -> Path:
    """An ImageNet-like Hub dataset: train + validation, an image column and a class label."""
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["red", "blue"])})
    (root / "data").mkdir(parents=True)
    for split, count in (("train", 8), ("validation", 3)):
        rows = {"image": [], "label": []}
        for label, colour in enumerate(((200, 60, 40), (40, 60, 200))):
            for i in range(count):
                rows["image"].append({"bytes": jpeg(colour, 100 * label + i + (50 if split == "validation" else 0))})
                rows["label"].append(label)
        datasets.Dataset.from_dict(rows, features=features).to_parquet(str(root / "data" / f"{split}-00000.parquet"))
    (root / "README.md").write_text(CARD)
    return root


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    folder = dataset_folder(tmp_path_factory.mktemp("hub-dataset") / "tiny")
    with HubStandin() as standin:
        api = HfApi(endpoint=standin.url, token=standin.token)
        api.create_repo(REPO, repo_type="dataset")
        api.upload_folder(repo_id=REPO, repo_type="dataset", folder_path=str(folder))
        api.create_tag(REPO, tag="v1", repo_type="dataset")
        yield standin


def trace_bench(tmp_path: Path, hub: HubStandin, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env |= {
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": hub.token,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "OMP_NUM_THREADS": "1",
    }
    command = [str(Path(sys.executable).with_name("trace-bench")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)


def test_a_hub_dataset_at_a_tag_runs_like_a_folder(tmp_path, hub):
    args = ["knn", "--model", "random:resnet10t", "--dataset", REPO, "--revision", "v1", "--family", "sharpening"]
    done = trace_bench(tmp_path, hub, *args, "--out", "results", "--device", "cpu")
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = (tmp_path / "results").rglob("*.json")
    result = json.loads(path.read_text())
    assert result["dataset"] == "tiny-images-v1" and path.parent.name == "tiny-images-v1"
    parameters = result["parameters"]
    assert parameters["layout"] == "standard" and parameters["query_split"] == "validation"  # train + validation
    assert 0 <= result["metrics"]["all-same@k10"] <= 1
    assert any((tmp_path / "hf-home").rglob("*.parquet")) or any((tmp_path / "hf-home").rglob("*.arrow"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "tester/no-such-dataset"], "no dataset tester/no-such-dataset on the Hub"),
        (["--dataset", REPO, "--revision", "v9"], "has no revision 'v9'"),
        (["--dataset", REPO, "--split", "test"], "has no split test; it has: train, validation"),
    ],
)
def test_hub_dataset_mistakes_are_one_line_before_any_model_loads(tmp_path, hub, args, message):
    done = trace_bench(tmp_path, hub, "knn", "--model", "random:resnet10t", *args, "--out", "results")
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "results").exists()


def test_a_configuration_typo_names_the_valid_ones_before_any_model_loads(tmp_path, hub):
    dataset_folder(tmp_path / "tiny")
    done = trace_bench(
        tmp_path, hub, "knn", "--model", "random:resnet10t", "--dataset", "tiny", "--config", "nope", "--out", "o"
    )
    assert done.returncode == 2, done.stderr
    assert "'nope' not found" in done.stderr and "Available: ['default']" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
