"""Labels: make aliases, device kinds, 1/3-stop bins and whole records, driven by tables of cases."""

from __future__ import annotations

import json
import math
import re
from dataclasses import fields
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest

from flickrexif.exif.labels import (
    ATTRIBUTES,
    Label,
    Labels,
    bin_aperture,
    bin_exposure,
    bin_flash,
    bin_focal_length,
    bin_iso,
    bin_year,
    canonical_make,
    clean_model,
    device_kind,
    is_smartphone,
    label_record,
)
from flickrexif.exif.record import ExifRecord
from flickrexif.exif.tables import load_table

MAKES = load_table("makes")["canonical"]
DEVICES = load_table("devices")
STOPS = load_table("stops")
BINNERS = {"exposure": bin_exposure, "aperture": bin_aperture, "iso": bin_iso}


# --- tables ---------------------------------------------------------------------------------------


def test_load_table_is_cached_and_rejects_unknown_names() -> None:
    assert load_table("makes") is load_table("makes")
    with pytest.raises(ValueError, match="no package data table"):
        load_table("no_such_table")
    with pytest.raises(ValueError, match="plain identifiers"):
        load_table("../record")


def test_no_alias_is_listed_twice() -> None:
    names = [a for canonical, aliases in MAKES.items() for a in (canonical, *aliases)]
    keys = [" ".join(a.split()).casefold() for a in names]
    assert len(keys) == len(set(keys))


def test_device_table_names_only_canonical_makes() -> None:
    for kind in DEVICES["kinds"].values():
        named = set(kind["makers"]) | (set(kind["models"]) - {"*"})
        assert named <= set(MAKES), named - set(MAKES)


# --- makes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alias, canonical", [(a, c) for c, aliases in MAKES.items() for a in (c, *aliases, c.upper(), c.lower())]
)
def test_every_table_alias_maps_to_its_canonical(alias: str, canonical: str) -> None:
    assert canonical_make(alias) == canonical
    assert canonical_make(f"  {alias}\0\0 ") == canonical


REAL_MAKES = [
    # raw strings from the real sample files
    ("Canon", "Canon"),
    ("FUJIFILM", "Fujifilm"),
    ("EASTMAN KODAK COMPANY", "Kodak"),
    ("Eastman Kodak Company", "Kodak"),
    ("KONICA MINOLTA ", "Konica Minolta"),
    ("NIKON", "Nikon"),
    ("NIKON CORPORATION", "Nikon"),
    ("OLYMPUS CORPORATION", "Olympus"),
    ("OLYMPUS OPTICAL CO.,LTD", "Olympus"),
    ("OLYMPUS IMAGING CORP.  ", "Olympus"),
    ("Panasonic", "Panasonic"),
    ("PENTAX Corporation ", "Pentax"),
    ("Samsung Techwin", "Samsung"),
    ("samsung", "Samsung"),
    ("SONY", "Sony"),
    ("SONY\x00", "Sony"),
    ("CASIO COMPUTER CO.,LTD ", "Casio"),
    ("CASIO COMPUTER CO.,LTD.", "Casio"),
    ("SANYO Electric Co.,Ltd.", "Sanyo"),
    ("RICOH      ", "Ricoh"),
    ("Caplio ", "Ricoh"),
    ("Apple", "Apple"),
    ("HMD Global", "HMD Global"),
    ("Jolla", "Jolla"),
    ("WWL     ", "WWL"),
    ("Polyphony Digital Inc.", "Polyphony Digital"),
    # other real spellings
    ("Nikon", "Nikon"),
    ("Kodak", "Kodak"),
    ("KODAK", "Kodak"),
    ("OM Digital Solutions", "Olympus"),
    ("OM System", "Olympus"),
    ("FUJI PHOTO FILM CO., LTD.", "Fujifilm"),
    ("Fujifilm", "Fujifilm"),
    ("SAMSUNG", "Samsung"),
    ("SAMSUNG TECHWIN", "Samsung"),
    ("Sony", "Sony"),
    ("PENTAX", "Pentax"),
    ("ASAHI OPTICAL CO.,LTD", "Pentax"),
    ("RICOH IMAGING COMPANY, LTD.", "Pentax"),
    ("Minolta Co., Ltd.", "Konica Minolta"),
    ("MINOLTA CO.,LTD", "Konica Minolta"),
    ("KONICA MINOLTA CAMERA, INC.", "Konica Minolta"),
    ("CASIO", "Casio"),
    ("CANON", "Canon"),
    ("Matsushita", "Panasonic"),
    ("LEICA CAMERA AG", "Leica"),
    ("Leica Camera AG", "Leica"),
    ("LEICA", "Leica"),
    ("Google", "Google"),
    ("HUAWEI", "Huawei"),
    ("Xiaomi", "Xiaomi"),
    ("OnePlus", "OnePlus"),
    ("OPPO", "Oppo"),
    ("motorola", "Motorola"),
    ("Motorola", "Motorola"),
    ("LGE", "LG"),
    ("LG Electronics", "LG"),
    ("HTC", "HTC"),
    ("BlackBerry", "BlackBerry"),
    ("RIM", "BlackBerry"),
    ("Nokia", "Nokia"),
    ("Hasselblad", "Hasselblad"),
    ("SIGMA", "Sigma"),
    ("DJI", "DJI"),
    ("GoPro", "GoPro"),
    ("Polaroid", "Polaroid"),
    ("vivo", "Vivo"),
    ("realme", "Realme"),
    ("Sony Ericsson", "Sony Ericsson"),
]


