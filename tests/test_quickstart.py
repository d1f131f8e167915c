"""The README's main job, `scripts/quickstart.py`, end to end (the install step is scripts/quickstart.sh)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quickstart_runs_the_whole_pipeline_offline(tmp_path):
    out = tmp_path / "quickstart"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "quickstart.py"), str(out)], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (out / "releases" / "v1.0.0" / "manifest.json").is_file()
    assert (out / "paircams-releases" / "v1.0.0" / "manifest.json").is_file()
    summary = (out / "results" / "report" / "summary.md").read_text()
    assert "effnet-lite0" in summary and "random:resnet10t" in summary and "retrieval:paircams SPD_a" in summary
    assert any((out / "results" / "report").glob("*.png"))
    results = [json.loads(p.read_text()) for p in (out / "results").rglob("*-seed0.json")]
    assert {r["task"] for r in results} == {"probe-acquisition", "retrieval", "probe-processing"}
    assert {r["dataset"] for r in results} == {"FlickrExif-v1.0.0", "PairCams-v1.0.0", "photos-for-processing-probes"}
    assert "probe-processing:resizing MP" in summary
    assert "Report (tables, plots)" in result.stdout
