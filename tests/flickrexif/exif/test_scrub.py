"""scrub_jpeg and scrub_heif: only allowlisted metadata stays; image data and camera fields untouched."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms

from flickrexif.exif.read import read_exif
from flickrexif.exif.scrub import NotAJpeg, scrub_heif, scrub_jpeg

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'xmlns:aux="http://ns.adobe.com/exif/1.0/aux/" tiff:Orientation="6" exif:GPSLatitude="48,51.4N" '
    b'aux:SerialNumber="123456"/></rdf:RDF></x:xmpmeta>'
)


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def photo(exif: Image.Exif | None = None, xmp: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 48, 3), dtype=np.uint8))
    options = {"quality": 88}
    if exif is not None:
        options["exif"] = exif
    if xmp is not None:
        options["xmp"] = xmp
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def camera_exif(*, gps: bool = True) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x013C] = "Canon", "Canon EOS 40D", "Anna's laptop"
    sub = exif.get_ifd(0x8769)
    sub[0xA431], sub[0xA435], sub[0x829D], sub[0x8827] = "0123456789", "L-998877", 5.6, 400
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)})
    return exif


def test_gps_serials_and_host_go_camera_fields_stay():
    original = photo(camera_exif())
    cleaned = scrub_jpeg(original)
    exif = Image.open(io.BytesIO(cleaned)).getexif()
    assert 0x8825 not in exif and not exif.get_ifd(0x8825) and 0x013C not in exif
    assert not {0xA431, 0xA435} & set(exif.get_ifd(0x8769))
    assert b"0123456789" not in cleaned and b"laptop" not in cleaned
    assert (exif[0x010F], exif[0x0110]) == ("Canon", "Canon EOS 40D")
    assert read_exif(cleaned) == read_exif(original)
    assert np.array_equal(pixels(cleaned), pixels(original))
    assert scrub_jpeg(cleaned) == cleaned  # idempotent


def test_xmp_is_dropped_but_its_orientation_is_kept_in_exif():
    for exif in (camera_exif(), None):
        original = photo(exif, xmp=XMP)
        cleaned = scrub_jpeg(original)
        assert b"xmpmeta" not in cleaned and b"SerialNumber" not in cleaned
        assert Image.open(io.BytesIO(cleaned)).getexif()[0x0112] == 6
        assert read_exif(cleaned).orientation == read_exif(original).orientation == 6
        assert np.array_equal(pixels(cleaned), pixels(original))


def test_data_after_the_image_and_the_mpf_index_are_dropped():
    original = photo(camera_exif())
    mpf = b"\xff\xe2" + struct.pack(">H", 2 + 8) + b"MPF\x00abcd"
    secondary = photo(camera_exif())  # an MPO's second image carries its own GPS
    stitched = original[:2] + mpf + original[2:] + secondary
    cleaned = scrub_jpeg(stitched)
    assert b"MPF\x00" not in cleaned and cleaned.count(b"\xff\xd8") == 1 and cleaned.endswith(b"\xff\xd9")
    assert cleaned == scrub_jpeg(original)


def test_not_a_jpeg():
    for data in (b"GIF89a...", b"\xff\xd8\xff\xe1\x00", photo()[:-200]):
        with pytest.raises(NotAJpeg):
            scrub_jpeg(data)


def test_real_camera_files_keep_their_pixels_and_exif_fields(exif_samples):
    files = sorted(p for p in (exif_samples / "jpg").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    checked = 0
    for path in files:
        data = path.read_bytes()
        try:
            before = read_exif(data)
            reference = pixels(data)
        except Exception:  # noqa: BLE001 - deliberately broken samples: nothing to compare
            continue
        try:
            cleaned = scrub_jpeg(data)
        except NotAJpeg:
            continue  # the build drops such photos
        assert read_exif(cleaned) == before, path.name
        assert np.array_equal(pixels(cleaned), reference), path.name
        assert coded_segments(cleaned) == coded_segments(data, strict=False), path.name
        assert_allowlisted(cleaned)
        with Image.open(io.BytesIO(cleaned)) as after, Image.open(io.BytesIO(data)) as original:
            assert after.getexif().get(0x0112) == original.getexif().get(0x0112), path.name  # XMP's too
            assert after.info.get("icc_profile") == original.info.get("icc_profile"), path.name
        checked += 1
    assert checked >= 20


# --- the allowlist: identifying fields of every kind, built by hand -----------------------------

SECRETS = {  # field -> a value found nowhere else in the file
    "SerialNumber 0xFDE9": b"SECRET-serial-fde9",
    "OwnerName 0xFDE8": b"SECRET-owner-fde8",
    "IPTC in Exif 0x83BB": b"SECRET-iptc-in-exif",
    "XPAuthor 0x9C9D": "SECRET-xpauthor".encode("utf-16-le"),
    "UserComment 0x9286": b"SECRET-usercomment",
    "ImageDescription 0x010E": b"SECRET-description",
    "DocumentName 0x010D": b"SECRET-documentname",
    "Artist 0x013B": b"SECRET-artist",
    "Copyright 0x8298": b"SECRET-copyright",
    "text after Make's NUL": b"SECRET-after-nul",
    "thumbnail IFD1": b"SECRET-ifd1",
    "GPS": b"SECRET-gps",
    "Kodak APP3 CameraOwner": b"SECRET-kodak-owner",
    "APP12 SerialNumber": b"SECRET-app12-serial",
    "CIFF OwnerName": b"SECRET-ciff-owner",
    "COM": b"SECRET-comment",
    "APP11 JUMBF/C2PA": b"SECRET-c2pa",
    "APP13 IPTC": b"SECRET-photoshop",
    "XMP": b"SECRET-xmp-creator",
    "JFIF thumbnail": b"SECRET-jfif-thumb!",  # 18 bytes: a 6x1 RGB thumbnail
    "trailer": b"SECRET-trailer",
}
# What survives, by Exif tag number (0x8769 and 0xA005 are the pointers to the sub-IFDs).
KEPT_IFD0 = {0x010F, 0x0110, 0x0131, 0x0112, 0x011A, 0x011B, 0x0128, 0x0213, 0x8769}
KEPT_EXIF = {0x829A, 0x829D, 0x8827, 0x9000, 0x9003, 0x9004, 0x9209, 0x920A, 0xA001, 0xA405, 0xA434, 0xA005}
KEPT_INTEROP = {0x0001, 0x0002}
ASCII, SHORT, LONG, RATIONAL, UNDEFINED, BYTE = 2, 3, 4, 5, 7, 1


def tiff(ifds: dict[str, list[tuple[int, int, bytes]]]) -> bytes:
    """A big-endian TIFF block: IFD0 (+ ``exif``, ``gps``, ``interop`` sub-IFDs and ``ifd1``), written by hand."""
    unit = {BYTE: 1, ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8, UNDEFINED: 1}
    order = ["ifd0", "exif", "interop", "gps", "ifd1"]
    pointers = {"exif": ("ifd0", 0x8769), "gps": ("ifd0", 0x8825), "interop": ("exif", 0xA005)}
    tables = {name: list(ifds.get(name, [])) for name in order}
    for child, (parent, tag) in pointers.items():
        if tables[child]:
            tables[parent].append((tag, LONG, b"\x00\x00\x00\x00"))  # offset patched below
    sizes = {n: 6 + 12 * len(t) + sum(len(v) + len(v) % 2 for _, _, v in t if len(v) > 4) for n, t in tables.items()}
    starts, at = {}, 8
    for name in order:
        if tables[name]:
            starts[name], at = at, at + sizes[name]
    out = b"MM\x00*" + struct.pack(">L", 8)
    for name in order:
        if not tables[name]:
            continue
        entries = sorted(tables[name])
        data_at, head, data = starts[name] + 6 + 12 * len(entries), struct.pack(">H", len(entries)), b""
        for tag, kind, value in entries:
            child = next((c for c, (p, t) in pointers.items() if p == name and t == tag), None)
            value = struct.pack(">L", starts[child]) if child else value
            if len(value) > 4:
                field, data = struct.pack(">L", data_at + len(data)), data + value + b"\x00" * (len(value) % 2)
            else:
                field = value.ljust(4, b"\x00")
            head += struct.pack(">HHL", tag, kind, len(value) // unit[kind]) + field
        following = starts["ifd1"] if name == "ifd0" and tables["ifd1"] else 0
        out += head + struct.pack(">L", following) + data
    return out


def text(value: bytes) -> tuple[int, bytes]:
    return ASCII, value + b"\x00"


def identifying_tiff() -> bytes:
    rational = struct.pack(">LL", 56, 10)
    return tiff(
        {
            "ifd0": [
                (0x010F, *text(b"Canon\x00" + SECRETS["text after Make's NUL"])),
                (0x0110, *text(b"Canon EOS 40D")),
                (0x0112, SHORT, struct.pack(">H", 6)),
                (0x011A, RATIONAL, struct.pack(">LL", 72, 1)),
                (0x010E, *text(SECRETS["ImageDescription 0x010E"])),
                (0x010D, *text(SECRETS["DocumentName 0x010D"])),
                (0x013B, *text(SECRETS["Artist 0x013B"])),
                (0x8298, *text(SECRETS["Copyright 0x8298"])),
                (0x83BB, UNDEFINED, b"\x1c\x02\x50\x00\x13" + SECRETS["IPTC in Exif 0x83BB"] + b"\x00"),
                (0x9C9D, BYTE, SECRETS["XPAuthor 0x9C9D"] + b"\x00\x00"),
                (0x8827, SHORT, struct.pack(">H", 800)),  # in IFD0 by mistake: moved to the Exif sub-IFD
            ],
            "exif": [
                (0x829D, RATIONAL, rational),
                (0x9000, UNDEFINED, b"0232"),
                (0x9003, *text(b"2020:05:17 10:11:12")),
                (0x9286, UNDEFINED, b"ASCII\x00\x00\x00" + SECRETS["UserComment 0x9286"]),
                (0xA001, SHORT, struct.pack(">H", 1)),
                (0xFDE8, *text(SECRETS["OwnerName 0xFDE8"])),
                (0xFDE9, *text(SECRETS["SerialNumber 0xFDE9"])),
                (0xA431, *text(b"SECRET-bodyserial")),
            ],
            "interop": [(0x0001, *text(b"R98")), (0x0002, UNDEFINED, b"0100"), (0x1000, *text(b"SECRET-interop"))],
            "gps": [(0x0001, *text(b"N")), (0x001B, UNDEFINED, b"ASCII\x00\x00\x00" + SECRETS["GPS"])],
            "ifd1": [(0x010E, *text(SECRETS["thumbnail IFD1"])), (0x0103, SHORT, struct.pack(">H", 6))],
        }
    )


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def identifying_jpeg() -> bytes:
    """A JPEG holding every listed identifying field, plus an ICC profile and Adobe APP14 that must stay."""
    buffer = io.BytesIO()
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (24, 40, 3), dtype=np.uint8))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image.save(buffer, "JPEG", quality=90, icc_profile=icc)
    coded = buffer.getvalue()
    xmp = XMP.replace(b'aux:SerialNumber="123456"', b'dc:creator="' + SECRETS["XMP"] + b'"')
    added = b"".join(
        [
            segment(0xE0, b"JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x06\x01" + SECRETS["JFIF thumbnail"]),  # 6x1 RGB
            segment(0xE0, b"II\x1a\x00\x00\x00HEAPJPGM" + b"OwnerName\x00" + SECRETS["CIFF OwnerName"]),
            segment(0xE1, b"Exif\x00\x00" + identifying_tiff()),
            segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp),
            segment(0xE2, b"FPXR\x00\x00" + b"SECRET-fpxr"),
            segment(0xE3, b"META\x00\x00" + b"CameraOwner\x00" + SECRETS["Kodak APP3 CameraOwner"]),
            segment(0xEB, b"JP\x00\x01\x00\x00\x00\x01" + b"jumbc2pa" + SECRETS["APP11 JUMBF/C2PA"]),
            segment(0xEC, b"[picture info]\r\nSerialNumber=" + SECRETS["APP12 SerialNumber"] + b"\r\n"),
            segment(0xED, b"Photoshop 3.0\x00" + b"8BIM\x04\x04\x00\x00" + SECRETS["APP13 IPTC"]),
            segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01"),
            segment(0xFE, SECRETS["COM"]),
        ]
    )
    # Pillow wrote SOI, JFIF APP0 (replaced by ours) and the ICC APP2 first; the coded image follows.
    assert coded[2:4] == b"\xff\xe0"
    jfif_end = 4 + struct.unpack(">H", coded[4:6])[0]
    return coded[:2] + added + coded[jfif_end:] + SECRETS["trailer"]


def markers(data: bytes, *, strict: bool = True) -> list[tuple[int, bytes]]:
    """Every segment of a JPEG up to EOI as ``(marker, whole segment)``, scans with their coded data.

    ``strict``: no fill bytes before markers and nothing after EOI (what scrub_jpeg writes).
    """
    assert data[:2] == b"\xff\xd8"
    out, pos = [], 2
    while True:
        assert data[pos] == 0xFF, pos
        while not strict and data[pos + 1] == 0xFF:
            pos += 1
        marker = data[pos + 1]
        if marker == 0xD9:
            out.append((marker, data[pos : pos + 2]))
            assert not strict or pos + 2 == len(data), "bytes after EOI"
            return out
        if marker in (0x01, *range(0xD0, 0xD8)):
            out.append((marker, data[pos : pos + 2]))
            pos += 2
            continue
        end = pos + 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker == 0xDA:  # stuffed 0xFF00, RST0-7 and fill bytes before a marker are scan data
            while not (data[end] == 0xFF and data[end + 1] not in (0x00, 0xFF, *range(0xD0, 0xD8))):
                end += 1
        out.append((marker, data[pos:end]))
        pos = end


CODED = {*range(0xC0, 0xD8), 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF} - {0xC8}  # with RST0-7


def coded_segments(data: bytes, *, strict: bool = True) -> list[bytes]:
    return [whole for marker, whole in markers(data, strict=strict) if marker in CODED]


def assert_allowlisted(cleaned: bytes) -> None:
    """Only allowlisted segments and Exif tags, checked with this walker and with Pillow."""
    found = markers(cleaned)
    assert {m for m, _ in found} <= CODED | {0xE0, 0xE1, 0xE2, 0xEE, 0xD9}
    for marker, whole in found:
        payload = whole[4:]
        if marker == 0xE0:
            assert payload.startswith(b"JFIF\x00") and len(payload) == 14 and payload[12:] == b"\x00\x00"
        if marker == 0xE1:
            assert payload.startswith(b"Exif\x00\x00")
        if marker == 0xE2:
            assert payload.startswith(b"ICC_PROFILE\x00")
        if marker == 0xEE:
            assert payload.startswith(b"Adobe") and len(payload) == 12
    assert sum(marker == 0xE1 for marker, _ in found) <= 1
    with Image.open(io.BytesIO(cleaned)) as image:
        assert {key for key, _ in image.applist} <= {"APP0", "APP1", "APP2", "APP14"}
        assert not {"comment", "xmp", "photoshop", "mp"} & set(image.info)
        exif = image.getexif()
        assert set(exif) <= KEPT_IFD0
        assert set(exif.get_ifd(0x8769)) <= KEPT_EXIF
        assert set(exif.get_ifd(0xA005)) <= KEPT_INTEROP
        assert not exif.get_ifd(0x8825) and not exif.get_ifd(ExifTags.IFD.IFD1)


def test_identifying_fields_of_every_kind_are_dropped():
    original = identifying_jpeg()
    for name, secret in SECRETS.items():
        assert secret in original, name
    cleaned = scrub_jpeg(original)
    assert [name for name, secret in SECRETS.items() if secret in cleaned] == []
    assert b"SECRET" not in cleaned and "SECRET".encode("utf-16-le") not in cleaned
    assert_allowlisted(cleaned)
    with Image.open(io.BytesIO(cleaned)) as image, Image.open(io.BytesIO(original)) as before:
        exif = image.getexif()
        sub = exif.get_ifd(0x8769)
        assert (exif[0x010F], exif[0x0110], exif[0x0112], exif[0x011A]) == ("Canon", "Canon EOS 40D", 6, 72)
        assert (sub[0x829D], sub[0x8827], sub[0x9003], sub[0xA001]) == (5.6, 800, "2020:05:17 10:11:12", 1)
        assert exif.get_ifd(0xA005) == {1: "R98", 2: b"0100"}
        assert image.info["icc_profile"] == before.info["icc_profile"]
        assert image.info["adobe_transform"] == before.info["adobe_transform"] == 1
        assert image.info["jfif_density"] == before.info["jfif_density"]
    assert coded_segments(cleaned) == coded_segments(original, strict=False)
    assert np.array_equal(pixels(cleaned), pixels(original))
    assert read_exif(cleaned) == read_exif(original)
    assert scrub_jpeg(cleaned) == cleaned


def test_an_unreadable_exif_block_is_dropped_and_xmp_orientation_still_carried():
    base = photo(xmp=XMP)
    broken = segment(0xE1, b"Exif\x00\x00" + b"XX\x00\x00garbage")
    cleaned = scrub_jpeg(base[:2] + broken + base[2:])
    assert b"garbage" not in cleaned
    assert Image.open(io.BytesIO(cleaned)).getexif()[0x0112] == 6


def test_heic_exif_item_keeps_only_the_allowlist(tmp_path):
    image = Image.fromarray(np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "HEIF", quality=80, exif=b"Exif\x00\x00" + identifying_tiff(), xmp=XMP)
    original = buffer.getvalue()
    exif_secrets = [secret for secret in SECRETS.values() if secret in identifying_tiff()]
    assert all(secret in original for secret in exif_secrets) and b"xmpmeta" in original
    cleaned = scrub_heif(original)
    assert len(cleaned) == len(original) and b"SECRET" not in cleaned and b"SerialNumber" not in cleaned
    assert "SECRET".encode("utf-16-le") not in cleaned
    with Image.open(io.BytesIO(cleaned)) as after, Image.open(io.BytesIO(original)) as before:
        exif = after.getexif()
        assert set(exif) <= KEPT_IFD0 and set(exif.get_ifd(0x8769)) <= KEPT_EXIF
        assert not exif.get_ifd(0x8825) and exif[0x010F] == "Canon"
        assert after.tobytes() == before.tobytes()
    assert read_exif(cleaned) == read_exif(original)
    assert scrub_heif(cleaned) == cleaned


def test_real_heic_files_keep_their_pixels_and_only_allowlisted_exif(exif_samples):
    files = sorted(p for p in (exif_samples / "heic").rglob("*") if p.suffix.lower() in (".heic", ".heif"))
    assert files
    for path in files:
        data = path.read_bytes()
        cleaned = scrub_heif(data)
        assert len(cleaned) == len(data), path.name
        assert read_exif(cleaned) == read_exif(data), path.name
        with Image.open(io.BytesIO(cleaned)) as after, Image.open(io.BytesIO(data)) as before:
            exif = after.getexif()
            assert set(exif) <= KEPT_IFD0 and set(exif.get_ifd(0x8769)) <= KEPT_EXIF, path.name
            assert not exif.get_ifd(0x8825) and not after.info.get("xmp", b"").count(b"<rdf:"), path.name
            assert after.tobytes() == before.tobytes(), path.name
