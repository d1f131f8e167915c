"""Make and model canonicalisation (issue #14, point 11): corporate forms, punctuation, model prefixes.

No package installable here ships a list of camera and phone Exif strings (exiftool is not installed,
and nothing in the virtualenv carries one), so :data:`REAL_WORLD` is a table of real Make/Model pairs
as cameras and phones write them, with the make, model and smartphone flag each must get.
"""

from __future__ import annotations

import pytest

from flickrexif.exif import labels
from flickrexif.exif.labels import canonical_make, clean_model, device_kind, is_smartphone
from flickrexif.exif.record import ExifRecord
from flickrexif.exif.tables import load_table

MAKES = load_table("makes")

# (Exif Make, Exif Model, canonical make, canonical model, is a smartphone)
REAL_WORLD = [
    # cameras
    ("Canon", "Canon EOS 5D Mark III", "Canon", "Canon EOS 5D Mark III", False),
    ("Canon", "Canon EOS REBEL T3i", "Canon", "Canon EOS REBEL T3i", False),
    ("Canon", "Canon EOS 550D", "Canon", "Canon EOS 550D", False),
    ("Canon", "Canon PowerShot G12", "Canon", "Canon PowerShot G12", False),
    ("Canon", "Canon IXUS 115 HS", "Canon", "Canon IXUS 115 HS", False),
    ("Canon", "Canon EOS R5", "Canon", "Canon EOS R5", False),
    ("NIKON CORPORATION", "NIKON D850", "Nikon", "NIKON D850", False),
    ("NIKON CORPORATION", "NIKON D3100", "Nikon", "NIKON D3100", False),
    ("NIKON CORPORATION", "NIKON Z 6", "Nikon", "NIKON Z 6", False),
    ("Nikon Corp.", "NIKON D7000", "Nikon", "NIKON D7000", False),
    ("NIKON", "COOLPIX P900", "Nikon", "COOLPIX P900", False),
    ("NIKON", "E4500", "Nikon", "E4500", False),
    ("SONY", "ILCE-7M3", "Sony", "ILCE-7M3", False),
    ("SONY", "DSC-RX100M3", "Sony", "DSC-RX100M3", False),
    ("SONY", "NEX-6", "Sony", "NEX-6", False),
    ("SONY", "SLT-A58", "Sony", "SLT-A58", False),
    ("SONY", "DSC-W830", "Sony", "DSC-W830", False),
    ("FUJIFILM", "X-T2", "Fujifilm", "X-T2", False),
    ("FUJIFILM", "X100S", "Fujifilm", "X100S", False),
    ("FUJIFILM", "FinePix S5600", "Fujifilm", "FinePix S5600", False),
    ("FUJI PHOTO FILM CO., LTD.", "FinePix2600Zoom", "Fujifilm", "FinePix2600Zoom", False),
    ("FUJIFILM Corporation", "X-T30", "Fujifilm", "X-T30", False),
    ("OLYMPUS IMAGING CORP.", "E-M5", "Olympus", "E-M5", False),
    ("OLYMPUS CORPORATION", "E-M1MarkIII", "Olympus", "E-M1MarkIII", False),
    ("OLYMPUS OPTICAL CO.,LTD", "C2040Z", "Olympus", "C2040Z", False),
    ("OM Digital Solutions", "OM-1", "Olympus", "OM-1", False),
    ("Panasonic", "DMC-GH4", "Panasonic", "DMC-GH4", False),
    ("Panasonic", "DC-G9", "Panasonic", "DC-G9", False),
    ("Panasonic", "DMC-TZ7", "Panasonic", "DMC-TZ7", False),
    ("PENTAX Corporation", "PENTAX K-x", "Pentax", "PENTAX K-x", False),
    ("PENTAX", "PENTAX K-3 II", "Pentax", "PENTAX K-3 II", False),
    ("RICOH IMAGING COMPANY, LTD.", "PENTAX K-1", "Pentax", "PENTAX K-1", False),
    ("RICOH IMAGING COMPANY, LTD.", "GR III", "Pentax", "GR III", False),  # makes.json: labelled Pentax by make
    ("RICOH", "GR DIGITAL 2", "Ricoh", "GR DIGITAL 2", False),
    ("ASAHI OPTICAL CO.,LTD", "PENTAX Optio330", "Pentax", "PENTAX Optio330", False),
    ("LEICA CAMERA AG", "LEICA Q (Typ 116)", "Leica", "LEICA Q (Typ 116)", False),
    ("Leica Camera AG", "LEICA M (Typ 240)", "Leica", "LEICA M (Typ 240)", False),
    (
        "EASTMAN KODAK COMPANY",
        "KODAK EASYSHARE Z981 DIGITAL CAMERA",
        "Kodak",
        "KODAK EASYSHARE Z981 DIGITAL CAMERA",
        False,
    ),
    ("KONICA MINOLTA", "DYNAX 5D", "Konica Minolta", "DYNAX 5D", False),
    ("Minolta Co., Ltd.", "DiMAGE 7", "Konica Minolta", "DiMAGE 7", False),
    ("CASIO COMPUTER CO.,LTD.", "EX-Z1000", "Casio", "EX-Z1000", False),
    ("CASIO COMPUTER CO.,LTD", "EX-FH20", "Casio", "EX-FH20", False),
    ("SANYO Electric Co.,Ltd.", "VPC-HD1010", "Sanyo", "VPC-HD1010", False),
    ("SANYO Electric Co.,Ltd", "VPC-S880", "Sanyo", "VPC-S880", False),
    ("Samsung Techwin", "Digimax S500", "Samsung", "Digimax S500", False),
    ("SAMSUNG TECHWIN CO., LTD.", "Digimax V4", "Samsung", "Digimax V4", False),
    ("SAMSUNG", "NX300", "Samsung", "NX300", False),
    ("SAMSUNG", "NX1", "Samsung", "NX1", False),
    ("SAMSUNG", "WB150F", "Samsung", "WB150F", False),
    ("SAMSUNG", "EX2F", "Samsung", "EX2F", False),
    ("SAMSUNG", "ST76", "Samsung", "ST76", False),
    ("SAMSUNG", "EK-GN120", "Samsung", "EK-GN120", False),  # Galaxy NX: a camera
    ("SAMSUNG", "SM-C200", "Samsung", "SM-C200", False),  # Gear 360: a camera
    ("SIGMA", "SIGMA SD14", "Sigma", "SIGMA SD14", False),
    ("Hasselblad", "X1D", "Hasselblad", "X1D", False),
    ("DJI", "FC220", "DJI", "FC220", False),
    ("GoPro", "HERO4 Silver", "GoPro", "HERO4 Silver", False),
    ("Hewlett-Packard", "HP PhotoSmart 735", "Hewlett-Packard", "HP PhotoSmart 735", False),
    ("HP", "HP Photosmart R717", "Hewlett-Packard", "HP Photosmart R717", False),
    ("General Imaging Co.", "GE X5", "GE", "GE X5", False),
    ("SEIKO EPSON CORP.", "R-D1", "Epson", "R-D1", False),
    ("Samsung Techwin Co.", "GX-20", "Samsung", "GX-20", False),
    ("LG Mobile", "LG-H815", "LG", "LG-H815", True),
    # phones and tablets
    ("Apple", "iPhone 12 Pro", "Apple", "iPhone 12 Pro", True),
    ("Apple", "iPhone X", "Apple", "iPhone X", True),
    ("Apple", "iPad Air 2", "Apple", "iPad Air 2", True),
    ("samsung", "SM-G960F", "Samsung", "SM-G960F", True),
    ("samsung", "SAMSUNG-SM-N900A", "Samsung", "SM-N900A", True),
    ("samsung", "SM-N900A", "Samsung", "SM-N900A", True),
    ("SAMSUNG", "GT-I9300", "Samsung", "GT-I9300", True),
    ("samsung", "SCH-I545", "Samsung", "SCH-I545", True),
    ("samsung", "SGH-I337", "Samsung", "SGH-I337", True),
    ("samsung", "SAMSUNG-SGH-I337", "Samsung", "SGH-I337", True),
    ("samsung", "SM-T510", "Samsung", "SM-T510", True),  # tablet
    ("samsung", "SM-N986U", "Samsung", "SM-N986U", True),
    ("Google", "Pixel 7", "Google", "Pixel 7", True),
    ("Google", "Pixel 4a", "Google", "Pixel 4a", True),
    ("LGE", "Nexus 5", "LG", "Nexus 5", True),
    ("LG Electronics", "LG-H870", "LG", "LG-H870", True),
    ("LGE", "LM-G710", "LG", "LM-G710", True),
    ("HUAWEI", "ELE-L29", "Huawei", "ELE-L29", True),
    ("HUAWEI", "CLT-L29", "Huawei", "CLT-L29", True),
    ("HUAWEI", "HUAWEI P30 PRO", "Huawei", "HUAWEI P30 PRO", True),
    ("Huawei Technologies Co., Ltd.", "VOG-L29", "Huawei", "VOG-L29", True),
    ("HONOR", "ANY-NX1", "Honor", "ANY-NX1", True),
    ("OnePlus", "ONEPLUS A6003", "OnePlus", "ONEPLUS A6003", True),
    ("OnePlus", "IN2023", "OnePlus", "IN2023", True),
    ("Xiaomi", "Mi 9T", "Xiaomi", "Mi 9T", True),
    ("Xiaomi", "Redmi Note 8 Pro", "Xiaomi", "Redmi Note 8 Pro", True),
    ("Redmi", "M2101K6G", "Xiaomi", "M2101K6G", True),
    ("motorola", "moto g(7)", "Motorola", "moto g(7)", True),
    ("motorola", "XT1032", "Motorola", "XT1032", True),
    ("Motorola Mobility", "XT1562", "Motorola", "XT1562", True),
    ("HTC", "HTC One_M8", "HTC", "HTC One_M8", True),
    ("HTC Corporation", "HTC Desire", "HTC", "HTC Desire", True),
    ("Sony", "SO-01K", "Sony", "SO-01K", True),
    ("Sony", "G8341", "Sony", "G8341", True),
    ("Sony Ericsson", "K800i", "Sony Ericsson", "K800i", True),
    ("SonyEricsson", "W890i", "Sony Ericsson", "W890i", True),
    ("Nokia", "Lumia 1020", "Nokia", "Lumia 1020", True),
    ("Nokia", "N95", "Nokia", "N95", True),
    ("HMD Global", "Nokia 8.3 5G", "HMD Global", "Nokia 8.3 5G", True),
    ("Microsoft", "Lumia 950", "Microsoft", "Lumia 950", True),
    ("BlackBerry", "BBB100-1", "BlackBerry", "BBB100-1", True),
    ("RIM", "BlackBerry 9700", "BlackBerry", "BlackBerry 9700", True),
    ("OPPO", "CPH2173", "Oppo", "CPH2173", True),
    ("vivo", "vivo 1906", "Vivo", "vivo 1906", True),
    ("realme", "RMX2202", "Realme", "RMX2202", True),
    ("Nothing", "A065", "Nothing", "A065", True),
    ("asus", "ASUS_Z01QD", "Asus", "ASUS_Z01QD", True),
    ("Fairphone", "FP4", "Fairphone", "FP4", True),
    ("ZTE", "ZTE A2017G", "ZTE", "ZTE A2017G", True),
    ("Panasonic", "DMC-CM1", "Panasonic", "DMC-CM1", True),
    ("LEICA", "LEITZ PHONE 1", "Leica", "LEITZ PHONE 1", True),
    ("SHARP", "SH-M05", "Sharp", "SH-M05", True),
    ("Essential Products", "PH-1", "Essential", "PH-1", True),
]