@pytest.mark.parametrize("raw, canonical", REAL_MAKES)
def test_real_make_strings(raw: str, canonical: str) -> None:
    assert canonical_make(raw) == canonical


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("WWL     ", "WWL"),
        ("Some   Brand\tLtd ", "Some Brand"),  # a legal form at the end is cut, case kept
        ("Some Brand Co.,Ltd.", "Some Brand"),
        ("Foo-Bar K.K. Works", "Foo-Bar K.K. Works"),  # nothing to cut: written as it is
        ("Odd\0junk after NUL", "Odd"),
        ("lowercase brand", "lowercase brand"),
        (None, None),
        ("", None),
        ("   ", None),
        ("\0\0\0", None),
    ],
)
def test_unknown_makes_pass_through_cleaned(raw: str | None, expected: str | None) -> None:
    assert canonical_make(raw) == expected


# --- models ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, model, expected",
    [
        ("SONY", "CYBERSHOT\0\0\0\0", "CYBERSHOT"),
        ("FUJIFILM", "FinePix E500   ", "FinePix E500"),
        ("WWL", "ION230\0F", "ION230"),
        ("PENTAX Corporation ", "PENTAX K10D        ", "PENTAX K10D"),
        ("Canon", "Canon DIGITAL IXUS\0", "Canon DIGITAL IXUS"),
        ("Canon", "Canon EOS 40D", "Canon EOS 40D"),  # make prefix kept, as in the paper's classes
        ("NIKON CORPORATION", "NIKON D70", "NIKON D70"),
        ("OLYMPUS IMAGING CORP.", "E-M1MarkII", "E-M1MarkII"),
        ("Apple", "iPhone  11", "iPhone 11"),
        (None, "ILCE-7M3", "ILCE-7M3"),
        ("SONY", None, None),
        ("SONY", " \0", None),
    ],
)
def test_clean_model(make: str | None, model: str | None, expected: str | None) -> None:
    assert clean_model(make, model) == expected


# --- device kinds ---------------------------------------------------------------------------------

# Model strings alone (no make): every '*' pattern must recognise one of them by itself.
MODEL_ONLY_PHONES = [
    "iPhone 6",
    "iPhone 11 Pro Max",
    "iPad Air 2",
    "iPod touch",
    "Galaxy S5",
    "Xperia Z3",
    "Pixel 4a",
    "Nexus 5X",
    "Lumia 920",
    "RM-1104",
    "ONEPLUS A6003",
    "IN2023",
    "KB2003",
    "LE2123",
    "GM1913",
    "CPH2173",
    "RMX2202",
    "vivo 1906",
    "Redmi Note 8 Pro",
    "POCO F1",
    "Mi 9T",
    "MI 8",
    "MIX 2S",
    "M2007J3SG",
    "M2102J20SG",
    "2201116SG",
    "22081212UG",
    "HUAWEI P30 Pro",
    "HONOR 70",
    "HTC One",
    "moto g(7) power",
    "Moto G (5) Plus",
    "motorola edge 20",
    "XT1562",
    "Nokia 8.3 5G",
    "TA-1004",
    "LG-H850",
    "LM-G710",
    "BlackBerry Passport",
    "ASUS_Z01QD",
    "ZenFone 5",
    "Lenovo K6",
    "ZTE A2017G",
    "FP3",
    "SM-G960F",
    "SAMSUNG-SM-N900A",
    "SCH-I545",
    "SAMSUNG-SGH-I337",
    "GT-I9300",
    "SO-01K",
    "SH-01K",
]

