"""Publish a photo's bytes with an allowlist of metadata, without re-encoding its image.

A published dataset row carries the photo's bytes, and an original's embedded metadata can hold
its GPS position, serial numbers, the owner's name, comments and editing history.  The row's
columns already leave those out; :func:`scrub_jpeg` keeps only what the photo needs to display
right and the camera fields published as columns, while keeping every byte of the compressed image
(quantization, Huffman and arithmetic-coding tables, frame header, restart interval, scans) exactly
as downloaded, so the encoder traces the dataset is about are untouched.  A JPEG keeps, in order:

* SOI, the coded-image segments (DQT, DHT, DAC, SOFn, DRI, DNL, DHP, EXP, SOS with its
  entropy-coded data) and EOI, byte for byte;
* the first JFIF APP0, without its optional thumbnail;
* the ICC profile (APP2 ``ICC_PROFILE`` chunks, byte for byte) and the Adobe APP14 segment (its
  colour-transform flag says how to read YCCK/CMYK and RGB data);
* the first Exif APP1, rebuilt by :func:`flickrexif.exif.exif_allowlist.allowlisted_tiff` with only
  orientation, resolution, colour space, make, model, software, lens, capture dates and exposure
  settings (the module's docstring lists the tags).

Everything else is dropped, whatever it is: comments (COM), XMP, IPTC/Photoshop (APP13), MPF and
FlashPix (APP2), Kodak Meta (APP3), Ducky and picture info (APP12), JUMBF/C2PA (APP11), Canon CIFF
and other non-JFIF APP0 data, any other APPn, and anything after the primary image's EOI (MPF
secondary images, maker trailers).  Inside Exif the same allowlist drops GPS, serial numbers,
owner names, comments, descriptions, maker notes and the thumbnail.  ``Artist`` and ``Copyright``
are dropped too: they name a person, and the row's attribution comes from Flickr's owner and
license columns.

An orientation written only in XMP (``tiff:Orientation``, which Pillow honours) is carried into the
Exif block, so the photo still displays the same way.  An Exif block without a TIFF header is
dropped; one that is partly corrupt keeps the allowlisted tags that can be read.

HEIF/HEIC (:func:`scrub_heif`): the Exif item is rebuilt with the same allowlist and zero-padded
to its length, and XMP items are blanked, so no offset and no byte of the coded image changes; a
layout that cannot be rewritten that way is refused (:class:`UnpublishableError`).
:func:`publishable_bytes` picks the right one for a format.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from flickrexif.exif.exif_allowlist import NotATiff, allowlisted_tiff, is_empty

_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(?:="|>)([1-8])')
_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_APP0, _APP1, _APP2, _APP14 = 0xE0, 0xE1, 0xE2, 0xEE
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: markers without a length
# The coded image: SOF0-15 with DHT (C4) and DAC (CC) but not the reserved JPG (C8); RST0-7;
# SOS; DQT; DNL; DRI; DHP; EXP.
_CODED = frozenset({*range(0xC0, 0xD8), _SOS, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF} - {0xC8})
_EXIF_HEADER = b"Exif\x00\x00"


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


def _exif_block(payload: bytes | None, orientation: int | None) -> bytes | None:
    """An allowlisted Exif APP1 payload (``Exif\\0\\0`` + TIFF); ``None`` when nothing is left to keep."""
    try:
        tiff = allowlisted_tiff(payload[len(_EXIF_HEADER) :] if payload is not None else None, orientation)
    except NotATiff:
        return None
    return None if is_empty(tiff) else _EXIF_HEADER + tiff


def _segment(marker: int, payload: bytes) -> bytes | None:
    if len(payload) + 2 > 0xFFFF:
        return None
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def _kept_segment(marker: int, segment: bytes, seen: set[str]) -> bytes | None:
    """The segment as published (possibly trimmed), or ``None`` to drop it; Exif is handled apart."""
    if marker in _CODED:
        return segment
    payload = segment[4:]
    if marker == _APP0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14 and "jfif" not in seen:
        seen.add("jfif")  # version, density unit and densities; no thumbnail
        return _segment(_APP0, payload[:12] + b"\x00\x00")
    if marker == _APP2 and payload.startswith(b"ICC_PROFILE\x00"):
        return segment
    if marker == _APP14 and payload.startswith(b"Adobe") and "adobe" not in seen:
        seen.add("adobe")  # version, flags and the colour transform: 12 bytes in all
        return _segment(_APP14, payload[:12])
    return None


def scrub_jpeg(data: bytes) -> bytes:
    """``data`` with only allowlisted metadata (see the module docstring); image data unchanged.

    Raises :class:`NotAJpeg` for bytes that are not a walkable JPEG.
    """
    segments, _ = _segments(data)
    orientation = None
    for marker, segment in segments:
        if marker == _APP1 and (match := _XMP_ORIENTATION.search(segment)):
            orientation = int(match[1])
            break
    out = [b"\xff\xd8"]
    seen: set[str] = set()
    has_exif = False
    for marker, segment in segments:
        if marker == _APP1 and segment[4:].startswith(_EXIF_HEADER):
            if "exif" not in seen:  # readers use the first Exif block; later ones are dropped
                seen.add("exif")
                cleaned = _exif_block(segment[4:], orientation)
                rebuilt = _segment(_APP1, cleaned) if cleaned is not None else None
                if rebuilt is not None:
                    out.append(rebuilt)
                    has_exif = True
            continue
        kept = _kept_segment(marker, segment, seen)
        if kept is not None:
            out.append(kept)
    if orientation is not None and not has_exif:
        created = _exif_block(None, orientation)
        if created is not None and (segment := _segment(_APP1, created)) is not None:
            at = 2 if len(out) > 1 and out[1][:2] == b"\xff\xe0" else 1  # after JFIF's APP0
            out.insert(at, segment)
    out.append(b"\xff\xd9")
    return b"".join(out)


# --- HEIF (HEIC) --------------------------------------------------------------------------------


class UnpublishableError(ValueError):
    """The photo's identifying metadata cannot be removed without touching its image data."""


