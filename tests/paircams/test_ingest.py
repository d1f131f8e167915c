"""paircams ingest: the written pairs.json and reports, a broken earlier ingest, copy mode, the CLI."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from flickrexif.exif.read import read_exif
from paircams.cli import app
from paircams.ingest import (
    PAIRS_NAME,
    REPORT_JSON,
    REPORT_TXT,
    IngestConfig,
    IngestError,
    ingest,
    load_ingested,
)


def test_ingest_outputs_pairs_json_and_reports(ingested, kit):
    source, out, result = ingested
    stored = json.loads((out / PAIRS_NAME).read_text())
    assert stored["format"] == "paircams-ingest" and stored["layout"] == "folders"
    assert stored["source"] == str(source.resolve())
    subject = stored["subjects"][0]
    assert set(subject) == {"subject_idx", "key", "capture_delta_s", "photos"}
    assert set(subject["photos"][0]) == {"path", "sha256", "size", "make", "model", "camera_type", "exif", "labels"}
    assert kit.serial not in (out / PAIRS_NAME).read_text() and kit.gps_datum not in (out / PAIRS_NAME).read_text()
    report = json.loads((out / REPORT_JSON).read_text())
    assert report["counts"]["pairs"] == 3
    assert {p["path"] for p in report["problems"]["invalid"]} == {"s05/a.jpg", "s05/b.jpg", "s06/camera.jpg"}
    text = (out / REPORT_TXT).read_text()
    assert "## ambiguous (3)" in text and "s06/camera.jpg: truncated JPEG" in text
    loaded = load_ingested(out)
    assert loaded.subjects == result.subjects


def test_a_broken_pairs_json_stops_ingest_before_any_work(folders_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / PAIRS_NAME).write_text("{not json")
    with pytest.raises(IngestError, match="cannot be read"):
        ingest(IngestConfig(folders_dir, out))
    assert (out / PAIRS_NAME).read_text() == "{not json"
    with pytest.raises(IngestError, match="is not a folder"):
        ingest(IngestConfig(tmp_path / "missing", tmp_path / "out2"))
    with pytest.raises(ValueError, match="tolerance"):
        IngestConfig(folders_dir, out, tolerance_s=-1)


def test_copy_mode_makes_the_ingested_folder_self_contained(folders_dir, tmp_path):
    out = tmp_path / "out"
    result = ingest(IngestConfig(folders_dir, out, copy_files=True))
    loaded = load_ingested(out)
    copies = sorted(p.name for p in (out / "photos").iterdir())
    assert copies == sorted(f"{p.sha256}{p.suffix}" for s in result.subjects for p in s.photos)
    shutil.rmtree(folders_dir)
    photo = loaded.subjects[0].photos[0]
    assert read_exif(loaded.photo_bytes(photo)).model == photo.model


def test_cli_ingest_prints_a_summary_and_exits_by_outcome(folders_dir, tmp_path, kit):
    runner = CliRunner()
    out = tmp_path / "out"
    done = runner.invoke(app, ["ingest", str(folders_dir), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "pairs" in done.output and "ambiguous" in done.output
    assert "invalid: s06/camera.jpg: truncated JPEG" in done.output and (out / REPORT_TXT).is_file()
    again = runner.invoke(app, ["ingest", str(folders_dir), "--out", str(out)])
    assert "3 kept, 0 new" in again.output
    lonely = tmp_path / "lonely"
    kit.write(lonely / "one.jpg", kit.phone_a, kit.t0, seed=1)
    nothing = runner.invoke(app, ["ingest", str(lonely), "--out", str(tmp_path / "out2")])
    assert nothing.exit_code == 1 and "No valid pair" in nothing.output
    assert (tmp_path / "out2" / REPORT_TXT).is_file()
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--out", str(tmp_path / "out3")])
    assert missing.exit_code == 2 and "is not a folder" in missing.output
    bad = runner.invoke(app, ["ingest", str(folders_dir), "--out", str(tmp_path / "o4"), "--tolerance", "-5"])
    assert bad.exit_code == 2
    flat = runner.invoke(
        app,
        [
            "ingest",
            str(folders_dir),
            "--out",
            str(tmp_path / "o5"),
            "--layout",
            "flat",
            "--allow-same-kind",
            "--tolerance",
            "0",
        ],
    )
    assert flat.exit_code in (0, 1) and "flat layout" in flat.output