# (make, model) of phones from makers that also build cameras: found by their make's model codes.
BRAND_PHONES = [
    ("samsung", "SM-G930F"),
    ("SAMSUNG", "GT-I9300"),
    ("Samsung", "SCH-I535"),
    ("Samsung", "SGH-I337"),
    ("SAMSUNG", "SHV-E300S"),
    ("Samsung", "SPH-L710"),
    ("samsung", "SC-02H"),
    ("samsung", "SCV33"),
    ("samsung", "SAMSUNG-SM-N900A"),  # US carrier units write the make before the code
    ("samsung", "SM-T510"),  # tablets count as phones
    ("SAMSUNG", "SM-R380"),  # the Gear 2 watch: a phone camera module, like tablets
    ("Sony", "C6903"),
    ("Sony", "D6603"),
    ("Sony", "E6653"),
    ("Sony", "F5121"),
    ("Sony", "G8341"),
    ("Sony", "H8324"),
    ("Sony", "J9110"),
    ("Sony", "SO-01K"),
    ("Sony", "XQ-AT51"),
    ("Sony", "SOV36"),
    ("Sony", "SOG01"),
    ("Sony", "LT18i"),
    ("Sony", "SGP312"),
    ("Panasonic", "DMC-CM1"),
    ("LEICA", "LEITZ PHONE 1"),
    ("Microsoft", "Lumia 950"),
    ("Apple", "iPad Pro"),
]

# (make, model) of phone-only makers, with codes that only their make identifies.
MAKER_PHONES = [
    ("asus", "Z00AD"),
    ("BlackBerry", "BBB100-1"),
    ("RIM", "9900"),
    ("Essential Products", "PH-1"),
    ("Fairphone", "Fairphone 2"),
    ("Google", "G020I"),
    ("HMD Global", "Nokia 8.3 5G"),
    ("HONOR", "ANY-NX1"),
    ("HTC", "Desire 820"),
    ("HUAWEI", "ELE-L29"),
    ("HUAWEI", "VOG-L29"),
    ("Huawei", "P30 Pro"),
    ("Jolla", "Jolla"),
    ("LENOVO", "K33a42"),
    ("LGE", "Nexus 5"),
    ("LG Electronics", "VS995"),
    ("Meizu", "MX4"),
    ("motorola", "MB860"),
    ("Nokia", "N95"),
    ("Nokia", "Lumia 1020"),
    ("Nothing", "A063"),
    ("OnePlus", "ONEPLUS A6003"),
    ("OPPO", "A5 2020"),
    ("realme", "RMX3371"),
    ("SHARP", "SH-M05"),
    ("Sony Ericsson", "K800i"),
    ("vivo", "V2027"),
    ("Xiaomi", "Mi A2"),
    ("ZTE", "Blade V8"),
]

