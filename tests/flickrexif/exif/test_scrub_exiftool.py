"""The scrub checked by an independent reader: ExifTool lists only allowlisted tags in what we publish.

ExifTool (Debian ``libimage-exiftool-perl``, installed by ``.ci/run``) reads far more metadata formats
than Pillow does (Kodak Meta, Ducky, CIFF, JUMBF, IPTC inside Exif, ...).  Every tag it reports in a
scrubbed file must be on the allowlist below, by group and name: a field nobody thought of fails the
test instead of slipping through.  The tests skip when ExifTool or the shared sample photos are absent.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_scrub import SECRETS, identifying_jpeg

from flickrexif.exif.scrub import UnpublishableError, publishable_bytes

# ExifTool's family-1 group -> tag names a scrubbed file may show.
ALLOWED = {
    "ExifTool": {"ExifToolVersion"},
    "System": {
        "FileName", "Directory", "FileSize", "FileModifyDate", "FileAccessDate", "FileInodeChangeDate",
        "FilePermissions",
    },
    "File": {
        "FileType", "FileTypeExtension", "MIMEType", "ExifByteOrder", "ImageWidth", "ImageHeight",
        "EncodingProcess", "BitsPerSample", "ColorComponents", "YCbCrSubSampling",
    },
    "JFIF": {"JFIFVersion", "ResolutionUnit", "XResolution", "YResolution"},
    "IFD0": {
        "Make", "Model", "Software", "Orientation", "XResolution", "YResolution", "ResolutionUnit",
        "YCbCrPositioning",
    },
    "ExifIFD": {
        "ExposureTime", "FNumber", "ISO", "ExifVersion", "DateTimeOriginal", "CreateDate", "Flash",
        "FocalLength", "ColorSpace", "FocalLengthIn35mmFormat", "LensModel",
    },
    "InteropIFD": {"InteropIndex", "InteropVersion"},
    "Adobe": {"DCTEncodeVersion", "APP14Flags0", "APP14Flags1", "ColorTransform"},
    # Computed by ExifTool from the tags above.
    "Composite": {
        "Aperture", "ShutterSpeed", "ImageSize", "Megapixels", "LightValue", "ScaleFactor35efl",
        "CircleOfConfusion", "FOV", "FocalLength35efl", "HyperfocalDistance", "LensID",
    },
    # HEIF container structure: brands, codec configuration, image properties, item references and
    # the padding boxes ("free") that readers skip.
    "QuickTime": {
        "MajorBrand", "MinorVersion", "CompatibleBrands", "HandlerType", "HEVCConfigurationVersion",
        "GeneralProfileSpace", "GeneralTierFlag", "GeneralProfileIDC", "GenProfileCompatibilityFlags",
        "ConstraintIndicatorFlags", "GeneralLevelIDC", "MinSpatialSegmentationIDC", "ParallelismType",
        "ChromaFormat", "BitDepthLuma", "BitDepthChroma", "AverageFrameRate", "ConstantFrameRate",
        "NumTemporalLayers", "TemporalIDNested", "ImageSpatialExtent", "Rotation", "ImagePixelDepth",
        "AuxiliaryImageType", "MediaDataSize", "MediaDataOffset", "MediaData", "ColorProfiles",
        "ColorPrimaries", "TransferCharacteristics", "MatrixCoefficients", "VideoFullRangeFlag", "Free",
        "Unknown_free",
    },
    "Meta": {"PrimaryItemReference", "MetaImageSize"},
}  # fmt: skip
# The embedded ICC profile is kept byte for byte (colour depends on it): every tag of its groups is allowed.
ICC_GROUP = re.compile(r"ICC(_Profile|-\w+)$")
COPY = re.compile(r":Copy\d+:")  # -G1:4 numbers the duplicates that -a shows


@pytest.fixture(scope="session")
def exiftool() -> str:
    path = shutil.which("exiftool")
    if path is None:
        pytest.skip("ExifTool is not installed (Debian/Ubuntu: apt-get install libimage-exiftool-perl; .ci/run does)")
    return path


def read_tags(exiftool: str, paths: list[Path]) -> dict[str, dict[str, object]]:
    """``exiftool -j -a -G1:4 -u`` over ``paths``: file name -> {"Group:Name": value} (duplicates kept)."""
    done = subprocess.run([exiftool, "-j", "-a", "-G1:4", "-u", *map(str, paths)], capture_output=True, check=False)
    assert done.stdout, done.stderr.decode(errors="replace")
    return {Path(row.pop("SourceFile")).name: row for row in json.loads(done.stdout)}


def not_allowed(tags: dict[str, object]) -> list[str]:
    out = []
    for key, value in tags.items():
        group, _, name = COPY.sub(":", key).partition(":")
        if not ICC_GROUP.match(group) and name not in ALLOWED.get(group, ()):
            out.append(f"{key}={value!r}")
    return out


def test_every_listed_identifying_field_is_gone(exiftool, tmp_path):
    original = identifying_jpeg()
    (tmp_path / "original.jpg").write_bytes(original)
    (tmp_path / "scrubbed.jpg").write_bytes(publishable_bytes(original, "JPEG"))
    tags = read_tags(exiftool, [tmp_path / "original.jpg", tmp_path / "scrubbed.jpg"])
    before, after = tags["original.jpg"], tags["scrubbed.jpg"]
    # ExifTool does see the fields in the original (so the check below could fail)...
    seen = {COPY.sub(":", key) for key in before}
    for key in (
        "ExifIFD:SerialNumber", "ExifIFD:OwnerName", "IPTC2:By-line", "IFD0:XPAuthor", "ExifIFD:UserComment",
        "IFD0:ImageDescription", "IFD0:DocumentName", "IFD0:Artist", "IFD0:Copyright", "File:Comment",
        "PictureInfo:SerialNumber", "XMP-dc:Creator", "GPS:GPSProcessingMethod", "IFD1:ImageDescription",
        "JFIF:ThumbnailTIFF", "CIFF:Warning",
    ):  # fmt: skip
        assert key in seen, key
    # ... and none of them, nor anything else off the allowlist, in the scrubbed file.
    assert not_allowed(after) == []
    assert not any(secret.decode("latin-1") in json.dumps(after) for secret in SECRETS.values())
    for key in ("IFD0:Make", "IFD0:Model", "IFD0:Orientation", "ExifIFD:FNumber", "InteropIFD:InteropIndex"):
        assert after[key] == before[key], key
    assert after["ExifIFD:ISO"] == before["IFD0:ISO"]  # moved to the Exif sub-IFD, where it belongs


def test_real_sample_photos_keep_only_allowlisted_tags(exiftool, exif_samples, tmp_path):
    suffixes = {".jpg": "JPEG", ".jpeg": "JPEG", ".heic": "HEIF", ".heif": "HEIF"}
    originals, scrubbed = [], []
    for path in sorted(exif_samples.rglob("*")):
        image_format = suffixes.get(path.suffix.lower())
        if image_format is None:
            continue
        try:
            cleaned = publishable_bytes(path.read_bytes(), image_format)
        except UnpublishableError:
            continue  # the build does not publish such files
        name = str(path.relative_to(exif_samples)).replace("/", "__")
        (tmp_path / "before").mkdir(exist_ok=True)
        (tmp_path / "after").mkdir(exist_ok=True)
        originals.append(tmp_path / "before" / name)
        scrubbed.append(tmp_path / "after" / name)
        originals[-1].write_bytes(path.read_bytes())
        scrubbed[-1].write_bytes(cleaned)
    assert len(scrubbed) >= 80
    before, after = read_tags(exiftool, originals), read_tags(exiftool, scrubbed)
    assert len(after) == len(scrubbed)
    problems = {name: bad for name, tags in after.items() if (bad := not_allowed(tags))}
    assert problems == {}
    for name, tags in after.items():
        old = before[name]
        # Kept values read back unchanged (derived Composite values and the file's own facts aside).
        for key, value in tags.items():
            group = key.partition(":")[0]
            if group not in ("System", "Composite", "ExifTool", "File") and ":Copy" not in key and key in old:
                assert value == old[key], (name, key)
        # The displayed orientation: Exif's, or XMP's where only XMP had one (carried into Exif).
        orientation = old.get("IFD0:Orientation") or old.get("XMP-tiff:Orientation")
        assert tags.get("IFD0:Orientation") == orientation, name