def test_the_real_world_table_is_large_and_covers_both_kinds() -> None:
    assert len(REAL_WORLD) >= 80
    assert sum(phone for *_, phone in REAL_WORLD) >= 40
    assert sum(not phone for *_, phone in REAL_WORLD) >= 40


@pytest.mark.parametrize("make, model, canonical, canonical_model, phone", REAL_WORLD)
def test_real_world_make_model_and_smartphone(make: str, model: str, canonical: str, canonical_model: str, phone: bool):
    assert canonical_make(make) == canonical
    assert clean_model(make, model) == canonical_model
    assert is_smartphone(make, model) is phone
    labels = labels_of(make, model)
    assert (labels.make.value, labels.model.value, labels.is_smartphone.value) == (
        canonical,
        canonical_model,
        str(phone),
    )
    assert labels.smartphone_model.value == (canonical_model if phone else None)


def labels_of(make: str | None, model: str | None):
    return labels.label_record(ExifRecord(make=make, model=model))


# --- makes: corporate forms, punctuation, descriptors ------------------------------------------------


@pytest.mark.parametrize(
    "raws, canonical",
    [
        (["SANYO Electric Co.,Ltd", "SANYO Electric Co.,Ltd.", "SANYO Electric Co., Ltd.", "Sanyo"], "Sanyo"),
        (["NIKON CORPORATION", "Nikon Corp.", "NIKON CORP", "Nikon Corporation", "NIKON"], "Nikon"),
        (["OLYMPUS IMAGING CORP.", "OLYMPUS OPTICAL CO.,LTD", "OLYMPUS CORPORATION", "Olympus Imaging"], "Olympus"),
        (["Samsung Techwin", "SAMSUNG ELECTRONICS CO., LTD.", "Samsung Electronics", "Samsung Techwin Co."], "Samsung"),
        (["Hewlett-Packard", "Hewlett Packard", "HEWLETT-PACKARD COMPANY", "HP"], "Hewlett-Packard"),
        (["EASTMAN KODAK COMPANY", "Eastman Kodak Company", "Kodak Company", "KODAK"], "Kodak"),
        (["FUJIFILM Corporation", "FUJI PHOTO FILM CO., LTD.", "FUJI PHOTO FILM CO.,LTD.", "FUJIFILM"], "Fujifilm"),
        (["Panasonic Corporation", "Matsushita Electric Industrial Co., Ltd.", "Panasonic"], "Panasonic"),
        (["RICOH IMAGING COMPANY, LTD.", "Ricoh Imaging Co., Ltd.", "PENTAX Corporation", "PENTAX"], "Pentax"),
        (["SONY", "Sony Corporation", "Sony Mobile Communications Inc."], "Sony"),
        (["Sony Ericsson", "SonyEricsson", "Sony Ericsson Mobile Communications AB"], "Sony Ericsson"),
        (["LGE", "LG Electronics", "LG Electronics Inc.", "LG Mobile"], "LG"),
        (["HUAWEI", "Huawei Technologies", "HUAWEI TECHNOLOGIES CO., LTD."], "Huawei"),
        (["motorola", "Motorola Mobility", "Motorola Mobility LLC"], "Motorola"),
        (["HTC Corporation", "HTC"], "HTC"),
        (["CASIO COMPUTER CO.,LTD", "CASIO COMPUTER CO.,LTD.", "Casio Computer Co., Ltd."], "Casio"),
        (["LEICA CAMERA AG", "Leica Camera AG", "Leica Camera"], "Leica"),
        (["KONICA MINOLTA CAMERA, INC.", "KONICA MINOLTA PHOTO IMAGING, INC.", "Minolta Co., Ltd."], "Konica Minolta"),
        (["Apple Inc.", "Apple Computer, Inc."], "Apple"),
        (["Microsoft Corporation", "Microsoft Mobile"], "Microsoft"),
        (["ASUSTeK Computer Inc.", "ASUS"], "Asus"),
        (["SEIKO EPSON CORP.", "EPSON"], "Epson"),
        (["Polyphony Digital Inc.", "Polyphony Digital"], "Polyphony Digital"),
        (["Ｎｉｋｏｎ"], "Nikon"),  # full-width letters (NFKC)
    ],
)
def test_corporate_forms_and_punctuation_find_one_make(raws: list[str], canonical: str) -> None:
    assert {raw: canonical_make(raw) for raw in raws} == dict.fromkeys(raws, canonical)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Sony Ericsson", "Sony Ericsson"),  # not Sony: Ericsson is a company, not a descriptor
        ("Ricoh Co., Ltd.", "Ricoh"),  # not Pentax: only Ricoh *Imaging* is
        ("RICOH", "Ricoh"),
        ("HONOR", "Honor"),  # not Huawei
        ("HMD Global", "HMD Global"),  # not Nokia
        ("Konica", "Konica Minolta"),  # merged on purpose (makes.json)
        ("YI Technology", "YI Technology"),  # unknown: descriptors stay, nothing is shortened to a guess
        ("NEC Casio Mobile Communications, Ltd.", "NEC Casio Mobile Communications"),  # not Casio
        ("Fuji Xerox Co., Ltd.", "Fuji Xerox"),  # not Fujifilm
        ("General Electric", "GE"),
        ("Canon Electronics Inc.", "Canon"),
    ],
)
def test_distinct_makers_never_merge(raw: str, expected: str) -> None:
    assert canonical_make(raw) == expected