CAMERAS = [
    ("Samsung Techwin", "<Digimax i50 MP3, Samsung #1 MP3>"),
    ("SAMSUNG", "Digimax i50"),
    ("SAMSUNG", "NX300"),
    ("SAMSUNG", "WB2000"),
    ("Samsung", "ES55"),
    ("Samsung", "PL120"),
    ("Samsung", "ST1000"),
    ("SAMSUNG", "GX-10"),
    ("SAMSUNG", "WB150F"),
    ("SAMSUNG", "EX2F"),
    ("SAMSUNG", "ST76"),
    ("SAMSUNG", "EK-GC100"),  # Galaxy Camera
    ("SAMSUNG", "SM-C200"),  # Gear 360 (2016): a 360-degree camera, not a phone
    ("samsung", "SM-R210"),  # Gear 360 (2017)
    (None, "SM-C200"),
    ("Canon", "SAMSUNG-SM-N900A"),  # the prefix means Samsung only when the make agrees
    ("SONY", "DSC-RX100"),
    ("SONY", "ILCE-7M3"),
    ("SONY", "HDR-HC3"),
    ("SONY", "CYBERSHOT\0\0\0\0"),
    ("SONY", "NEX-5"),
    ("SONY", "SLT-A77V"),
    ("SONY", "DSLR-A100"),
    ("SONY", "ZV-1"),
    ("SONY\0", "DSC-D700\0"),
    ("NIKON", "COOLPIX P1"),
    ("NIKON", "E5700"),
    (None, "E5700"),
    ("NIKON CORPORATION", "NIKON D70"),
    ("Canon", "Canon PowerShot S40"),
    ("Canon", "Canon EOS 40D"),
    ("EASTMAN KODAK COMPANY", "KODAK CX7530 ZOOM DIGITAL CAMERA"),
    ("OLYMPUS IMAGING CORP.", "E-M1MarkII"),
    ("Panasonic", "DMC-FZ30"),
    ("LEICA", "M10"),
    ("FUJIFILM", "X-T3"),
    ("SIGMA", "fp"),
    ("EPSON", "R-D1"),
    ("Hewlett-Packard", "HP PhotoSmart R707"),
    ("Caplio", "RR330"),
    ("WWL     ", "ION230\0F"),
    ("Unknown Brand", None),
    (None, "Mystery 1"),
    ("Apple", "QuickTake 200"),
]

SCANNERS = [
    ("Eastman Kodak Company", "Kodak CLAS Digital Film Scanner / HR200"),
    ("Nikon", "Nikon SUPER COOLSCAN 5000 ED"),
    ("NIKON", "LS-5000"),
    ("Canon", "CanoScan 9000F Mark II"),
    ("EPSON", "Perfection V600"),
    ("SEIKO EPSON CORP.", "Expression 10000XL"),
    ("EPSON", "GT-X980"),
    ("FUJI PHOTO FILM CO., LTD.", "SP-3000"),
    ("FUJIFILM", "FUJI FRONTIER"),
    ("NORITSU KOKI", "QSS-32_33"),
    ("Plustek", "OpticFilm 8200i"),
    ("Pakon", "F335"),
    (None, "Pakon F135"),
    (None, "OpticFilm 7600i"),
    ("Hewlett-Packard", "HP Scanjet G4050"),
    ("Hewlett-Packard", "scanner"),
    ("Reflecta", "ProScan 10T"),
    ("Imacon", "Flextight 848"),
    (None, "Flextight X5"),
]

OTHERS = [("Polyphony Digital Inc.", "Gran Turismo 5"), (None, "Gran Turismo Sport")]

EXAMPLES = {
    "smartphone": [(None, m) for m in MODEL_ONLY_PHONES] + BRAND_PHONES + MAKER_PHONES,
    "camera": CAMERAS,
    "scanner": SCANNERS,
    "other": OTHERS,
}


@pytest.mark.parametrize("kind, make, model", [(k, *case) for k, cases in EXAMPLES.items() for case in cases])
def test_device_kind(kind: str, make: str | None, model: str | None) -> None:
    assert device_kind(make, model) == kind
    assert is_smartphone(make, model) is (kind == "smartphone")


def _maker_claims(kind: str, make: str | None) -> bool:
    makers = {m.casefold() for m in DEVICES["kinds"][kind]["makers"]}
    return (canonical_make(make) or "").casefold() in makers


@pytest.mark.parametrize(
    "kind, group, pattern",
    [
        (kind, group, pattern)
        for kind, spec in DEVICES["kinds"].items()
        for group, patterns in spec["models"].items()
        for pattern in patterns
    ],
)
def test_every_device_pattern_recognises_an_example_by_itself(kind: str, group: str, pattern: str) -> None:
    """Each pattern matches some example of its kind that its make's maker rule would not catch."""
    hits = [
        (make, model)
        for make, model in EXAMPLES[kind]
        if (group == "*" or (canonical_make(make) or "").casefold() == group.casefold())
        and not _maker_claims(kind, make)
        and re.search(pattern, clean_model(make, model) or "", re.IGNORECASE)
    ]
    assert hits, f"no {kind} example for {group} pattern {pattern!r}"


