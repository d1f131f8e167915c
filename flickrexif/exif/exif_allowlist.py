"""The Exif (TIFF) block rebuilt from an allowlist: the tags a published photo keeps, nothing else.

:mod:`flickrexif.exif.scrub` publishes a photo's bytes with only the metadata needed to show it
right and the camera fields the dataset already publishes as columns.  This module is the Exif
half of that: :func:`allowlisted_tiff` reads a TIFF structure (the body of a JPEG's Exif APP1
segment or of a HEIF Exif item) and writes a new one, in the same byte order, holding only:

* IFD0: ``Make``, ``Model``, ``Software`` (published columns), ``Orientation``, ``XResolution``,
  ``YResolution``, ``ResolutionUnit`` and ``YCbCrPositioning`` (display);
* the Exif sub-IFD: ``ExposureTime``, ``FNumber``, ``ISO``, ``DateTimeOriginal``,
  ``DateTimeDigitized``, ``Flash``, ``FocalLength``, ``FocalLengthIn35mmFormat``, ``LensModel``
  (published columns, read by :func:`flickrexif.exif.read.read_exif`), ``ExifVersion`` and
  ``ColorSpace`` (with the interoperability IFD's ``InteropIndex``/``InteropVersion``, the DCF way
  of saying "Adobe RGB" when no ICC profile is embedded).

Everything else goes, whatever it is called: the GPS IFD, the thumbnail IFD (IFD1), maker notes,
serial numbers (``BodySerialNumber``, ``LensSerialNumber``, the old ``SerialNumber`` 0xFDE9),
``OwnerName``/``CameraOwnerName``, ``ImageUniqueID``, ``HostComputer``, ``UserComment``,
``ImageDescription``, ``DocumentName``, the Windows ``XP*`` tags, IPTC stored inside Exif (0x83BB),
and any tag this list does not name.  ``Artist`` and ``Copyright`` are dropped on purpose: they
name a person, and a published row's attribution comes from Flickr's owner and license columns.

Values are copied as raw bytes (same type and count), so every kept field reads back exactly as
before; text is cut at its first NUL (what follows it is never read as the value, so it could only
hide data).  Tags that a value reader would skip (unknown type, zero count, data past the end) are
skipped here too, the first copy of a duplicated tag wins (as in Pillow), and the capture fields a
few writers put in IFD0 instead of the Exif sub-IFD are moved there (read_exif falls back to them).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

EXIF_IFD, INTEROP_IFD = 0x8769, 0xA005
ORIENTATION = 0x0112
_TEXT, _NUMBER, _VERSION = "text", "number", "version"

IFD0_TAGS = {
    0x010F: _TEXT,  # Make
    0x0110: _TEXT,  # Model
    0x0131: _TEXT,  # Software
    ORIENTATION: _NUMBER,
    0x011A: _NUMBER,  # XResolution
    0x011B: _NUMBER,  # YResolution
    0x0128: _NUMBER,  # ResolutionUnit
    0x0213: _NUMBER,  # YCbCrPositioning
}
EXIF_TAGS = {
    0x829A: _NUMBER,  # ExposureTime
    0x829D: _NUMBER,  # FNumber
    0x8827: _NUMBER,  # ISO (PhotographicSensitivity)
    0x9000: _VERSION,  # ExifVersion
    0x9003: _TEXT,  # DateTimeOriginal
    0x9004: _TEXT,  # DateTimeDigitized
    0x9209: _NUMBER,  # Flash
    0x920A: _NUMBER,  # FocalLength
    0xA001: _NUMBER,  # ColorSpace
    0xA405: _NUMBER,  # FocalLengthIn35mmFormat
    0xA434: _TEXT,  # LensModel
}
INTEROP_TAGS = {0x0001: _TEXT, 0x0002: _VERSION}  # InteropIndex ("R98", "R03"), InteropVersion
# Capture fields that read_exif also takes from IFD0 when the Exif sub-IFD lacks them.
_FROM_IFD0 = frozenset({0x829A, 0x829D, 0x8827, 0x9003, 0x9209, 0x920A})

_UNIT = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}  # bytes per value
_KINDS = {
    _TEXT: (frozenset({1, 2, 7}), 1 << 16),  # BYTE, ASCII, UNDEFINED (some writers use them for text)
    _NUMBER: (frozenset({3, 4, 5, 8, 9, 10, 11, 12}), 4),  # integers, rationals, floats; a few values
    _VERSION: (frozenset({1, 2, 7}), 4),  # four characters, "0232"
}
_POINTER_TYPES = frozenset({3, 4, 13})  # SHORT, LONG, IFD


class NotATiff(ValueError):
    """The bytes do not start with a TIFF header (``II*\\0`` or ``MM\\0*``) and a first IFD offset."""


@dataclass(frozen=True)
class Entry:
    """One IFD entry with its value as raw bytes in the block's byte order."""

    tag: int
    kind: int
    count: int
    value: bytes


