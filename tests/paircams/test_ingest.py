"""paircams ingest: both layouts, every kind of bad input, stable ids, HEIC cleaning, real sample photos."""

from __future__ import annotations

import io
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from flickrexif.exif.read import read_exif
from flickrexif.exif.scrub import UnpublishableError, publishable_bytes, scrub_heif
from paircams.cli import app
from paircams.ingest import (
    PAIRS_NAME,
    REPORT_JSON,
    REPORT_TXT,
    IngestConfig,
    IngestError,
    Layout,
    ingest,
    load_ingested,
)


def statuses(result) -> dict[str, str]:
    return {p.path: p.status for p in result.problems}


def reason(result, path: str) -> str:
    return next(p.reason for p in result.problems if p.path == path)


def pairs(result) -> dict[str, tuple[str, str]]:
    return {s.key: tuple(p.path for p in s.photos) for s in result.subjects}


def test_folder_layout_pairs_each_subject_folder_and_reports_every_other_file(folders_dir, tmp_path):
    result = ingest(IngestConfig(folders_dir, tmp_path / "out"))
    assert result.layout == "folders"
    assert pairs(result) == {
        "folder:s01": ("s01/camera.jpg", "s01/phone.jpg"),
        "folder:s02": ("s02/DSC_0001.JPG", "s02/IMG_0001.HEIC"),  # JPEG camera + HEIC phone
        "folder:s07": ("s07/camera/y.jpg", "s07/phone/x.jpg"),  # photos in nested folders
    }
    assert [s.subject_idx for s in result.subjects] == [0, 1, 2]
    assert statuses(result) == {
        "s03/lonely.jpg": "unpaired", "s06/phone.jpg": "unpaired",
        "s04/phone.jpg": "ambiguous", "s04/camera1.jpg": "ambiguous", "s04/camera2.jpg": "ambiguous",
        "s05/a.jpg": "invalid", "s05/b.jpg": "invalid", "s06/camera.jpg": "invalid",
        "notes.txt": "ignored",
    }  # fmt: skip  (.DS_Store is hidden: skipped silently)
    assert "partner is missing" in reason(result, "s03/lonely.jpg")
    three = reason(result, "s04/phone.jpg")
    assert "3 usable photos" in three and "keep exactly two" in three
    assert "two smartphones" in reason(result, "s05/a.jpg")
    assert "truncated JPEG" in reason(result, "s06/camera.jpg")
    assert "partner is unusable (s06/camera.jpg" in reason(result, "s06/phone.jpg")
    assert result.counts() == {"files": 15, "pairs": 3, "unpaired": 2, "ambiguous": 3, "invalid": 3, "ignored": 1}
    heic = result.subjects[1].photos[1]
    assert heic.exif.image_format == "HEIF" and heic.camera_type == "smartphone" and heic.make == "Samsung"
    camera = result.subjects[0].photos[0]
    assert (camera.make, camera.model, camera.camera_type) == ("Canon", "Canon EOS 40D", "camera")
    assert camera.labels["exposure"] == "1/125" and camera.labels["aperture"] == "f/2.8"


def test_flat_layout_pairs_by_capture_time(flat_dir, tmp_path):
    result = ingest(IngestConfig(flat_dir, tmp_path / "out"))
    assert result.layout == "flat"
    assert sorted(pairs(result).values()) == [("c1.jpg", "p1.jpg"), ("c2.jpg", "p2.heic")]
    first, second = result.subjects  # new ids follow capture time
    assert first.photos[1].path == "p1.jpg" and second.photos[1].path == "p2.heic"
    assert (first.subject_idx, second.subject_idx) == (0, 1)
    assert first.key == "photos:" + "+".join(sorted(p.sha256 for p in first.photos))
    assert second.capture_delta_s == 30.0
    assert statuses(result) == {
        "p3.jpg": "unpaired", "p7.jpg": "unpaired",
        "p4.jpg": "ambiguous", "c4a.jpg": "ambiguous", "c4b.jpg": "ambiguous",
        "p5.jpg": "invalid", "p6.jpg": "invalid", "broken.jpg": "invalid",
    }  # fmt: skip
    assert "within 120 s" in reason(result, "p3.jpg")
    assert "no capture time" in reason(result, "p7.jpg")
    assert "3 photos could pair" in reason(result, "c4a.jpg")
    assert "two smartphones" in reason(result, "p5.jpg") and "p6.jpg" in reason(result, "p5.jpg")


def test_flat_layout_options_tolerance_and_same_kind(flat_dir, tmp_path):
    tight = ingest(IngestConfig(flat_dir, tmp_path / "tight", tolerance_s=10))
    # p2/c2 are 30 s apart; p4 and c4a pair, c4b (20 s after p4, same camera as c4a) is left alone
    assert sorted(pairs(tight).values()) == [("c1.jpg", "p1.jpg"), ("c4a.jpg", "p4.jpg")]
    assert statuses(tight)["p2.heic"] == "unpaired" and statuses(tight)["c2.jpg"] == "unpaired"
    assert statuses(tight)["c4b.jpg"] == "invalid" and "same device" in reason(tight, "c4b.jpg")
    loose = ingest(IngestConfig(flat_dir, tmp_path / "loose", require_phone_and_camera=False))
    assert ("p5.jpg", "p6.jpg") in {tuple(sorted(v)) for v in pairs(loose).values()}


