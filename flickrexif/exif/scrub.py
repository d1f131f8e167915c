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

HEIF/HEIC (:func:`scrub_heif`): the Exif and XMP items are rewritten in place at the same length
(Exif cleaned like JPEG's and zero-padded, XMP blanked), so no offset and no byte of the coded image
changes; a layout that cannot be rewritten that way is refused (:class:`UnpublishableError`).
:func:`publishable_bytes` picks the right one for a format.
"""

from __future__ import annotations

import re
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

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
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if payload is not None:
                exif.load(payload)
            sub = exif.get_ifd(_EXIF_IFD)  # loaded, so tobytes() writes the edited sub-IFD back
        add_orientation = orientation is not None and _ORIENTATION not in exif
        # Keep the block byte for byte only when Pillow read all of it: a part it skipped as
        # corrupt could still hold GPS data; rewriting keeps only what was read (and checked).
        if payload is not None and not caught and not add_orientation and not _DROP & (set(exif) | set(sub)):
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


# --- HEIF (HEIC) --------------------------------------------------------------------------------


class UnpublishableError(ValueError):
    """The photo's identifying metadata cannot be removed without touching its image data."""


def publishable_bytes(data: bytes, image_format: str) -> bytes:
    """``data`` without GPS, serial numbers, maker notes and XMP; the compressed image is not touched.

    JPEG: :func:`flickrexif.exif.scrub.scrub_jpeg`.  HEIF: :func:`scrub_heif`.  Raises
    :class:`UnpublishableError` when that cannot be done safely.
    """
    if image_format == "JPEG":
        try:
            return scrub_jpeg(data)
        except NotAJpeg as error:
            raise UnpublishableError(f"its JPEG structure cannot be walked to remove metadata: {error}") from None
    if image_format == "HEIF":
        try:
            return scrub_heif(data)
        except (IndexError, struct.error, UnicodeError) as error:
            raise UnpublishableError(f"malformed HEIF container ({type(error).__name__}: {error})") from None
    raise UnpublishableError(f"{image_format} files are not published (JPEG and HEIC only)")


@dataclass(frozen=True)
class _Item:
    item_type: bytes
    content_type: str
    extents: tuple[tuple[int, int], ...]  # (absolute file offset, length)


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """ISO BMFF boxes in ``data[start:end]`` as ``(type, payload start, box end)``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise UnpublishableError("truncated HEIF box header")
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise UnpublishableError(f"HEIF box {kind!r} at byte {pos} runs past its container")
        yield kind, pos + header, pos + size
        pos += size


def _uint(data: bytes, pos: int, size: int) -> tuple[int, int]:
    """A big-endian unsigned integer of ``size`` bytes (0, 4 or 8) at ``pos``, and the next position."""
    if size == 0:
        return 0, pos
    if pos + size > len(data):
        raise UnpublishableError("truncated HEIF item table")
    return int.from_bytes(data[pos : pos + size], "big"), pos + size


def _cstring(data: bytes, pos: int, end: int) -> tuple[str, int]:
    stop = data.find(b"\x00", pos, end)
    stop = end if stop < 0 else stop
    return data[pos:stop].decode("utf-8", errors="replace"), min(stop + 1, end)


def _heif_items(data: bytes) -> dict[int, _Item]:
    """The items of a HEIF file's top-level ``meta`` box with their types and byte extents."""
    meta = next(((start, end) for kind, start, end in _boxes(data, 0, len(data)) if kind == b"meta"), None)
    if meta is None:
        raise UnpublishableError("no HEIF meta box")
    children = {kind: (start, end) for kind, start, end in _boxes(data, meta[0] + 4, meta[1])}
    if b"iinf" not in children or b"iloc" not in children:
        raise UnpublishableError("the HEIF meta box has no item table")
    types: dict[int, tuple[bytes, str]] = {}
    start, end = children[b"iinf"]
    version = data[start]
    first = start + 4 + (2 if version == 0 else 4)
    for kind, pos, box_end in _boxes(data, first, end):
        if kind != b"infe" or data[pos] < 2:
            continue  # infe versions 0 and 1 predate HEIF and carry no item type
        item_id, pos = _uint(data, pos + 4, 2 if data[pos] == 2 else 4)
        item_type = data[pos + 2 : pos + 6]
        _, pos = _cstring(data, pos + 6, box_end)  # item name
        content_type = _cstring(data, pos, box_end)[0] if item_type == b"mime" else ""
        types[item_id] = (item_type, content_type)
    idat = children.get(b"idat", (0, 0))[0]
    start, _ = children[b"iloc"]
    version = data[start]
    pos = start + 4
    sizes = data[pos], data[pos + 1]
    offset_size, length_size, base_size = sizes[0] >> 4, sizes[0] & 15, sizes[1] >> 4
    index_size = sizes[1] & 15 if version in (1, 2) else 0
    count, pos = _uint(data, pos + 2, 2 if version < 2 else 4)
    items: dict[int, _Item] = {}
    for _ in range(count):
        item_id, pos = _uint(data, pos, 2 if version < 2 else 4)
        method = 0
        if version in (1, 2):
            method, pos = _uint(data, pos, 2)
            method &= 15
        _, pos = _uint(data, pos, 2)  # data reference index
        base, pos = _uint(data, pos, base_size)
        extent_count, pos = _uint(data, pos, 2)
        extents = []
        for _ in range(extent_count):
            _, pos = _uint(data, pos, index_size)
            offset, pos = _uint(data, pos, offset_size)
            length, pos = _uint(data, pos, length_size)
            extents.append((offset, length))
        item_type, content_type = types.get(item_id, (b"", ""))
        if item_type != b"Exif" and item_type != b"mime":
            continue
        if method not in (0, 1) or any(length == 0 for _, length in extents):
            raise UnpublishableError(f"HEIF {item_type.decode()} item {item_id} is stored in a way not supported here")
        origin = idat if method == 1 else 0
        absolute = tuple((origin + base + offset, length) for offset, length in extents)
        if any(offset + length > len(data) for offset, length in absolute):
            raise UnpublishableError(f"HEIF item {item_id} points past the end of the file")
        items[item_id] = _Item(item_type, content_type, absolute)
    return items


_EMPTY_XMP = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>'
)
_XMP_END = b'<?xpacket end="w"?>'


