"""The README's main job, `scripts/quickstart.py`, end to end (the install step is scripts/quickstart.sh).

No wall-clock limit: the demo is sized to take a few minutes on a 2-core CPU, but a loaded machine may
take longer and that is not a failure.  Its output is captured (not a terminal), so the commands'
progress bars print plain lines.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quickstart_runs_the_whole_pipeline_offline(tmp_path):
    out = tmp_path / "quickstart"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "quickstart.py"), str(out)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (out / "releases" / "v1.0.0" / "manifest.json").is_file()
    assert (out / "paircams-releases" / "v1.0.0" / "manifest.json").is_file()
    summary = (out / "results" / "report" / "summary.md").read_text()
    assert "effnet-lite0" in summary and "random:resnet10t" in summary and "retrieval:paircams SPD_a" in summary
    assert "probe-acquisition:Make MP" in summary and "probe-processing:resizing MP" in summary
    assert any((out / "results" / "report").glob("*.png"))
    results = [json.loads(p.read_text()) for p in (out / "results").rglob("*-seed0.json")]
    assert {r["task"] for r in results} == {"probe-acquisition", "retrieval", "probe-processing"}
    assert {r["dataset"] for r in results} == {"FlickrExif-v1.0.0", "PairCams-v1.0.0", "photos-for-processing-probes"}
    # The demo's cut of the benchmark: the pretrained model on all three datasets (a sweep), the random
    # baseline on PairCams; two processing families, two of the three released attributes.
    assert {(r["encoder"], r["dataset"]) for r in results} == {
        ("effnet-lite0", "FlickrExif-v1.0.0"),
        ("effnet-lite0", "PairCams-v1.0.0"),
        ("effnet-lite0", "photos-for-processing-probes"),
        ("random:resnet10t", "PairCams-v1.0.0"),
    }
    assert {r["target"] for r in results if r["task"] == "probe-processing"} == {"jpeg", "resizing"}
    assert {r["target"] for r in results if r["task"] == "probe-acquisition"} == {"Make", "Is Smartphone"}
    assert all(r["parameters"]["probe"]["tune_epochs"] == 10 for r in results if r["task"].startswith("probe-"))
    assert "Report (tables, plots)" in result.stdout
    # Per-step durations, and the progress bars' plain lines on a captured stderr.
    assert re.search(r"^\s+\S.* s  in all$", result.stdout, re.MULTILINE), result.stdout[-2000:]
    assert re.search(r"^\[trace-bench run effnet-lite0: .+\]$", result.stdout, re.MULTILINE)
    assert re.search(r"^Reading photos: \d+/\d+ \(100%\)", result.stderr, re.MULTILINE), result.stderr[-2000:]