def test_folder_layout_same_kind_option_and_same_device(tmp_path, kit):
    source = tmp_path / "src"
    kit.write(source / "a" / "1.jpg", kit.phone_a, kit.t0, seed=1)
    kit.write(source / "a" / "2.jpg", kit.phone_b, kit.t0, seed=2)
    kit.write(source / "b" / "1.jpg", kit.camera_a, kit.t0, seed=3)
    kit.write(source / "b" / "2.jpg", kit.camera_a, kit.t0, seed=4)
    strict = ingest(IngestConfig(source, tmp_path / "strict"))
    assert not strict.subjects and "same device (Canon EOS 40D)" in reason(strict, "b/1.jpg")
    relaxed = ingest(IngestConfig(source, tmp_path / "relaxed", require_phone_and_camera=False))
    assert list(pairs(relaxed)) == ["folder:a"]  # b is still one device twice
    both = ingest(IngestConfig(source, tmp_path / "both", require_phone_and_camera=False,
                               require_different_devices=False))
    assert list(pairs(both)) == ["folder:a", "folder:b"]


def test_stable_ids_when_pairs_are_added_removed_and_come_back(folders_dir, tmp_path, kit):
    out = tmp_path / "ingested"
    first = ingest(IngestConfig(folders_dir, out))
    ids = {s.key: s.subject_idx for s in first.subjects}
    assert ids == {"folder:s01": 0, "folder:s02": 1, "folder:s07": 2}
    # s01 removed; s00 (sorts first) and s09 added; s03 gets its partner
    s01 = tmp_path / "s01-aside"
    shutil.move(folders_dir / "s01", s01)
    kit.write(folders_dir / "s00" / "p.jpg", kit.phone_b, kit.t0, seed=20)
    kit.write(folders_dir / "s00" / "c.jpg", kit.camera_b, kit.t0, seed=20)
    kit.write(folders_dir / "s09" / "p.jpg", kit.phone_a, kit.t0, seed=21)
    kit.write(folders_dir / "s09" / "c.jpg", kit.camera_b, kit.t0, seed=21)
    kit.write(folders_dir / "s03" / "camera.jpg", kit.camera_a, kit.t0, seed=3)
    second = ingest(IngestConfig(folders_dir, out))
    ids2 = {s.key: s.subject_idx for s in second.subjects}
    assert ids2 == {"folder:s02": 1, "folder:s07": 2, "folder:s00": 3, "folder:s03": 4, "folder:s09": 5}
    assert (second.ids.kept, second.ids.new, second.ids.retired) == (2, 3, 1)
    stored = json.loads((out / PAIRS_NAME).read_text())
    s01_hashes = sorted(p.sha256 for p in first.subjects[0].photos)
    assert stored["retired"] == [{"key": "folder:s01", "subject_idx": 0, "sha256": s01_hashes}]
    assert stored["next_subject_idx"] == 6
    # s01 comes back under a new folder name with the same files: its id comes back too
    shutil.move(s01, folders_dir / "s01-renamed")
    shutil.rmtree(folders_dir / "s09")
    third = ingest(IngestConfig(folders_dir, out))
    ids3 = {s.key: s.subject_idx for s in third.subjects}
    assert ids3["folder:s01-renamed"] == 0 and "folder:s09" not in ids3
    assert (third.ids.kept, third.ids.new, third.ids.revived, third.ids.retired) == (4, 0, 1, 1)
    kit.write(folders_dir / "s10" / "p.jpg", kit.phone_a, kit.t0, seed=30)
    kit.write(folders_dir / "s10" / "c.jpg", kit.camera_a, kit.t0, seed=30)
    fourth = ingest(IngestConfig(folders_dir, out))
    assert {s.key: s.subject_idx for s in fourth.subjects}["folder:s10"] == 6  # 5 (s09) is never reused
    assert [(r.key, r.subject_idx) for r in load_ingested(out).retired] == [("folder:s09", 5)]


def test_flat_layout_ids_survive_renaming_files(flat_dir, tmp_path, kit):
    out = tmp_path / "ingested"
    first = {s.hashes: s.subject_idx for s in ingest(IngestConfig(flat_dir, out)).subjects}
    (flat_dir / "p1.jpg").rename(flat_dir / "IMG_9999.jpg")
    kit.write(flat_dir / "new_p.jpg", kit.phone_b, kit.t0 - timedelta(hours=2), seed=50)  # earlier than all others
    kit.write(flat_dir / "new_c.jpg", kit.camera_a, kit.t0 - timedelta(hours=2, seconds=-3), seed=50)
    second = ingest(IngestConfig(flat_dir, out))
    again = {s.hashes: s.subject_idx for s in second.subjects}
    assert {h: again[h] for h in first} == first
    assert sorted(again.values()) == [0, 1, 2]


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


