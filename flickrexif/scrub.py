"""Remove metadata that locates a photo or identifies a device from JPEG bytes, without re-encoding.

A published dataset row carries the photo's bytes, and an original's embedded metadata can hold
its GPS position, the camera body and lens serial numbers, and the owner's computer name.  The
row's columns already leave those out; :func:`scrub_jpeg` removes them from the bytes too, while
keeping every byte of the compressed image (quantization and Huffman tables, frame header, scans)
exactly as downloaded, so the encoder traces the dataset is about are untouched:

* the Exif APP1 segment is rewritten without the GPS IFD, serial numbers, ``ImageUniqueID``,
  ``CameraOwnerName``, ``HostComputer`` and the maker note (where makers keep serials); camera
  settings, make, model, lens and dates stay, and so do ``Artist`` and ``Copyright``.  A block
  holding none of these is kept byte for byte;
* XMP (APP1) and IPTC/Photoshop (APP13) segments are dropped: both routinely hold GPS and serials;
* anything after the primary image's end-of-image marker (MPF secondary images, maker trailers)
  and the MPF index (APP2) that points at it are dropped, as they carry their own metadata.

An orientation written only in XMP (``tiff:Orientation``, which Pillow honours) is carried into the
Exif block, so the photo still displays the same way.

When the Exif block cannot be parsed and rewritten it is dropped entirely rather than kept.
"""

from __future__ import annotations

import re
import struct

from PIL import Image

_GPS_IFD, _EXIF_IFD = 0x8825, 0x8769
# Removed wherever they are (IFD0 or the Exif sub-IFD): the GPS directory, HostComputer, ImageUniqueID,
# CameraOwnerName, BodySerialNumber, LensSerialNumber, MakerNote and DNG's CameraSerialNumber.
_DROP = frozenset({_GPS_IFD, 0x013C, 0xA420, 0xA430, 0xA431, 0xA435, 0x927C, 0xC62F})

_ORIENTATION = 0x0112
_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(?:="|>)([1-8])')
_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_APP1, _APP2, _APP13 = 0xE1, 0xE2, 0xED
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: markers without a length


class NotAJpeg(ValueError):
    """The bytes are not a JPEG this module can walk (no SOI, or a segment runs past the end)."""


def _segments(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """Header segments as ``(marker, whole segment bytes)`` up to and including the image data.

    Returns the segments and the offset just past the primary image's EOI marker.  Scan data is
    copied verbatim inside its SOS "segment" (header + entropy-coded bytes).
    """
    if data[:2] != b"\xff\xd8":
        raise NotAJpeg("no JPEG start-of-image marker")
    out: list[tuple[int, bytes]] = []
    pos = 2
    size = len(data)
    while pos < size:
        if data[pos] != 0xFF:
            raise NotAJpeg(f"expected a marker at byte {pos}")
        while pos + 1 < size and data[pos + 1] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos + 1 >= size:
            raise NotAJpeg("truncated marker")
        marker = data[pos + 1]
        if marker == _EOI:
            return out, pos + 2
        if marker in _STANDALONE:
            out.append((marker, data[pos : pos + 2]))
            pos += 2
            continue
        if pos + 4 > size:
            raise NotAJpeg("truncated segment header")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > size:
            raise NotAJpeg(f"segment {marker:#x} at byte {pos} runs past the end of the file")
        if marker == _SOS:
            end = _end_of_scan(data, end)
        out.append((marker, data[pos:end]))
        pos = end
    raise NotAJpeg("no end-of-image marker")


_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # not stuffing, not RSTn, not a fill byte


def _end_of_scan(data: bytes, pos: int) -> int:
    """Offset of the first marker after entropy-coded data (stuffed 0xFF00 and RSTn are data)."""
    match = _MARKER_IN_SCAN.search(data, pos)
    if match is None:
        raise NotAJpeg("scan data runs past the end of the file")
    return match.start()


def _scrub_exif(payload: bytes | None, orientation: int | None) -> bytes | None:
    """The APP1 payload (``Exif\\0\\0`` + TIFF) without identifying tags; ``None`` if it cannot be rewritten.

    A block with nothing to remove (and no orientation to add) is returned byte for byte;
    ``payload=None`` makes a new block holding only ``orientation``.
    """
    try:
        exif = Image.Exif()
        if payload is not None:
            exif.load(payload)
        sub = exif.get_ifd(_EXIF_IFD)  # loaded, so tobytes() writes the edited sub-IFD back
        add_orientation = orientation is not None and _ORIENTATION not in exif
        if payload is not None and not add_orientation and not _DROP & (set(exif) | set(sub)):
            return payload
        if add_orientation:
            exif[_ORIENTATION] = orientation
        for tag in _DROP:
            sub.pop(tag, None)
            if tag in exif:
                del exif[tag]
        cleaned = exif.tobytes()
        check = Image.Exif()
        check.load(cleaned)
        if _DROP & (set(check) | set(check.get_ifd(_EXIF_IFD))) or check.get_ifd(_GPS_IFD):
            return None
        return cleaned
    except Exception:  # noqa: BLE001 - a block we cannot rewrite is dropped, never kept as is
        return None


def _segment(marker: int, payload: bytes) -> bytes | None:
    if len(payload) + 2 > 0xFFFF:
        return None
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def scrub_jpeg(data: bytes) -> bytes:
    """``data`` without GPS, serial numbers and other identifying metadata; image data unchanged.

    Raises :class:`NotAJpeg` for bytes that are not a walkable JPEG.
    """
    segments, _ = _segments(data)
    orientation = None
    for marker, segment in segments:
        if marker == _APP1 and (match := _XMP_ORIENTATION.search(segment)):
            orientation = int(match[1])
            break
    out = [b"\xff\xd8"]
    has_exif = False
    for marker, segment in segments:
        payload = segment[4:]
        if marker == _APP1 and payload.startswith(b"Exif\x00\x00"):
            cleaned = _scrub_exif(payload, orientation) if not has_exif else None
            rebuilt = _segment(_APP1, cleaned) if cleaned is not None else None
            if rebuilt is not None:
                out.append(rebuilt)
                has_exif = True
            continue
        if marker == _APP1 or marker == _APP13:  # XMP, extended XMP, IPTC/Photoshop resources
            continue
        if marker == _APP2 and payload.startswith(b"MPF\x00"):
            continue
        out.append(segment)
    if orientation is not None and not has_exif:
        created = _scrub_exif(None, orientation)
        if created is not None and (segment := _segment(_APP1, created)) is not None:
            at = 2 if len(out) > 1 and out[1][:2] == b"\xff\xe0" else 1  # after JFIF's APP0
            out.insert(at, segment)
    out.append(b"\xff\xd9")
    return b"".join(out)
