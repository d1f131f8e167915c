"""The PairCams dataset card (``README.md``): Hub metadata, then what a user needs to know.

The prose lives in ``templates/card.md``; this module computes what fills it from the release's build
info only (no dates of the release, no local paths), so the card is as reproducible as the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

from flickrexif.publish.card import CITATION, PAPER, card_data, column_table, markdown_table, render_card, size_category
from flickrexif.publish.columns import EXIF_COLUMNS_DOC
from flickrexif.publish.parquet import PublishedConfig

TEMPLATE = "templates/card.md"

COLUMN_DOCS = {
    "image": "the photo file's original bytes (JPEG or HEIC, never re-encoded); GPS, serial numbers, "
             "maker notes and XMP removed",
    "subject_idx": "the subject: the two rows of a pair share it; stable across releases",
    "model": "camera model as written in Exif (`Canon EOS 40D`, `iPhone 13 Pro Max`)",
    "make": "canonical make (`NIKON CORPORATION` → `Nikon`)",
    "is_smartphone": "taken with a phone or tablet",
    "camera_type": "`smartphone` or `camera`",
    "datetime_original": "Exif capture time, ISO 8601 without time zone",
    "capture_delta_s": "seconds between the pair's two capture times (same value on both rows)",
    "exposure, aperture, iso, focal_length, flash, year": "binned labels, the same classes as FlickrExif",
    "exif_*": EXIF_COLUMNS_DOC.format(source="read from the file"),
    "image_format": "`JPEG` or `HEIF`",
    "width, height": "stored pixel size",
    "jpeg_quality": "IJG quality estimated from the JPEG quantization tables (empty for HEIC)",
    "chroma_subsampling": "JPEG chroma subsampling (empty for HEIC)",
}  # fmt: skip


#: The Hub's ``license_name`` when a release names no license (``paircams release --license other``).
UNSPECIFIED_LICENSE = "unspecified"


def license_text(license_id: str) -> str:
    """The card's License section: the license named, or that none was and what that means."""
    if license_id != "other":
        return f"The dataset is released under the `{license_id}` license (its Hugging Face Hub license id)."
    return (
        "No license was named for this release (`paircams release` ran with `--license other`, its default), so "
        "this card grants no reuse rights: the photos remain their photographers' work. Ask the maintainers "
        "before reusing them; a later release can name a Hub license id with `--license`."
    )


def card_metadata(name: str, config: PublishedConfig, license_id: str) -> Any:
    """The YAML front matter: license (named, when ``other``), tasks, size, ``configs`` and ``dataset_info``."""
    named = {"license_name": UNSPECIFIED_LICENSE} if license_id == "other" else {}
    return card_data(
        [config],
        pretty_name=name,
        license=license_id,
        **named,
        task_categories=["image-feature-extraction", "image-classification"],
        tags=["exif", "camera", "smartphone", "retrieval", "image-forensics", "paired"],
        size_categories=[size_category(config.rows)],
    )


def _pairing_text(info: Mapping[str, Any]) -> tuple[str, str]:
    """How photos were paired (the layout) and what a pair needs (the rules), in words."""
    settings = info["settings"]
    rules = (
        "one smartphone and one camera"
        if settings.get("require_phone_and_camera", True)
        else "any two devices (two phones or two cameras allowed)"
    )
    if settings.get("require_different_devices", True):
        rules += ", two different devices (make and model)"
    layout = (
        "one folder per subject holding its two photos"
        if info["layout"] == "folders"
        else f"photos paired by Exif capture time, at most {settings.get('tolerance_s', 0):g} s apart, "
        "a photo with more than one possible partner left out"
    )
    return layout, rules


def paircams_card(
    name: str, info: Mapping[str, Any], config: PublishedConfig, version: str | None, as_of: str, license_id: str
) -> str:
    """The whole ``README.md``."""
    devices = [
        [kind, f"`{device}`", count] for kind, counts in info["devices"].items() for device, count in counts.items()
    ]
    layout, rules = _pairing_text(info)
    template = resources.files("paircams").joinpath(TEMPLATE)
    with resources.as_file(template) as path:
        return render_card(
            path, card_metadata(name, config, license_id),
            name=name, paper=PAPER, citation=CITATION, version=version, data_as_of=as_of,
            subjects=info["subjects"], photos=info["photos"],
            formats=", ".join(f"{fmt} {count}" for fmt, count in info["image_formats"].items()),
            devices=markdown_table(["camera type", "device", "photos"], devices),
            columns=column_table(COLUMN_DOCS), layout=layout, rules=rules, license=license_text(license_id),
        )  # fmt: skip