@pytest.mark.parametrize(
    "kind, maker", [(kind, maker) for kind, spec in DEVICES["kinds"].items() for maker in spec["makers"]]
)
def test_every_device_maker_has_an_example(kind: str, maker: str) -> None:
    assert any(canonical_make(make) == maker for make, _ in EXAMPLES[kind])


def test_no_make_and_no_model_is_unknown() -> None:
    assert device_kind(None, None) is None
    assert device_kind(" \0", "") is None
    assert is_smartphone(None, None) is None


# --- 1/3-stop series ------------------------------------------------------------------------------


def _marks(name: str) -> list[tuple[str, float]]:
    spec = STOPS[name]
    return [(spec["label_prefix"] + mark, float(Fraction(mark))) for mark in spec["marks"]]


@pytest.mark.parametrize("name", list(BINNERS))
def test_marks_increase_strictly(name: str) -> None:
    values = [value for _, value in _marks(name)]
    assert all(a < b for a, b in zip(values, values[1:]))


NEIGHBOURS = [(name, *lower, *upper) for name in BINNERS for lower, upper in zip(_marks(name), _marks(name)[1:])]


@pytest.mark.parametrize("name, low_label, low, high_label, high", NEIGHBOURS)
def test_values_either_side_of_each_geometric_midpoint(
    name: str, low_label: str, low: float, high_label: str, high: float
) -> None:
    midpoint = math.sqrt(low * high)
    assert BINNERS[name](midpoint * (1 - 1e-9)).value == low_label
    assert BINNERS[name](midpoint * (1 + 1e-9)).value == high_label
    assert BINNERS[name](midpoint).value == low_label  # a tie goes to the smaller mark


@pytest.mark.parametrize("name, label, value", [(name, *mark) for name in BINNERS for mark in _marks(name)])
def test_exact_marks_map_to_themselves(name: str, label: str, value: float) -> None:
    assert BINNERS[name](value) == Label(label)


def _edge_cases() -> list[tuple[str, float, str | None, str]]:
    """(series, value, expected class, expected reason word) just inside and outside both series ends.

    Half a step beyond an end a value gets the overflow class the table names, else it is missing;
    outside the plausible range it is missing as implausible whatever the series says.
    """
    cases = []
    for name in BINNERS:
        spec, marks = STOPS[name], _marks(name)
        low, high = spec["plausible"]
        ends = [(marks[0], marks[1], spec["below"]), (marks[-1], marks[-2], spec["above"])]
        for (end_label, end), (_, neighbour), overflow in ends:
            edge = end * math.sqrt(end / neighbour)
            inward, outward = (1 + 1e-9, 1 - 1e-9) if end < neighbour else (1 - 1e-9, 1 + 1e-9)
            for value, label in ((edge * inward, end_label), (edge * outward, overflow)):
                plausible = low <= value <= high
                reason = "implausible" if not plausible else "" if label is not None else "outside"
                cases.append((name, value, label if plausible else None, reason))
    return cases


@pytest.mark.parametrize("name, value, expected, reason_word", _edge_cases())
def test_values_at_the_series_ends(name: str, value: float, expected: str | None, reason_word: str) -> None:
    label = BINNERS[name](value)
    assert label.value == expected
    assert reason_word in (label.reason or "")


@pytest.mark.parametrize("name", list(BINNERS))
def test_plausible_bounds_are_inclusive(name: str) -> None:
    low, high = STOPS[name]["plausible"]
    for inside, outside in ((low, low * (1 - 1e-9)), (high, high * (1 + 1e-9))):
        assert "implausible" not in (BINNERS[name](inside).reason or "")
        assert "implausible" in (BINNERS[name](outside).reason or "")


@pytest.mark.parametrize(
    "seconds, expected",
    [
        (Fraction(1, 120), "1/125"),
        (0.0025575, "1/400"),  # 1/391 s
        (1 / 30.3, "1/30"),
        (Fraction(10, 1250), "1/125"),
        (Fraction(1, 4), "1/4"),
        (Fraction(1, 3), "0.3"),
        (0.5, "0.5"),
        (1, "1"),
        (Fraction(30), "30"),
        (Fraction(1, 12048), "1/13000"),
        (Fraction(1, 100000), "<1/32000"),
        (60, ">30"),
        (3600, ">30"),
    ],
)
def test_typical_exposures(seconds: object, expected: str) -> None:
    assert bin_exposure(seconds) == Label(expected)