def _read_ifd(tiff: bytes, offset: int, order: str) -> dict[int, Entry]:
    """The readable entries of the IFD at ``offset``; a truncated table yields the entries before the cut."""
    entries: dict[int, Entry] = {}
    if offset + 2 > len(tiff):
        return entries
    (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
    for index in range(count):
        at = offset + 2 + 12 * index
        if at + 12 > len(tiff):
            break
        tag, kind, number = struct.unpack(order + "HHL", tiff[at : at + 8])
        if tag in entries or kind not in _UNIT or number == 0:
            continue
        size = number * _UNIT[kind]
        if size <= 4:
            value = tiff[at + 8 : at + 8 + size]
        else:
            (start,) = struct.unpack(order + "L", tiff[at + 8 : at + 12])
            if start + size > len(tiff):
                continue
            value = tiff[start : start + size]
        entries[tag] = Entry(tag, kind, number, value)
    return entries


def _sub_ifd(tiff: bytes, parent: dict[int, Entry], pointer: int, order: str) -> dict[int, Entry]:
    entry = parent.get(pointer)
    if entry is None or entry.kind not in _POINTER_TYPES or entry.count != 1:
        return {}
    (offset,) = struct.unpack(order + ("H" if entry.kind == 3 else "L"), entry.value)
    return _read_ifd(tiff, offset, order)


def _keep(entries: dict[int, Entry], allowed: dict[int, str]) -> dict[int, Entry]:
    """The allowlisted entries whose type and count fit their kind; text cut at its first NUL."""
    kept = {}
    for tag, entry in entries.items():
        kind = allowed.get(tag)
        if kind is None:
            continue
        types, max_count = _KINDS[kind]
        if entry.kind not in types or entry.count > max_count:
            continue
        if kind == _TEXT:
            text = entry.value.split(b"\x00", 1)[0]
            if not text:
                continue
            value = text + b"\x00"
            entry = Entry(tag, entry.kind, len(value), value)
        kept[tag] = entry
    return kept


def _ifd_size(entries: dict[int, Entry]) -> int:
    return 6 + 12 * len(entries) + sum(len(e.value) + len(e.value) % 2 for e in entries.values() if len(e.value) > 4)


def _write_ifd(entries: dict[int, Entry], start: int, order: str) -> bytes:
    """One IFD at offset ``start`` (even) with its long values after it, word-aligned; no next IFD."""
    table = [struct.pack(order + "H", len(entries))]
    data = bytearray()
    data_at = start + 6 + 12 * len(entries)
    for tag in sorted(entries):
        entry = entries[tag]
        if len(entry.value) <= 4:
            field = entry.value.ljust(4, b"\x00")
        else:
            field = struct.pack(order + "L", data_at + len(data))
            data += entry.value + b"\x00" * (len(entry.value) % 2)
        table.append(struct.pack(order + "HHL", tag, entry.kind, entry.count) + field)
    table.append(b"\x00\x00\x00\x00")
    return b"".join(table) + bytes(data)


def _pointer(tag: int, offset: int, order: str) -> Entry:
    return Entry(tag, 4, 1, struct.pack(order + "L", offset))


def allowlisted_tiff(tiff: bytes | None, orientation: int | None = None, byte_order: bytes = b"MM") -> bytes:
    """A new TIFF structure holding only the allowlisted tags of ``tiff`` (see the module docstring).

    ``orientation`` (from XMP) is added when ``tiff`` has none of its own; ``tiff=None`` builds a
    block from it alone in ``byte_order``.  The result always has an IFD0 (it may be empty: see
    :func:`is_empty`).  Raises :class:`NotATiff` when ``tiff`` has no TIFF header.
    """
    head = (tiff or byte_order)[:2]
    if head not in (b"II", b"MM"):
        raise NotATiff("no TIFF byte-order mark")
    order = "<" if head == b"II" else ">"
    ifd0: dict[int, Entry] = {}
    exif: dict[int, Entry] = {}
    interop: dict[int, Entry] = {}
    if tiff is not None:
        if len(tiff) < 8 or struct.unpack(order + "H", tiff[2:4])[0] != 42:
            raise NotATiff("no TIFF header")
        (first,) = struct.unpack(order + "L", tiff[4:8])
        raw0 = _read_ifd(tiff, first, order)
        raw_exif = _sub_ifd(tiff, raw0, EXIF_IFD, order)
        ifd0 = _keep(raw0, IFD0_TAGS)
        exif = _keep(raw_exif, EXIF_TAGS)
        moved = _keep({tag: raw0[tag] for tag in _FROM_IFD0 & (raw0.keys() - raw_exif.keys())}, EXIF_TAGS)
        exif.update(moved)
        interop = _keep(_sub_ifd(tiff, raw_exif, INTEROP_IFD, order), INTEROP_TAGS)
    if orientation is not None and ORIENTATION not in ifd0:
        ifd0[ORIENTATION] = Entry(ORIENTATION, 3, 1, struct.pack(order + "H", orientation))
    if interop:
        exif[INTEROP_IFD] = _pointer(INTEROP_IFD, 0, order)  # placeholders: sizes do not depend on them
    if exif:
        ifd0[EXIF_IFD] = _pointer(EXIF_IFD, 0, order)
    exif_at = 8 + _ifd_size(ifd0)
    interop_at = exif_at + _ifd_size(exif)
    if exif:
        ifd0[EXIF_IFD] = _pointer(EXIF_IFD, exif_at, order)
    if interop:
        exif[INTEROP_IFD] = _pointer(INTEROP_IFD, interop_at, order)
    out = [head + struct.pack(order + "HL", 42, 8), _write_ifd(ifd0, 8, order)]
    if exif:
        out.append(_write_ifd(exif, exif_at, order))
    if interop:
        out.append(_write_ifd(interop, interop_at, order))
    return b"".join(out)


def is_empty(tiff: bytes) -> bool:
    """Whether a block written by :func:`allowlisted_tiff` holds no tag at all."""
    return len(tiff) == 8 + 6
