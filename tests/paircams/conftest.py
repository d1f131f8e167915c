"""PairCams fixtures: generated photos (JPEG and HEIC with real Exif) laid out as a researcher would.

Every photo carries a GPS block and a body serial number with recognisable values, so tests can check
that neither reaches a release.  Capture times are set per photo; subjects differ in their pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from paircams.ingest import IngestConfig, ingest

SERIAL = "PAIRCAMS-SERIAL-7731"  # BodySerialNumber in every generated photo
GPS_DATUM = "PAIRCAMS-GPS-DATUM"  # GPSMapDatum in every generated photo
PHONE_A = ("Apple", "iPhone 12")
PHONE_B = ("samsung", "SM-G991B")
CAMERA_A = ("Canon", "Canon EOS 40D")
CAMERA_B = ("NIKON CORPORATION", "NIKON D70")
T0 = datetime(2024, 5, 1, 10, 0, 0)


def exif_bytes(make: str, model: str, taken: datetime | None) -> bytes:
    """An Exif block with camera settings, a GPS directory and a serial number."""
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    exif[0x0131] = "PairCams test writer"
    sub = exif.get_ifd(0x8769)
    if taken is not None:
        sub[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    sub[0x829A] = (1, 125)
    sub[0x829D] = (28, 10)
    sub[0x8827] = 200
    sub[0x920A] = (50, 1)
    sub[0xA431] = SERIAL
    gps = exif.get_ifd(0x8825)
    gps[0x0001] = "N"
    gps[0x0002] = (48.0, 51.0, 30.0)
    gps[0x0012] = GPS_DATUM
    return exif.tobytes()


def write_photo(path: Path, device: tuple[str, str], taken: datetime | None, *, seed: int, heic: bool = False) -> Path:
    """A small photo of 'subject' ``seed`` (its own colours) from ``device`` at ``taken``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (48, 32), ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256))
    image.putpixel((seed % 48, seed % 32), (255, 255, 255))
    buffer = io.BytesIO()
    if heic:
        image.save(buffer, format="HEIF", quality=80, exif=exif_bytes(*device, taken))
    else:
        image.save(buffer, format="JPEG", quality=90, exif=exif_bytes(*device, taken))
    path.write_bytes(buffer.getvalue())
    return path


def write_corrupt(path: Path) -> Path:
    """A JPEG cut inside its header: looks like a photo by name and first bytes, is not one."""
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (1, 2, 3)).save(buffer, format="JPEG", exif=exif_bytes(*CAMERA_A, T0))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue()[:120])
    return path


def make_folders(root: Path) -> Path:
    """One sub-folder per subject, covering every case ingest must handle."""
    t = T0
    write_photo(root / "s01" / "phone.jpg", PHONE_A, t, seed=1)
    write_photo(root / "s01" / "camera.jpg", CAMERA_A, t + timedelta(seconds=4), seed=1)
    write_photo(root / "s02" / "IMG_0001.HEIC", PHONE_B, t, seed=2, heic=True)  # HEIC + JPEG
    write_photo(root / "s02" / "DSC_0001.JPG", CAMERA_B, t + timedelta(seconds=9), seed=2)
    write_photo(root / "s03" / "lonely.jpg", PHONE_A, t, seed=3)  # missing partner
    write_photo(root / "s04" / "phone.jpg", PHONE_A, t, seed=4)  # three shots
    write_photo(root / "s04" / "camera1.jpg", CAMERA_A, t, seed=4)
    write_photo(root / "s04" / "camera2.jpg", CAMERA_A, t + timedelta(seconds=2), seed=40)
    write_photo(root / "s05" / "a.jpg", PHONE_A, t, seed=5)  # two phones
    write_photo(root / "s05" / "b.jpg", PHONE_B, t, seed=5)
    write_photo(root / "s06" / "phone.jpg", PHONE_B, t, seed=6)  # partner corrupted
    write_corrupt(root / "s06" / "camera.jpg")
    write_photo(root / "s07" / "phone" / "x.jpg", PHONE_A, t, seed=7)  # nested sub-folders
    write_photo(root / "s07" / "camera" / "y.jpg", CAMERA_B, t, seed=7)
    (root / "notes.txt").write_text("how the subjects were shot\n")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    return root


def make_flat(root: Path) -> Path:
    """All photos in one folder, to be paired by capture time (default tolerance 120 s)."""
    t = T0
    write_photo(root / "p1.jpg", PHONE_A, t, seed=11)
    write_photo(root / "c1.jpg", CAMERA_A, t + timedelta(seconds=5), seed=11)
    write_photo(root / "p2.heic", PHONE_B, t + timedelta(seconds=1000), seed=12, heic=True)
    write_photo(root / "c2.jpg", CAMERA_B, t + timedelta(seconds=1030), seed=12)
    write_photo(root / "p3.jpg", PHONE_A, t + timedelta(seconds=3000), seed=13)  # alone
    write_photo(root / "p4.jpg", PHONE_A, t + timedelta(seconds=5000), seed=14)  # three shots
    write_photo(root / "c4a.jpg", CAMERA_A, t + timedelta(seconds=5010), seed=14)
    write_photo(root / "c4b.jpg", CAMERA_A, t + timedelta(seconds=5020), seed=140)
    write_photo(root / "p5.jpg", PHONE_A, t + timedelta(seconds=7000), seed=15)  # two phones
    write_photo(root / "p6.jpg", PHONE_B, t + timedelta(seconds=7005), seed=15)
    write_photo(root / "p7.jpg", PHONE_B, None, seed=16)  # no capture time
    write_corrupt(root / "broken.jpg")
    return root


@dataclass(frozen=True)
class PhotoKit:
    """What the tests need to make photos (test folders are not packages: they get it as a fixture)."""

    serial: str = SERIAL
    gps_datum: str = GPS_DATUM
    phone_a: tuple[str, str] = PHONE_A
    phone_b: tuple[str, str] = PHONE_B
    camera_a: tuple[str, str] = CAMERA_A
    camera_b: tuple[str, str] = CAMERA_B
    t0: datetime = T0

    write = staticmethod(write_photo)
    corrupt = staticmethod(write_corrupt)
    make_folders = staticmethod(make_folders)
    make_flat = staticmethod(make_flat)


@pytest.fixture(scope="session")
def kit() -> PhotoKit:
    return PhotoKit()


@pytest.fixture
def folders_dir(tmp_path) -> Path:
    return make_folders(tmp_path / "subjects")


@pytest.fixture
def flat_dir(tmp_path) -> Path:
    return make_flat(tmp_path / "flat")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """The folder layout ingested once per module (4 pairs): ``(source, ingested folder, result)``."""
    root = tmp_path_factory.mktemp("pairs")
    source = make_folders(root / "subjects")
    result = ingest(IngestConfig(source, root / "ingested"))
    return source, root / "ingested", result