@pytest.mark.parametrize("canonical", sorted(MAKES["canonical"]))
def test_a_canonical_make_with_descriptors_and_a_legal_form_stays_itself(canonical: str) -> None:
    """No make is shadowed by a shorter one: ``<make> <descriptor> Co., Ltd.`` is still ``<make>``."""
    for descriptor in MAKES["descriptors"]:
        if (canonical, descriptor) == ("Ricoh", "Imaging"):  # its own entry: Pentax (makes.json)
            assert canonical_make(f"{canonical} {descriptor} Co., Ltd.") == "Pentax"
            continue
        assert canonical_make(f"{canonical} {descriptor} Co., Ltd.") == canonical
    for legal in MAKES["legal_forms"]:
        assert canonical_make(f"{canonical.upper()}, {legal}.") == canonical


def test_every_table_key_is_listed_once() -> None:
    """Aliases that differ only in case, punctuation or legal form from another entry are redundant."""
    entries = [(c, a) for c, aliases in MAKES["canonical"].items() for a in (c, *aliases)]
    keys = [labels._make_key(alias) for _, alias in entries]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)


def test_two_makes_on_one_key_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {**MAKES, "canonical": {**MAKES["canonical"], "Canon": ["Nikon Corp."]}}
    monkeypatch.setattr(labels, "load_table", lambda name: table if name == "makes" else load_table(name))
    labels._make_lookup.cache_clear()
    try:
        with pytest.raises(ValueError, match="'Nikon' is listed for 'Canon' and 'Nikon'"):
            canonical_make("Canon")
    finally:
        monkeypatch.undo()
        labels._make_lookup.cache_clear()
    assert canonical_make("Nikon Corp.") == "Nikon"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Some Brand Co.,Ltd", "Some Brand"),
        ("Some Brand Co.,Ltd.", "Some Brand"),
        ("Some Brand Co., Ltd.", "Some Brand"),
        ("Some-Brand GmbH", "Some-Brand"),
        ("Acme Imaging Inc.", "Acme Imaging"),  # an unknown make keeps its descriptors
        ("WWL", "WWL"),
        ("Ltd.", "Ltd."),  # nothing but a legal form: kept as written
    ],
)
def test_unknown_makes_lose_only_their_legal_form(raw: str, expected: str) -> None:
    assert canonical_make(raw) == expected