def test_f_1_5_goes_to_the_log_nearest_mark() -> None:
    nearer = "f/1.6" if abs(math.log(1.6 / 1.5)) < abs(math.log(1.5 / 1.4)) else "f/1.4"
    assert nearer == "f/1.6"
    assert bin_aperture(1.5) == Label(nearer)


@pytest.mark.parametrize(
    "f_number, expected",
    [
        (1.89, "f/1.8"),  # below sqrt(1.8 * 2.0) = 1.897
        (2.4, "f/2.5"),  # common on phones, but not a 1/3-stop mark: above sqrt(2.2 * 2.5) = 2.345
        (1.7, "f/1.8"),
        (2.2, "f/2.2"),
        (2, "f/2.0"),
        (5.6, "f/5.6"),
        (11, "f/11"),
        (0.95, "f/1.0"),
        (0.7, "f/0.7"),
        (128, "f/128"),
    ],
)
def test_typical_apertures(f_number: float, expected: str) -> None:
    assert bin_aperture(f_number) == Label(expected)


@pytest.mark.parametrize(
    "iso, expected",
    [
        (103, "100"),
        (32, "32"),
        (100, "100"),
        (110, "100"),
        (115, "125"),
        (6400, "6400"),
        (25600, "25600"),
        (500000, ">409600"),
    ],
)
def test_typical_iso(iso: int, expected: str) -> None:
    assert bin_iso(iso) == Label(expected)


INVALID = [
    (bin_exposure, None, "no ExposureTime"),
    (bin_exposure, 0, "exposure 0 s is not positive"),
    (bin_exposure, Fraction(0), "exposure 0 s is not positive"),
    (bin_exposure, -1, "exposure -1 s is not positive"),
    (bin_exposure, math.nan, "exposure nan s is not finite"),
    (bin_exposure, math.inf, "exposure inf s is not finite"),
    (bin_exposure, 1e9, "implausible exposure 1e+09 s"),
    (bin_exposure, Fraction(4294967295), "implausible exposure 4.29497e+09 s"),
    (bin_exposure, Fraction(1, 4294967295), "implausible exposure 2.32831e-10 s"),
    (bin_aperture, None, "no FNumber"),
    (bin_aperture, 0.0, "f-number 0 is not positive"),
    (bin_aperture, -2.8, "f-number -2.8 is not positive"),
    (bin_aperture, math.nan, "f-number nan is not finite"),
    (bin_aperture, 0.5, "implausible f-number 0.5"),
    (bin_aperture, 200, "implausible f-number 200"),
    (bin_iso, None, "no ISOSpeedRatings"),
    (bin_iso, 0, "ISO 0 is not positive"),
    (bin_iso, -100, "ISO -100 is not positive"),
    (bin_iso, 3, "ISO 3 is outside the 1/3-stop series"),
    (bin_iso, 4294967295, "implausible ISO 4.29497e+09"),
    (bin_iso, math.inf, "ISO inf is not finite"),
    (bin_focal_length, None, "no FocalLength"),
    (bin_focal_length, 0, "focal length 0 mm is not positive"),
    (bin_focal_length, -5, "focal length -5 mm is not positive"),
    (bin_focal_length, math.nan, "focal length nan mm is not finite"),
    (bin_focal_length, 6000, "implausible focal length 6000 mm"),
    (bin_focal_length, 0.1, "implausible focal length 0.1 mm"),
    (bin_flash, None, "no Flash"),
]


@pytest.mark.parametrize("binner, value, reason", INVALID)
def test_invalid_values_are_missing_with_a_reason(binner, value, reason: str) -> None:
    assert binner(value) == Label(None, reason)


# --- focal length, flash, year --------------------------------------------------------------------


@pytest.mark.parametrize(
    "mm, expected",
    [
        (50.0, "50 mm"),
        (50, "50 mm"),
        (4.25, "4.2 mm"),  # half to even
        (4.35, "4.4 mm"),  # half to even on the decimal, though the float 4.35 is a hair below
        (4.15, "4.2 mm"),
        (Fraction(83, 20), "4.2 mm"),
        (4.05, "4 mm"),
        (3.99, "4 mm"),
        (5.7, "5.7 mm"),
        (200, "200 mm"),
        (0.5, "0.5 mm"),
        (5000, "5000 mm"),
    ],
)
def test_focal_length(mm: object, expected: str) -> None:
    assert bin_focal_length(mm) == Label(expected)


