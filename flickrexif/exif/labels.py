"""Class labels for one photo's Exif: canonical make, model, device kind and binned camera settings.

Every function is pure: raw Exif values in, a class name or the reason it is missing out.  The facts
(make aliases, device patterns, 1/3-stop series) live in ``flickrexif/data/*.json`` and are read
through :func:`flickrexif.exif.tables.load_table`, so fixing a label means editing a table, not code.

Decisions worth knowing:

* Makes are looked up ignoring case, punctuation, spacing and a trailing legal form (``Co.,Ltd``,
  ``Corp.``, ``AG``); trailing descriptors (``Imaging``, ``Electronics``) are dropped only where that
  reaches a known make, so distinct makers (Sony, Sony Ericsson) never merge by rule (``makes.json``).
* Models are kept as the camera writes them (only NULs and padding removed): the paper's classes are
  ``Canon EOS 40D``, ``NIKON D70``, ``ILCE-7M3``, ``iPhone 11``, so a make prefix is never added, and
  cut only where a table says so: ``SAMSUNG-SM-N900A`` (US carrier units) is ``SM-N900A``.
* Settings go to the nearest *marked* 1/3-stop value in log space (f/1.89 → f/1.8 because 1.89 lies
  below √(1.8·2.0) ≈ 1.897); an exact midpoint goes to the smaller mark.  f/2.4, common on phones, is
  not a 1/3-stop mark and becomes f/2.5.
* Exposures longer than the 30 s mark form the class ``">30"`` (bulb), shorter than 1/32000 s
  ``"<1/32000"``; ISO above 409600 is ``">409600"`` (see ``stops.json``).
* A device is a smartphone, scanner or "other" (games, software) when a table says so, else a camera:
  the paper counted everything that is not a phone as "not a smartphone".  iPads, Samsung tablets
  and Samsung's camera watches count as phones; the Gear 360 cameras do not (``devices.json``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from functools import cache, lru_cache
from typing import SupportsFloat

from flickrexif.exif.record import ExifRecord
from flickrexif.exif.tables import load_table

#: The paper's configuration names → :class:`Labels` fields.
ATTRIBUTES: dict[str, str] = {
    "Make": "make",
    "Model": "model",
    "Smartphone Model": "smartphone_model",
    "Is Smartphone": "is_smartphone",
    "Exposure": "exposure",
    "Aperture": "aperture",
    "ISO Speed": "iso",
    "Focal Length": "focal_length",
    "Flash": "flash",
    "Year": "year",
}

FIRST_YEAR = 1990  # the first consumer digital cameras (Dycam Model 1); earlier dates are unset clocks
MIN_FOCAL_LENGTH_MM = 0.5  # below any camera lens (phone ultra-wides are ~1.5 mm); would round to "0 mm"
MAX_FOCAL_LENGTH_MM = 5000.0  # beyond any photographic lens; larger values are corrupt rationals
ANY_MAKE = "*"  # devices.json group that applies to every make


@dataclass(frozen=True)
class Label:
    """One binned attribute: a class name, or the reason it is missing (exactly one is set).

    Keeping the reason lets the dataset builder report *why* photos drop out of a configuration.
    """

    value: str | None
    reason: str | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.reason is None):
            raise ValueError(f"a Label has a value or a reason, not both or neither: {self!r}")


def _label(value: str | None, reason: str) -> Label:
    """``Label(value)`` when there is one, else missing with ``reason``."""
    return Label(value) if value is not None else Label(None, reason)


@dataclass(frozen=True)
class Labels:
    """All labels of one photo; ``device_kind`` is kept for filtering (scanners, games)."""

    make: Label
    model: Label
    is_smartphone: Label
    smartphone_model: Label
    exposure: Label
    aperture: Label
    iso: Label
    focal_length: Label
    flash: Label
    year: Label
    device_kind: str | None = None

    def values(self) -> dict[str, str | None]:
        """Attribute name → class name (``None`` when missing)."""
        return {name: getattr(self, name).value for name in ATTRIBUTES.values()}

    def reasons(self) -> dict[str, str]:
        """Attribute name → why it is missing, for the missing attributes only."""
        labels = {name: getattr(self, name) for name in ATTRIBUTES.values()}
        return {name: label.reason for name, label in labels.items() if label.reason is not None}


# --- make and model -------------------------------------------------------------------------------


def _clean(raw: str | None) -> str | None:
    """An Exif ASCII value up to its first NUL, whitespace collapsed; ``None`` when nothing is left.

    Cameras pad with NULs and spaces (``"SONY\\0"``, ``"PENTAX K10D        "``) and some leave junk
    after the terminating NUL (``"ION230\\0F"``), which is not part of the value.
    """
    if raw is None:
        return None
    return " ".join(raw.split("\0", 1)[0].split()) or None


_WORD = re.compile(r"[^\W_]+")  # letters and digits; punctuation, "_" and spaces separate words


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


@lru_cache(maxsize=1)
def _make_words() -> tuple[frozenset[str], frozenset[str]]:
    """``makes.json``'s legal forms (cut from every make) and descriptors (cut only to reach a known make)."""
    table = load_table("makes")
    legal_forms, descriptors = ({word.casefold() for word in table[name]} for name in ("legal_forms", "descriptors"))
    return frozenset(legal_forms), frozenset(descriptors)


