"""The FlickrExif dataset card (``README.md``): Hub metadata, then what a user needs to know.

The prose lives in ``templates/card.md``; this module computes what fills it (tables of classes and
splits, the crawl's searches, exclusions) from the build's numbers only, so the card is as
reproducible as the data.  The YAML front matter comes from :func:`flickrexif.publish.card.card_data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

from flickrexif.crawl.licenses import LICENSES, PERMISSIVE_LICENSES
from flickrexif.dataset.features import COLUMN_DOCS, DATASET_NAME
from flickrexif.dataset.result import BuildResult, ConfigResult
from flickrexif.dataset.spec import BuildConfig
from flickrexif.dataset.split import SPLITS
from flickrexif.publish.card import CITATION, PAPER, card_data, column_table, markdown_table, render_card, size_category
from flickrexif.publish.release import DatasetContents

TEMPLATE = "templates/card.md"
MAX_DROPPED_LISTED = 10


def card_metadata(contents: DatasetContents) -> Any:
    """The YAML front matter: license, task, size, ``configs`` and ``dataset_info``."""
    photos = max(config.rows for config in contents.configs)  # configurations share photos: the largest is the size
    return card_data(
        contents.configs,
        pretty_name=DATASET_NAME,
        license="other",
        license_name="flickr-permissive-mix",  # each photo keeps its own license: see the card's body
        license_link="https://www.flickr.com/creativecommons/",
        task_categories=["image-classification"],
        tags=["exif", "camera", "flickr", "image-forensics", "metadata"],
        size_categories=[size_category(photos)],
    )


def _class_table(c: ConfigResult) -> str:
    rows = []
    for index, name in enumerate(c.classes):
        per_split = [c.class_counts[split].get(name, 0) for split in SPLITS]
        rows.append([index, f"`{name}`", *per_split, sum(c.available[s].get(name, 0) for s in SPLITS)])
    return markdown_table(["label", "class", *SPLITS, "photos from the split owners"], rows)


def _config_section(c: ConfigResult) -> str:
    spec = c.spec
    train = f"capped at {spec.train_per_class}" if spec.train_per_class else "as large as balance allows"
    count = len(c.classes)
    chosen = (
        f"The {count} most frequent classes"
        if count == spec.top_k
        else f"{count} classes (the most frequent; up to {spec.top_k} were allowed, {count} qualified)"
    )
    text = [f"### {c.name}", "",
            f"{chosen} with at least {spec.min_photos} eligible photos from "
            f"{', '.join(spec.device_kinds)} sources; {spec.validation_per_class} validation and "
            f"{spec.test_per_class} test photos per class wanted, train {train}.",
            "", _class_table(c)]  # fmt: skip
    if c.dropped_classes:
        shown = "; ".join(f"`{k}` ({v})" for k, v in list(c.dropped_classes.items())[:MAX_DROPPED_LISTED])
        more = len(c.dropped_classes) - MAX_DROPPED_LISTED
        text += ["", f"Classes left out: {shown}" + (f"; and {more} more" if more > 0 else "") + "."]
    return "\n".join(text)


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
    lines.append(
        f"   - at most {crawl['max_photos_per_owner_month']} photos were kept per photographer and month "
        "(the crawl's cap, applied before any Exif request)"
    )
    return "\n".join(lines)


def flickrexif_card(contents: DatasetContents, config: BuildConfig, version: str | None) -> str:
    """The whole ``README.md``."""
    result: BuildResult = contents.details
    built = result.built
    overview = markdown_table(
        ["configuration", "classes", *SPLITS, "owners train/val/test"],
        [[f"`{c.name}`", len(c.classes), *(sum(c.class_counts[s].values()) for s in SPLITS),
          "/".join(str(c.owners[s]) for s in SPLITS)] for c in built],
    )  # fmt: skip
    excluded = "\n".join(f"   - {reason}: {count}" for reason, count in sorted(result.excluded.items())) or "   - none"
    template = resources.files("flickrexif.dataset").joinpath(TEMPLATE)
    with resources.as_file(template) as path:
        return render_card(
            path, card_metadata(contents),
            name=DATASET_NAME, paper=PAPER, citation=CITATION, example=built[0].name,
            release=f"Release v{version}, data" if version else "Data", data_as_of=result.data_as_of,
            overview=overview, skipped=[c for c in result.configs if c.skipped],
            sections=[_config_section(c) for c in built], columns=column_table(COLUMN_DOCS),
            crawl=_crawl_text(result.crawl), photos_kept=result.photos_kept, photos_eligible=result.photos_eligible,
            excluded=excluded, seed=config.seed, balance=", ".join(config.balance),
            max_shard_mb=config.layout.max_shard_bytes >> 20,
            permissive=", ".join(LICENSES[i].name for i in sorted(PERMISSIVE_LICENSES)),
            taken_down=result.excluded.get("taken down", 0),
        )  # fmt: skip