def test_forced_layouts(folders_dir, tmp_path, kit):
    flat = ingest(IngestConfig(folders_dir, tmp_path / "flat", layout=Layout.flat))
    assert flat.layout == "flat"  # all photos share one time: one big ambiguous group, the two phones excluded
    assert not flat.subjects and statuses(flat)["s01/phone.jpg"] == "ambiguous"
    kit.write(folders_dir / "loose.jpg", kit.phone_a, kit.t0, seed=99)
    folders = ingest(IngestConfig(folders_dir, tmp_path / "folders"))
    assert "not inside a subject folder" in reason(folders, "loose.jpg")


def test_copy_mode_makes_the_ingested_folder_self_contained(folders_dir, tmp_path):
    out = tmp_path / "out"
    result = ingest(IngestConfig(folders_dir, out, copy_files=True))
    loaded = load_ingested(out)
    copies = sorted(p.name for p in (out / "photos").iterdir())
    assert copies == sorted(f"{p.sha256}{p.suffix}" for s in result.subjects for p in s.photos)
    shutil.rmtree(folders_dir)
    photo = loaded.subjects[0].photos[0]
    assert read_exif(loaded.photo_bytes(photo)).model == photo.model


def test_heic_cleaning_removes_gps_serial_and_keeps_the_coded_image(tmp_path, kit):
    path = kit.write(tmp_path / "p.heic", kit.phone_a, kit.t0, seed=1, heic=True)
    data = path.read_bytes()
    assert kit.serial.encode() in data and kit.gps_datum.encode() in data
    clean = publishable_bytes(data, "HEIF")
    assert len(clean) == len(data) and kit.serial.encode() not in clean and kit.gps_datum.encode() not in clean
    changed = [i for i, (a, b) in enumerate(zip(data, clean)) if a != b]
    exif_at = data.find(b"MM\x00*") if b"MM\x00*" in data else data.find(b"II*\x00")
    assert changed and min(changed) >= exif_at  # only the Exif item's bytes changed
    before, after = read_exif(data), read_exif(clean)
    assert before == after  # make, model, time and settings kept
    with Image.open(io.BytesIO(data)) as a, Image.open(io.BytesIO(clean)) as b:
        assert a.tobytes() == b.tobytes()
        assert not b.getexif().get_ifd(0x8825)
    assert scrub_heif(clean) == clean  # nothing left to remove
    with pytest.raises(UnpublishableError):
        scrub_heif(b"\x00\x00\x00\x10ftypheic\x00\x00\x00\x00")  # no meta box
    with pytest.raises(UnpublishableError, match="JPEG and HEIC only"):
        publishable_bytes(data, "TIFF")


def test_real_sample_photos_pair_in_subject_folders(exif_samples, tmp_path):
    source = tmp_path / "real"
    picks = {
        "mug/iphone_13_pro_max.HEIC": "heic/mobile/iphone_13_pro_max.HEIC",
        "mug/Nikon_D70.jpg": "jpg/Nikon_D70.jpg",
        "street/jolla.jpg": "jpg/mobile/jolla.jpg",
        "street/DSCN0010.jpg": "jpg/gps/DSCN0010.jpg",  # a camera photo with real GPS
        "tree/corrupted.jpg": "jpg/corrupted.jpg",
        "tree/Canon_40D.jpg": "jpg/Canon_40D.jpg",
        "chart/Arbitro.tiff": "tiff/Arbitro.tiff",
    }
    for target, origin in picks.items():
        (source / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(exif_samples / origin, source / target)
    result = ingest(IngestConfig(source, tmp_path / "out"))
    assert pairs(result) == {
        "folder:mug": ("mug/Nikon_D70.jpg", "mug/iphone_13_pro_max.HEIC"),
        "folder:street": ("street/DSCN0010.jpg", "street/jolla.jpg"),
    }
    models = [[p.model for p in s.photos] for s in result.subjects]
    assert models == [["NIKON D70", "iPhone 13 Pro Max"], ["COOLPIX P6000", "Jolla"]]
    assert statuses(result) == {"tree/corrupted.jpg": "invalid", "tree/Canon_40D.jpg": "unpaired",
                                "chart/Arbitro.tiff": "ignored"}
    assert "cannot be removed safely" in reason(result, "tree/corrupted.jpg")
    # the same files in one folder: years apart, so nothing pairs by capture time
    flat = tmp_path / "flat"
    flat.mkdir()
    for target in picks:
        shutil.copyfile(source / target, flat / Path(target).name)
    flat_result = ingest(IngestConfig(flat, tmp_path / "flat-out"))
    assert flat_result.layout == "flat" and not flat_result.subjects
    assert {p.status for p in flat_result.problems if p.path.endswith((".jpg", ".HEIC"))} == {"unpaired", "invalid"}
    assert "no photo from another device taken within 120 s" in reason(flat_result, "iphone_13_pro_max.HEIC")


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
    flat = runner.invoke(app, ["ingest", str(folders_dir), "--out", str(tmp_path / "o5"), "--layout", "flat",
                               "--allow-same-kind", "--tolerance", "0"])
    assert flat.exit_code in (0, 1) and "flat layout" in flat.output