def _without_legal_forms(words: list[str]) -> list[str]:
    """``words`` less the legal forms at their end (``co ltd``, ``corp``, ``ag``); the first word stays."""
    legal_forms = _make_words()[0]
    end = len(words)
    while end > 1 and words[end - 1] in legal_forms:
        end -= 1
    return words[:end]


def _make_key(text: str) -> str:
    """A make's lookup key: ``"SANYO Electric Co.,Ltd."`` → ``"sanyoelectric"`` (see ``makes.json``)."""
    return "".join(_without_legal_forms(_words(text)))


@lru_cache(maxsize=1)
def _make_lookup() -> dict[str, str]:
    """Key → canonical make for each alias and canonical name of ``makes.json``; two makes on one key raise."""
    lookup: dict[str, str] = {}
    for canonical, aliases in load_table("makes")["canonical"].items():
        for alias in (canonical, *aliases):
            key = _make_key(alias)
            if lookup.setdefault(key, canonical) != canonical:
                raise ValueError(f"makes.json: {alias!r} is listed for {lookup[key]!r} and {canonical!r}")
    return lookup


def _known_make(words: list[str]) -> str | None:
    """The canonical make of a make's words: by key, then without descriptors (``Olympus Imaging``)."""
    descriptors = _make_words()[1]
    words = _without_legal_forms(words)
    while words:
        found = _make_lookup().get("".join(words))
        if found is not None or len(words) == 1 or words[-1] not in descriptors:
            return found
        words = _without_legal_forms(words[:-1])
    return None


def canonical_make(raw: str | None) -> str | None:
    """``"NIKON CORPORATION"`` → ``"Nikon"``; unknown makes come back cleaned, case kept, legal form cut.

    Makers wrote their name many ways over the years; one class per company keeps the Make labels
    about the company rather than about its legal name at the time.  The lookup ignores case,
    punctuation and spaces (``SonyEricsson`` = ``Sony Ericsson``, ``Co.,Ltd`` = ``Co., Ltd.``) and
    legal forms at the end (``Co``, ``Ltd``, ``Corp``, ``Inc``, ``AG``: see ``makes.json``); then
    descriptor words at the end (``Imaging``, ``Optical``, ``Electric``, ``Electronics``, ``Mobile``)
    are dropped one at a time, but only a known make is accepted that way, so ``Sony Ericsson Mobile``
    stops at Sony Ericsson and never reaches Sony.  An unknown make keeps its case and words, less a
    trailing legal form: ``"Foo Co.,Ltd"`` and ``"Foo Co., Ltd."`` are both ``"Foo"``.
    """
    text = _clean(raw)
    if text is None:
        return None
    words = _words(text)
    known = _known_make(words)
    if known is not None:
        return known
    kept = len(_without_legal_forms(words))
    if kept in (0, len(words)):
        return text
    spans = list(_WORD.finditer(text))  # cut after the last kept word: its case and inner punctuation stay
    return text[: spans[kept - 1].end()] if len(spans) == len(words) else text


@lru_cache(maxsize=1)
def _model_prefixes() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(canonical make, pattern) pairs from ``makes.json``: a make's name written before its model codes."""
    return tuple(
        (make, re.compile(pattern, re.IGNORECASE)) for make, pattern in load_table("makes")["model_prefixes"].items()
    )


def _make_and_model(make_raw: str | None, model_raw: str | None) -> tuple[str | None, str | None]:
    """The canonical make and the model, with a maker's prefix cut from the model (``SAMSUNG-SM-N900A``).

    A prefix is cut when the make is that maker's or missing; a missing make is then that maker's.
    """
    make, model = canonical_make(make_raw), _clean(model_raw)
    if model is None:
        return make, None
    for maker, prefix in _model_prefixes():
        if make is None or make == maker:
            cut = prefix.sub("", model, count=1)
            if cut and cut != model:
                return maker, cut
    return make, model


