"""The FlickrExif columns, defined once: ``datasets`` features, their documentation and folder names.

Every configuration has the same columns; ``label`` is that configuration's class (a ClassLabel whose
names are sorted as scikit-learn's LabelEncoder sorts them, as the paper's split files).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datasets import ClassLabel, Features, Image, Value

from flickrexif.exif.labels import ATTRIBUTES
from flickrexif.publish.columns import EXIF_COLUMNS_DOC, exif_features

DATASET_NAME = "FlickrExif"

LABEL_COLUMNS = tuple(field for field in ATTRIBUTES.values() if field != "is_smartphone")
_FILE_COLUMNS: dict[str, Value] = {
    "width": Value("int32"), "height": Value("int32"), "jpeg_quality": Value("int32"),
    "chroma_subsampling": Value("string"), "download_size": Value("string"), "is_original": Value("bool"),
}  # fmt: skip
_ATTRIBUTION_COLUMNS: dict[str, Value] = {
    "owner": Value("string"), "owner_name": Value("string"), "date_taken": Value("string"),
    "title": Value("string"), "photo_page_url": Value("string"), "license": Value("string"),
    "license_url": Value("string"),
}  # fmt: skip
COLUMN_DOCS = {
    "image": "the photo file as downloaded (not re-encoded); GPS, serial numbers and XMP/IPTC removed",
    "image_url": "(no-images variant) URL of the downloaded size on Flickr's static server",
    "flickr_id": "Flickr photo id",
    "label": "the configuration's class (ClassLabel; names sorted as scikit-learn's LabelEncoder)",
    **{name: f"{name} label (canonical class name, empty when unknown)" for name in LABEL_COLUMNS},
    "is_smartphone": "taken with a phone or tablet",
    "device_kind": "camera or smartphone",
    "exif_*": EXIF_COLUMNS_DOC.format(source="Flickr reported them"),
    "width, height": "pixel size of the file",
    "jpeg_quality": "IJG quality estimated from the file's quantization tables",
    "chroma_subsampling": "chroma subsampling of the file (4:2:0, 4:4:4, ...)",
    "download_size": "Original, or the size downloaded when the owner does not offer the original",
    "is_original": "download_size is Original",
    "owner, owner_name": "Flickr NSID and display name of the photographer",
    "date_taken": "Flickr's date taken",
    "title, photo_page_url, license, license_url": "attribution (TASL)",
}


def dataset_features(classes: Sequence[str], include_images: bool = True) -> Features:
    """The columns of every configuration, with ``label`` naming ``classes``; defined once here."""
    columns: dict[str, Any] = {"image": Image()} if include_images else {"image_url": Value("string")}
    columns["flickr_id"] = Value("string")
    columns["label"] = ClassLabel(names=list(classes))
    columns.update({name: Value("string") for name in LABEL_COLUMNS})
    columns["is_smartphone"] = Value("bool")
    columns["device_kind"] = Value("string")
    columns.update(exif_features())
    columns.update(_FILE_COLUMNS)
    columns.update(_ATTRIBUTION_COLUMNS)
    return Features(columns)


def config_folder(attribute: str) -> str:
    """``"Smartphone Model"`` → ``"data/Smartphone_Model"``."""
    return "data/" + attribute.replace(" ", "_")


def paper_split_name(attribute: str) -> str:
    """Where the paper-format split file of ``attribute`` goes in the dataset folder."""
    return f"splits/split_data_target_attribute={attribute}.json"
