"""paircams pairing: both layouts, every kind of bad photo or pair, HEIC cleaning, real sample photos."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from flickrexif.exif.read import read_exif
from flickrexif.exif.scrub import UnpublishableError, publishable_bytes, scrub_heif
from paircams.ingest import IngestConfig, Layout, ingest


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
        "s03/lonely.jpg": "unpaired",
        "s06/phone.jpg": "unpaired",
        "s04/phone.jpg": "ambiguous",
        "s04/camera1.jpg": "ambiguous",
        "s04/camera2.jpg": "ambiguous",
        "s05/a.jpg": "invalid",
        "s05/b.jpg": "invalid",
        "s06/camera.jpg": "invalid",
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
    both = ingest(
        IngestConfig(source, tmp_path / "both", require_phone_and_camera=False, require_different_devices=False)
    )
    assert list(pairs(both)) == ["folder:a", "folder:b"]


def test_forced_layouts(folders_dir, tmp_path, kit):
    flat = ingest(IngestConfig(folders_dir, tmp_path / "flat", layout=Layout.flat))
    assert flat.layout == "flat"  # all photos share one time: one big ambiguous group, the two phones excluded
    assert not flat.subjects and statuses(flat)["s01/phone.jpg"] == "ambiguous"
    kit.write(folders_dir / "loose.jpg", kit.phone_a, kit.t0, seed=99)
    folders = ingest(IngestConfig(folders_dir, tmp_path / "folders"))
    assert "not inside a subject folder" in reason(folders, "loose.jpg")


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
    assert statuses(result) == {
        "tree/corrupted.jpg": "invalid",
        "tree/Canon_40D.jpg": "unpaired",
        "chart/Arbitro.tiff": "ignored",
    }
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