def clean_model(make_raw: str | None, model_raw: str | None) -> str | None:
    """The model as the camera wrote it, without NUL padding or extra spaces.

    No make prefix is added, and only one is removed: US carrier Samsung phones write
    ``SAMSUNG-SM-N900A`` for the ``SM-N900A`` (Galaxy Note 3) that other units write, so a
    ``SAMSUNG-`` before a Samsung phone code goes (``model_prefixes`` in ``makes.json``).  Otherwise
    the paper's classes (``Canon EOS 40D``, ``NIKON D70``, ``ILCE-7M3``) are the written strings.
    """
    return _make_and_model(make_raw, model_raw)[1]


@dataclass(frozen=True)
class _KindRule:
    """One device kind from ``devices.json``: makers wholly of that kind, model patterns per make."""

    kind: str
    makers: frozenset[str]  # casefolded canonical makes
    patterns: dict[str, tuple[re.Pattern[str], ...]]  # casefolded canonical make or ANY_MAKE → patterns

    def matches(self, make_key: str | None, model: str | None) -> bool:
        if make_key in self.makers:
            return True
        groups = (self.patterns.get(ANY_MAKE, ()), self.patterns.get(make_key or "", ()))
        return model is not None and any(p.search(model) for group in groups for p in group)


@lru_cache(maxsize=1)
def _kind_rules() -> tuple[tuple[_KindRule, ...], str]:
    """The device kinds in the order they are tried, and the fallback kind."""
    table = load_table("devices")
    rules = tuple(
        _KindRule(
            kind=kind,
            makers=frozenset(maker.casefold() for maker in spec["makers"]),
            patterns={
                make.casefold(): tuple(re.compile(p, re.IGNORECASE) for p in patterns)
                for make, patterns in spec["models"].items()
            },
        )
        for kind, spec in table["kinds"].items()
    )
    return rules, table["fallback"]


def device_kind(make_raw: str | None, model_raw: str | None) -> str | None:
    """``"smartphone"``, ``"camera"``, ``"scanner"`` or ``"other"``; ``None`` when make and model are missing.

    Scanned film and rendered game images carry Exif too, and must not be counted as camera photos.
    Anything with a make or model that no table claims is a camera.
    """
    make, model = _make_and_model(make_raw, model_raw)
    if make is None and model is None:
        return None
    rules, fallback = _kind_rules()
    make_key = make.casefold() if make is not None else None
    return next((rule.kind for rule in rules if rule.matches(make_key, model)), fallback)


def is_smartphone(make_raw: str | None, model_raw: str | None) -> bool | None:
    """Whether a phone (or tablet) took the photo; ``None`` when make and model are both missing."""
    kind = device_kind(make_raw, model_raw)
    return None if kind is None else kind == "smartphone"


# --- camera settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    """A 1/3-stop series from ``stops.json``, ready for nearest-mark lookups."""

    quantity: str  # "exposure", used in reasons
    exif_tag: str
    unit: str
    labels: tuple[str, ...]
    midpoints: tuple[float, ...]  # geometric mean of each pair of neighbouring marks
    low_edge: float  # half a step below the first mark
    high_edge: float  # half a step above the last mark
    plausible: tuple[float, float]
    below: str | None
    above: str | None

    def describe(self, number: float) -> str:
        return f"{self.quantity} {number:g}{self.unit}"


@cache
def _series(name: str) -> _Series:
    spec = load_table("stops")[name]
    marks = [float(Fraction(mark)) for mark in spec["marks"]]
    low, high = spec["plausible"]
    return _Series(
        quantity=spec["quantity"],
        exif_tag=spec["exif_tag"],
        unit=spec["unit"],
        labels=tuple(spec["label_prefix"] + mark for mark in spec["marks"]),
        midpoints=tuple(math.sqrt(a * b) for a, b in zip(marks, marks[1:])),
        low_edge=marks[0] * math.sqrt(marks[0] / marks[1]),
        high_edge=marks[-1] * math.sqrt(marks[-1] / marks[-2]),
        plausible=(float(low), float(high)),
        below=spec["below"],
        above=spec["above"],
    )