@pytest.mark.parametrize("fired, expected", [(True, "with flash"), (False, "without flash")])
def test_flash(fired: bool, expected: str) -> None:
    assert bin_flash(fired) == Label(expected)


NEXT_YEAR = date.today().year + 1


@pytest.mark.parametrize(
    "text, max_year, expected",
    [
        ("2008-05-01T12:00:00", None, Label("2008")),
        ("2008:05:01 12:00:00", None, Label("2008")),
        ("1990-01-01T00:00:00", None, Label("1990")),
        (f"{NEXT_YEAR}-01-01T00:00:00", None, Label(str(NEXT_YEAR))),
        (f"{NEXT_YEAR + 1}-01-01T00:00:00", None, Label(None, f"implausible year {NEXT_YEAR + 1}")),
        ("2030-01-01T00:00:00", 2030, Label("2030")),
        ("2031-01-01T00:00:00", 2030, Label(None, "implausible year 2031")),
        ("1970-01-01T00:00:00", None, Label(None, "implausible year 1970")),
        ("1989-12-31T23:59:59", None, Label(None, "implausible year 1989")),
        ("0000-00-00T00:00:00", None, Label(None, "implausible year 0")),
        ("", None, Label(None, "unreadable DateTimeOriginal ''")),
        ("yesterday", None, Label(None, "unreadable DateTimeOriginal 'yesterday'")),
        (None, None, Label(None, "no DateTimeOriginal")),
    ],
)
def test_year(text: str | None, max_year: int | None, expected: Label) -> None:
    assert bin_year(text, max_year=max_year) == expected


# --- Label, Labels and whole records --------------------------------------------------------------


@pytest.mark.parametrize("value, reason", [(None, None), ("1/125", "no ExposureTime")])
def test_label_has_a_value_or_a_reason(value: str | None, reason: str | None) -> None:
    with pytest.raises(ValueError):
        Label(value, reason)


def test_attributes_name_every_label_field() -> None:
    label_fields = {f.name for f in fields(Labels)} - {"device_kind"}
    assert set(ATTRIBUTES.values()) == label_fields


PHONE = ExifRecord(
    make="Apple",
    model="iPhone 11",
    datetime_original="2020-06-01T10:00:00",
    exposure_time=Fraction(1, 120),
    f_number=1.8,
    iso=32,
    focal_length_mm=4.25,
    flash_fired=False,
)
CAMERA = ExifRecord(
    make="NIKON CORPORATION",
    model="NIKON D70\0",
    datetime_original="2005-03-04T05:06:07",
    exposure_time=Fraction(1, 250),
    f_number=8.0,
    iso=200,
    focal_length_mm=50.0,
    flash_fired=True,
)