# --- models -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, model, expected_model, kind",
    [
        ("samsung", "SAMSUNG-SM-N900A", "SM-N900A", "smartphone"),  # Galaxy Note 3 (AT&T)
        ("SAMSUNG", "samsung-sm-g900a", "sm-g900a", "smartphone"),
        ("samsung", "SAMSUNG-SGH-I337", "SGH-I337", "smartphone"),  # Galaxy S4 (AT&T)
        (None, "SAMSUNG-SGH-I337", "SGH-I337", "smartphone"),  # the prefix names the maker
        (None, "SAMSUNG-SM-N900A", "SM-N900A", "smartphone"),
        ("Canon", "SAMSUNG-SM-N900A", "SAMSUNG-SM-N900A", "camera"),  # another make: left as written
        ("SAMSUNG", "SAMSUNG-NX300", "SAMSUNG-NX300", "camera"),  # only before a phone code
        ("SAMSUNG", "SAMSUNG-", "SAMSUNG-", "camera"),
    ],
)
def test_samsung_carrier_prefix_is_cut(make: str | None, model: str, expected_model: str, kind: str) -> None:
    assert clean_model(make, model) == expected_model
    assert device_kind(make, model) == kind


def test_a_prefixed_model_and_its_plain_code_are_one_class() -> None:
    prefixed, plain = labels_of("samsung", "SAMSUNG-SM-N900A"), labels_of("samsung", "SM-N900A")
    assert prefixed.model == plain.model
    assert prefixed.smartphone_model == plain.smartphone_model
    assert prefixed.make == plain.make