def _blank_xmp(length: int) -> bytes:
    """An empty XMP packet padded with spaces to ``length`` bytes (spaces only when it does not fit)."""
    if length < len(_EMPTY_XMP) + len(_XMP_END):
        return b" " * length
    return _EMPTY_XMP + b" " * (length - len(_EMPTY_XMP) - len(_XMP_END)) + _XMP_END


def _clean_exif_item(payload: bytes) -> bytes | None:
    """The Exif item's payload without identifying tags, same length; ``None`` when nothing changes."""
    if len(payload) < 4:
        raise UnpublishableError("HEIF Exif item is too short")
    (skip,) = struct.unpack(">I", payload[:4])
    tiff_start = 4 + skip
    if tiff_start >= len(payload):
        raise UnpublishableError("HEIF Exif item's TIFF header offset points past the item")
    block = b"Exif\x00\x00" + payload[tiff_start:]
    cleaned = _scrub_exif(block, None)  # a partly corrupt block is rewritten from what Pillow could read
    if cleaned is None:
        raise UnpublishableError("the Exif of this HEIF file cannot be rewritten without its GPS and serial numbers")
    if cleaned is block:
        return None
    tiff = cleaned[6:] if cleaned.startswith(b"Exif\x00\x00") else cleaned
    room = len(payload) - tiff_start
    if len(tiff) > room:
        raise UnpublishableError("the cleaned Exif does not fit in the HEIF file's Exif item")
    return payload[:tiff_start] + tiff + b"\x00" * (room - len(tiff))


def scrub_heif(data: bytes) -> bytes:
    """HEIF/HEIC ``data`` with its Exif cleaned and XMP emptied, rewritten in place (same length).

    Container-level and minimal: the Exif item is replaced by the same rewrite
    :mod:`flickrexif.exif.scrub` applies to JPEG (no GPS directory, serial numbers, unique ids, owner and
    host names, maker note), padded with zeros to the item's length, and every XMP item is replaced
    by an empty packet of the same length.  Every offset in the file stays valid and no byte of
    the coded image, its properties or thumbnails changes.  Items stored in ways this parser does
    not know raise :class:`UnpublishableError`, as does an Exif block Pillow parses only in part
    (what it skipped could hold GPS data) and a result that still holds GPS or serials.
    """
    items = _heif_items(data)
    out = bytearray(data)
    for item in items.values():
        payload = b"".join(data[offset : offset + length] for offset, length in item.extents)
        if item.item_type == b"Exif":
            replacement = _clean_exif_item(payload)
        elif "xmp" in item.content_type.lower() or "rdf" in item.content_type.lower():
            replacement = _blank_xmp(len(payload)) if payload.strip() else None
        else:
            continue
        if replacement is None:
            continue
        position = 0
        for offset, length in item.extents:
            out[offset : offset + length] = replacement[position : position + length]
            position += length
    result = bytes(out)
    if result != data:
        _check_clean_heif(result)
    return result


def _check_clean_heif(data: bytes) -> None:
    """Re-read the rewritten file's items: no identifying Exif tag and no XMP packet may be left."""
    for item in _heif_items(data).values():
        payload = b"".join(data[offset : offset + length] for offset, length in item.extents)
        if item.item_type == b"Exif" and _clean_exif_item(payload) is not None:
            raise UnpublishableError("identifying Exif tags are still present after cleaning")
        if item.item_type == b"mime" and b"<rdf:" in payload:
            raise UnpublishableError("an XMP packet is still present after cleaning")


# --- reading files -----------------------------------------------------------------------------------