@pytest.mark.parametrize(
    "record, kind, values, reasons",
    [
        (
            PHONE,
            "smartphone",
            {
                "make": "Apple",
                "model": "iPhone 11",
                "smartphone_model": "iPhone 11",
                "is_smartphone": "True",
                "exposure": "1/125",
                "aperture": "f/1.8",
                "iso": "32",
                "focal_length": "4.2 mm",
                "flash": "without flash",
                "year": "2020",
            },
            {},
        ),
        (
            CAMERA,
            "camera",
            {
                "make": "Nikon",
                "model": "NIKON D70",
                "smartphone_model": None,
                "is_smartphone": "False",
                "exposure": "1/250",
                "aperture": "f/8.0",
                "iso": "200",
                "focal_length": "50 mm",
                "flash": "with flash",
                "year": "2005",
            },
            {"smartphone_model": "not a smartphone"},
        ),
        (
            ExifRecord(make="Eastman Kodak Company", model="Kodak CLAS Digital Film Scanner / HR200"),
            "scanner",
            {
                "make": "Kodak",
                "model": "Kodak CLAS Digital Film Scanner / HR200",
                "smartphone_model": None,
                "is_smartphone": "False",
                "exposure": None,
                "aperture": None,
                "iso": None,
                "focal_length": None,
                "flash": None,
                "year": None,
            },
            {
                "smartphone_model": "not a smartphone",
                "exposure": "no ExposureTime",
                "aperture": "no FNumber",
                "iso": "no ISOSpeedRatings",
                "focal_length": "no FocalLength",
                "flash": "no Flash",
                "year": "no DateTimeOriginal",
            },
        ),
        (
            ExifRecord(make="HUAWEI", exposure_time=Fraction(0), datetime_original="1970-01-01T00:00:00"),
            "smartphone",
            {
                "make": "Huawei",
                "model": None,
                "smartphone_model": None,
                "is_smartphone": "True",
                "exposure": None,
                "aperture": None,
                "iso": None,
                "focal_length": None,
                "flash": None,
                "year": None,
            },
            {
                "model": "no Model",
                "smartphone_model": "no Model",
                "exposure": "exposure 0 s is not positive",
                "aperture": "no FNumber",
                "iso": "no ISOSpeedRatings",
                "focal_length": "no FocalLength",
                "flash": "no Flash",
                "year": "implausible year 1970",
            },
        ),
        (
            ExifRecord(),
            None,
            dict.fromkeys(ATTRIBUTES.values()),
            {
                "make": "no Make",
                "model": "no Model",
                "smartphone_model": "no Make or Model",
                "is_smartphone": "no Make or Model",
                "exposure": "no ExposureTime",
                "aperture": "no FNumber",
                "iso": "no ISOSpeedRatings",
                "focal_length": "no FocalLength",
                "flash": "no Flash",
                "year": "no DateTimeOriginal",
            },
        ),
    ],
    ids=["phone", "camera", "scanner", "phone-without-model", "all-missing"],
)
def test_label_record(record: ExifRecord, kind: str | None, values: dict, reasons: dict) -> None:
    labels = label_record(record)
    assert labels.device_kind == kind
    assert labels.values() == values
    assert labels.reasons() == reasons


# --- the paper's label spaces ---------------------------------------------------------------------


def _paper_classes(paper_splits: Path, attribute: str) -> list[str]:
    path = paper_splits / f"split_data_target_attribute={attribute}.json"
    return json.loads(path.read_text())["label_encoder_classes"]


def test_paper_exposure_and_iso_classes_are_marks(paper_splits: Path) -> None:
    for exposure in _paper_classes(paper_splits, "Exposure"):
        assert bin_exposure(Fraction(exposure)) == Label(exposure)
    for iso in _paper_classes(paper_splits, "ISO Speed"):
        assert bin_iso(int(iso)) == Label(iso)


def test_paper_aperture_classes_are_marks_except_f_2_4(paper_splits: Path) -> None:
    for f_number in _paper_classes(paper_splits, "Aperture"):  # the paper writes "5.6", "10.0"
        value = float(f_number)
        expected = "f/2.5" if f_number == "2.4" else f"f/{value:.1f}" if value < 10 else f"f/{value:.0f}"
        assert bin_aperture(value) == Label(expected)


def test_paper_flash_smartphone_and_year_classes(paper_splits: Path) -> None:
    assert {bin_flash(True).value, bin_flash(False).value} == set(_paper_classes(paper_splits, "Flash"))
    assert {label_record(PHONE).is_smartphone.value, label_record(CAMERA).is_smartphone.value} == set(
        _paper_classes(paper_splits, "Is Smartphone")
    )
    for year in _paper_classes(paper_splits, "Year"):  # the paper writes "2008.0"
        assert bin_year(f"{int(float(year))}-01-01T00:00:00", max_year=2024).value == str(int(float(year)))


def test_paper_smartphone_models_are_smartphones(paper_splits: Path) -> None:
    for model in _paper_classes(paper_splits, "Smartphone Model"):
        assert label_record(ExifRecord(make="Apple", model=model)).smartphone_model == Label(model)


def test_paper_model_classes_keep_their_spelling(paper_splits: Path) -> None:
    """Model strings alone (make unknown) keep their spelling and get the right device kind."""
    for model in _paper_classes(paper_splits, "Model"):
        kind = "smartphone" if model.startswith("iPhone") else "scanner" if "Scanner" in model else "camera"
        assert clean_model(None, model) == model
        assert device_kind(None, model) == kind, model
