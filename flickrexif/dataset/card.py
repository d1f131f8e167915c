"""The FlickrExif dataset card (``README.md``): Hub metadata in YAML, then what a user needs to know.

The YAML's ``configs`` list every shard per split and ``dataset_info`` holds the ``datasets``
features, so ``load_dataset(folder_or_repo, "Make")`` gets typed columns and ClassLabel names
without guessing.  The body is generated from the build's numbers only — no dates of the build,
no local paths — so the card is as reproducible as the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flickrexif.dataset.builder import (
    COLUMN_DOCS,
    DATASET_NAME,
    BuildConfig,
    BuildResult,
    ConfigResult,
    dataset_features,
)
from flickrexif.crawl.licenses import LICENSES, PERMISSIVE_LICENSES
from flickrexif.publish.release import config_yaml, dataset_info_yaml, render_card, size_category
from flickrexif.dataset.split import SPLITS

PAPER = "Processing and acquisition traces in visual encoders: What does CLIP know about your camera?"
CITATION = """@inproceedings{ramos2025processing,
  title     = {Processing and acquisition traces in visual encoders: What does {CLIP} know about your camera?},
  author    = {Ramos, Ryan and Stojni{\\'c}, Vladan and Kordopatis-Zilos, Giorgos and Nakashima, Yuta and Tolias, Giorgos and Garcia, Noa},
  booktitle = {Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV)},
  year      = {2025},
  eprint    = {2508.10637},
  archivePrefix = {arXiv}
}"""


def card_metadata(result: BuildResult, config: BuildConfig) -> dict[str, Any]:
    """The YAML front matter: license, task, size, ``configs`` and ``dataset_info``."""
    built = result.built
    photos = max(c.rows for c in built)  # configurations share photos: the largest is the dataset's size
    return {
        "pretty_name": DATASET_NAME,
        "license": "other",
        "license_name": "flickr-permissive-mix",  # each photo keeps its own license: see the card's body
        "license_link": "https://www.flickr.com/creativecommons/",
        "task_categories": ["image-classification"],
        "tags": ["exif", "camera", "flickr", "image-forensics", "metadata"],
        "size_categories": [size_category(photos)],
        "configs": [config_yaml(c.name, c.splits, default=(i == 0)) for i, c in enumerate(built)],
        "dataset_info": [
            dataset_info_yaml(c.name, dataset_features(c.classes, config.include_images), c.splits) for c in built
        ],
    }


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _class_table(c: ConfigResult) -> str:
    rows = []
    for index, name in enumerate(c.classes):
        per_split = [c.class_counts[split].get(name, 0) for split in SPLITS]
        rows.append([index, f"`{name}`", *per_split, sum(c.available[s].get(name, 0) for s in SPLITS)])
    return _table(["label", "class", *SPLITS, "photos from the split owners"], rows)


def _crawl_text(crawl: Mapping[str, Any]) -> str:
    lines = []
    for query in crawl["queries"]:
        what = []
        if query.get("text"):
            what.append(f"text `{query['text']}`")
        if query.get("tags"):
            what.append(f"tags `{query['tags']}`")
        licenses = ", ".join(LICENSES[i].name for i in query.get("licenses", []) if i in LICENSES)
        lines.append(
            f"   - search {' and '.join(what) or 'without text or tags'}, taken {query.get('min_taken')} to "
            f"{query.get('max_taken')}, licenses: {licenses}"
        )
    lines.append(f"   - at most {crawl['max_photos_per_owner_month']} photos were kept per photographer and month "
                 "(the crawl's cap, applied before any Exif request)")
    return "\n".join(lines)


def flickrexif_card(result: BuildResult, config: BuildConfig, crawl: Mapping[str, Any], version: str | None) -> str:
    """The whole ``README.md``."""
    built = result.built
    example = built[0].name
    release = f"Release v{version}, data" if version else "Data"
    overview = _table(
        ["configuration", "classes", *SPLITS, "owners train/val/test"],
        [[f"`{c.name}`", len(c.classes), *(sum(c.class_counts[s].values()) for s in SPLITS),
          "/".join(str(c.owners[s]) for s in SPLITS)] for c in built],
    )
    sections = []
    for c in built:
        spec = c.spec
        text = [f"### {c.name}", "",
                f"Top {spec.top_k} classes with at least {spec.min_photos} eligible photos from "
                f"{', '.join(spec.device_kinds)} sources; {spec.validation_per_class} validation and "
                f"{spec.test_per_class} test photos per class wanted, train "
                f"{'capped at ' + str(spec.train_per_class) if spec.train_per_class else 'as large as balance allows'}.",
                "", _class_table(c)]
        if c.dropped_classes:
            shown = list(c.dropped_classes.items())[:10]
            text += ["", "Classes left out: " + "; ".join(f"`{k}` ({v})" for k, v in shown)
                     + (f"; and {len(c.dropped_classes) - 10} more" if len(c.dropped_classes) > 10 else "") + "."]
        sections.append("\n".join(text))
    skipped = [c for c in result.configs if c.skipped]
    skipped_text = "".join(f"\n- `{c.name}` was not built: {c.skipped}." for c in skipped)
    columns = _table(["column", "meaning"], [[f"`{k}`", v] for k, v in COLUMN_DOCS.items()])
    excluded = "\n".join(f"   - {reason}: {count}" for reason, count in sorted(result.excluded.items())) or "   - none"
    permissive = ", ".join(LICENSES[i].name for i in sorted(PERMISSIVE_LICENSES))
    body = f"""# {DATASET_NAME}

{DATASET_NAME} is a dataset of permissively licensed Flickr photos labelled with how they were taken:
camera make and model, smartphone or not, exposure time, aperture, ISO, focal length, flash and year,
all read from the photos' Exif. It accompanies the ICCV 2025 paper *{PAPER}* (arXiv 2508.10637), which
shows that visual encoders such as CLIP encode these acquisition traces. {release} as of {result.data_as_of}.

Each target attribute is one configuration with balanced classes and train / validation / test splits
that **never share a photographer**:

```python
from datasets import load_dataset
ds = load_dataset("<this repository>", "{example}")  # add revision="v<version>" to pin a release
ds["train"][0]["image"], ds["train"].features["label"].names
```

{overview}{skipped_text}

## Configurations

{(chr(10) * 2).join(sections)}

## Columns

Every configuration has the same columns; `label` is that configuration's class.

{columns}

No GPS position, serial number or other Exif that identifies a device or a place is published: the
columns leave them out, and the image bytes have them removed without re-encoding (the Exif block is
rewritten without the GPS directory, serial numbers, unique ids and maker notes; XMP and IPTC blocks and
data after the image's end marker are dropped; the compressed image data is byte-for-byte the download).

## How it was built

1. **Crawl** (`flickrexif crawl`): Flickr's search with safe search on, photos only, permissive licenses:
{_crawl_text(crawl)}
2. **Exif** from `flickr.photos.getExif` for every kept photo; photos whose owner hides Exif, or without
   any camera field, are not kept. {result.photos_kept} photos were kept.
3. **Download** of the original file (or the largest size offered when the original is not), verified to
   decode; the file bytes are never re-encoded.
4. **Eligibility**: {result.photos_eligible} photos are eligible. Excluded:
{excluded}

   Scanners and other non-camera sources (games, software) are excluded from every configuration; only
   cameras and phones count.
5. **Labels** (`flickrexif.exif.labels`): canonical make (`NIKON CORPORATION` → `Nikon`), model as written by
   the camera, smartphone from device tables, exposure / aperture / ISO binned to the nearest 1/3-stop
   mark, focal length to 0.1 mm, flash fired or not, year of DateTimeOriginal.
6. **Classes and splits** (`flickrexif.dataset.split`), seed {config.seed}: per configuration the most frequent
   classes with enough photos; owners are shuffled (seeded) and assigned whole to test, validation or
   train, filling test and validation toward their per-class targets; then every class gets exactly
   the same number of photos in each balanced split ({", ".join(config.balance)}).
7. **Files**: Parquet shards of at most {config.layout.max_shard_bytes >> 20} MB, rows in Flickr id order,
   written deterministically: the same database, images, seed and software give byte-identical files.
   `splits/split_data_target_attribute=<Attr>.json` lists each configuration's split in the paper's
   format (`train_ids`, `val_ids`, `test_ids`, `encoded_*_labels`, `label_encoder_classes`).

## Licenses and attribution

Every photo is licensed by its author under one of: {permissive}. Reuse must credit the author:
each row has `title`, `owner_name`, `photo_page_url`, `license` and `license_url`, e.g.
"*title*" by *owner_name* (*photo_page_url*), licensed under *license* (*license_url*).

## Takedown

If you are the author of a photo in {DATASET_NAME} and want it removed, open a discussion on the dataset
repository (or contact the maintainers) with the photo's Flickr id or page URL. Its id is added to the
exclusion list the dataset is built with (`flickrexif build --exclude`), and the next release no longer
contains it; earlier tagged releases are not rewritten. This release excludes {result.excluded.get("taken down", 0)}
photo(s) on request.

## Citation

```bibtex
{CITATION}
```
"""
    return render_card(card_metadata(result, config), body)