def _positive(value: SupportsFloat | None, quantity: str, exif_tag: str, unit: str) -> float | Label:
    """``value`` as a finite positive float, or the missing Label explaining why it is not one."""
    if value is None:
        return Label(None, f"no {exif_tag}")
    number = float(value)
    if not math.isfinite(number):
        return Label(None, f"{quantity} {number}{unit} is not finite")
    if number <= 0:
        return Label(None, f"{quantity} {number:g}{unit} is not positive")
    return number


def _bin(name: str, value: SupportsFloat | None) -> Label:
    """The nearest mark of series ``name`` for ``value``, an overflow class, or missing with a reason."""
    series = _series(name)
    number = _positive(value, series.quantity, series.exif_tag, series.unit)
    if isinstance(number, Label):
        return number
    low, high = series.plausible
    if not low <= number <= high:
        return Label(None, f"implausible {series.describe(number)}")
    outside = f"{series.describe(number)} is outside the 1/3-stop series"
    if number < series.low_edge:
        return _label(series.below, outside)
    if number > series.high_edge:
        return _label(series.above, outside)
    return Label(series.labels[bisect_left(series.midpoints, number)])


def bin_exposure(seconds: SupportsFloat | None) -> Label:
    """Exposure time in seconds → shutter-speed mark: ``1/120`` → ``"1/125"``, ``0.3`` → ``"0.3"``."""
    return _bin("exposure", seconds)


def bin_aperture(f_number: SupportsFloat | None) -> Label:
    """F-number → 1/3-stop mark: ``5.6`` → ``"f/5.6"``, ``2`` → ``"f/2.0"``, ``11`` → ``"f/11"``."""
    return _bin("aperture", f_number)


def bin_iso(iso: SupportsFloat | None) -> Label:
    """ISO speed → 1/3-stop mark: ``103`` → ``"100"``."""
    return _bin("iso", iso)


def bin_focal_length(mm: SupportsFloat | None) -> Label:
    """Focal length → ``"50 mm"``, ``"4.2 mm"``: one decimal, a trailing ``.0`` dropped.

    Not binned into stops: a fixed focal length identifies a lens or phone module.  Rounding is half
    to even on the decimal value as written (4.25 → 4.2, 4.35 → 4.4), not on its binary float.
    """
    number = _positive(mm, "focal length", "FocalLength", " mm")
    if isinstance(number, Label):
        return number
    if not MIN_FOCAL_LENGTH_MM <= number <= MAX_FOCAL_LENGTH_MM:
        return Label(None, f"implausible focal length {number:g} mm")
    rounded = Decimal(repr(number)).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)
    return Label(f"{rounded.normalize():f} mm")


_FLASH = {True: "with flash", False: "without flash"}


def bin_flash(fired: bool | None) -> Label:
    """Whether the flash fired, in the paper's class names ``"with flash"`` / ``"without flash"``."""
    return _label(_FLASH.get(fired), "no Flash")


_YEAR = re.compile(r"\s*(\d{4})[-:]")


def bin_year(datetime_original: str | None, *, max_year: int | None = None) -> Label:
    """``"2008-05-01T12:00:00"`` → ``"2008"``; years before 1990 or after ``max_year`` are unset clocks.

    ``max_year`` defaults to next year (time zones and wrong clocks put a few photos a day ahead).
    """
    if datetime_original is None:
        return Label(None, "no DateTimeOriginal")
    match = _YEAR.match(datetime_original)
    if match is None:
        return Label(None, f"unreadable DateTimeOriginal {datetime_original!r}")
    year = int(match[1])
    latest = max_year if max_year is not None else date.today().year + 1
    if not FIRST_YEAR <= year <= latest:
        return Label(None, f"implausible year {year}")
    return Label(str(year))


# --- one record -----------------------------------------------------------------------------------


def label_record(record: ExifRecord) -> Labels:
    """Every label of one photo, each with a reason when it is missing."""
    kind = device_kind(record.make, record.model)
    model = _label(clean_model(record.make, record.model), "no Model")
    if kind is None:
        phone = smartphone_model = Label(None, "no Make or Model")
    else:
        phone = Label(str(kind == "smartphone"))
        smartphone_model = model if kind == "smartphone" else Label(None, "not a smartphone")
    return Labels(
        make=_label(canonical_make(record.make), "no Make"),
        model=model,
        is_smartphone=phone,
        smartphone_model=smartphone_model,
        exposure=bin_exposure(record.exposure_time),
        aperture=bin_aperture(record.f_number),
        iso=bin_iso(record.iso),
        focal_length=bin_focal_length(record.focal_length_mm),
        flash=bin_flash(record.flash_fired),
        year=bin_year(record.datetime_original),
        device_kind=kind,
    )