def publishable_bytes(data: bytes, image_format: str) -> bytes:
    """``data`` with only allowlisted metadata (no GPS, serials, names, XMP); the coded image untouched.

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
    """The Exif item's payload with only allowlisted tags, same length; ``None`` when nothing changes."""
    if len(payload) < 4:
        raise UnpublishableError("HEIF Exif item is too short")
    (skip,) = struct.unpack(">I", payload[:4])
    tiff_start = 4 + skip
    if tiff_start >= len(payload):
        raise UnpublishableError("HEIF Exif item's TIFF header offset points past the item")
    try:
        tiff = allowlisted_tiff(payload[tiff_start:])
    except NotATiff as error:
        raise UnpublishableError(f"the Exif item of this HEIF file cannot be rewritten: {error}") from None
    room = len(payload) - tiff_start
    if len(tiff) > room:
        raise UnpublishableError("the cleaned Exif does not fit in the HEIF file's Exif item")
    cleaned = payload[:tiff_start] + tiff + b"\x00" * (room - len(tiff))
    return None if cleaned == payload else cleaned


def scrub_heif(data: bytes) -> bytes:
    """HEIF/HEIC ``data`` with its Exif cleaned and XMP emptied, rewritten in place (same length).

    Container-level and minimal: the Exif item is rebuilt with the allowlist JPEG's Exif gets
    (:func:`flickrexif.exif.exif_allowlist.allowlisted_tiff`), padded with zeros to the item's
    length, and every XMP item is replaced by an empty packet of the same length.  Every offset in
    the file stays valid and no byte of the coded image, its properties or thumbnails changes.
    Items stored in ways this parser does not know raise :class:`UnpublishableError`, as does an
    Exif item without a TIFF header and a result that does not read back as clean.
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
    """Re-read the rewritten file's items: Exif must be allowlisted already and no XMP packet left."""
    for item in _heif_items(data).values():
        payload = b"".join(data[offset : offset + length] for offset, length in item.extents)
        if item.item_type == b"Exif" and _clean_exif_item(payload) is not None:
            raise UnpublishableError("tags outside the allowlist are still present after cleaning")
        if item.item_type == b"mime" and b"<rdf:" in payload:
            raise UnpublishableError("an XMP packet is still present after cleaning")


# --- reading files -----------------------------------------------------------------------------------