@pytest.mark.parametrize(
    "make, model, phone",
    [
        (None, "SM-G960F", True),  # Samsung codes no camera uses are phones even without a make
        (None, "SCH-I545", True),
        (None, "SGH-I337", True),
        (None, "SPH-L710", True),
        (None, "SHV-E300S", True),
        (None, "GT-I9300", True),
        (None, "GT-S5830i", True),
        (None, "SO-01K", True),
        (None, "XT1032", True),
        ("samsung", "SM-T510", True),  # tablet
        ("samsung", "SM-P600", True),  # tablet with pen
        ("samsung", "SM-R380", True),  # Gear 2 watch
        ("samsung", "SM-C101", True),  # Galaxy S4 zoom: a phone with a zoom lens
        ("samsung", "SM-C200", False),  # Gear 360
        ("samsung", "SM-R210", False),  # Gear 360 (2017)
        (None, "SM-R210", False),
        ("SAMSUNG", "EK-GC100", False),  # Galaxy Camera
        ("SAMSUNG", "NX300", False),
        ("SAMSUNG", "WB150F", False),
        ("SAMSUNG", "EX2F", False),
        ("SAMSUNG", "ST76", False),
        (None, "NX300", False),
        (None, "GT-X980", False),  # an Epson scanner code without its make is not a Samsung phone
        ("HUAWEI", "ELE-L29", True),
        ("Nothing", "A065", True),
        (None, "DMC-L10", False),  # the shape of a Huawei code, on a Panasonic camera
    ],
)
def test_smartphone_model_codes(make: str | None, model: str, phone: bool) -> None:
    assert is_smartphone(make, model) is phone
