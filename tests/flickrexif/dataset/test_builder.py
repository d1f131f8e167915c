"""flickrexif build: class selection, owner-disjoint balanced splits, rows, privacy, determinism."""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from flickrexif.crawl.licenses import PERMISSIVE_LICENSES
from flickrexif.crawl.records import SearchPhoto
from flickrexif.crawl.store import KEPT, CrawlStore
from flickrexif.dataset.builder import build
from flickrexif.dataset.features import config_folder, paper_split_name
from flickrexif.dataset.result import BuildError
from flickrexif.dataset.spec import BuildConfig, default_specs, load_exclusions, load_specs
from flickrexif.dataset.split import SPLITS, Item, SplitSpec, owner_disjoint_split, select_classes
from flickrexif.exif.labels import ATTRIBUTES, label_record
from flickrexif.exif.read import read_exif
from flickrexif.exif.record import ExifRecord
from flickrexif.publish.manifest import ReleaseError

IDENTIFYING = ("gps", "latitude", "longitude", "serial", "location", "position")


# --- the split algorithm on synthetic items ---------------------------------------------------------


def synthetic_items(owners: int = 60, seed: int = 0) -> list[Item]:
    """Owners with Zipf-like photo counts, each mostly shooting one of five classes."""
    rng = random.Random(seed)
    items, key = [], 0
    for number in range(owners):
        favourite = f"c{number % 5}"
        for _ in range(max(2, int(80 / (number + 1) ** 0.8))):
            label = favourite if rng.random() < 0.8 else f"c{rng.randrange(5)}"
            items.append(Item(key, f"owner{number:03d}", label))
            key += 1
    return items


SPEC = SplitSpec(top_k=5, min_photos=20, validation_per_class=4, test_per_class=6)


def test_split_owners_disjoint_and_classes_exactly_balanced():
    result = owner_disjoint_split(synthetic_items(), SPEC, seed="1/Make")
    assert result.skipped is None and len(result.classes) >= 2
    owner_of = {item.key: item.owner for item in synthetic_items()}
    owners = {split: {owner_of[key] for key, _ in result.rows[split]} for split in SPLITS}
    assert not owners["train"] & owners["validation"]
    assert not owners["train"] & owners["test"]
    assert not owners["validation"] & owners["test"]
    assert owners == {split: set(result.owners[split]) for split in SPLITS}
    for split in SPLITS:
        counts = Counter(label for _, label in result.rows[split])
        assert set(counts) == set(range(len(result.classes)))
        assert set(counts.values()) == {result.per_class[split]}, (split, counts)
    assert result.per_class["test"] <= 6 and result.per_class["validation"] <= 4
    assert result.per_class["train"] > result.per_class["test"]
    assert list(result.classes) == sorted(result.classes)
    keys = [key for split in SPLITS for key, _ in result.rows[split]]
    assert len(keys) == len(set(keys))


def test_split_is_deterministic_and_depends_on_the_seed():
    items = synthetic_items()
    first = owner_disjoint_split(items, SPEC, seed="0/Make")
    again = owner_disjoint_split(list(items), SPEC, seed="0/Make")
    other = owner_disjoint_split(items, SPEC, seed="1/Make")
    assert first == again
    assert first.owners != other.owners
    assert first.rows != other.rows


def test_select_classes_keeps_top_k_with_enough_photos():
    kept, dropped = select_classes({"a": 50, "b": 40, "c": 40, "d": 30, "e": 5}, top_k=3, min_photos=10)
    assert kept == ["a", "b", "c"]
    assert "top 3" in dropped["d"] and "fewer than the minimum 10" in dropped["e"]


def test_a_class_from_a_single_owner_cannot_be_split_and_is_dropped():
    items = synthetic_items()
    key = max(item.key for item in items) + 1
    items += [Item(key + i, "loner", "only-one-owner") for i in range(200)]
    result = owner_disjoint_split(items, SPEC, seed="0/Make")
    assert "only-one-owner" not in result.classes
    assert "sharing owners" in result.dropped_classes["only-one-owner"]


def test_balance_can_be_limited_to_some_splits():
    result = owner_disjoint_split(synthetic_items(), SPEC, seed="0/x", balance=("validation", "test"))
    train = Counter(label for _, label in result.rows["train"])
    assert len(set(train.values())) > 1  # train keeps everything its owners offer
    assert len(set(Counter(label for _, label in result.rows["test"]).values())) == 1


def test_too_few_classes_is_reported_not_raised():
    items = [Item(i, f"o{i % 7}", "only") for i in range(100)]
    result = owner_disjoint_split(items, SPEC, seed="0")
    assert result.skipped and "at least 2" in result.skipped and result.size == 0


def test_bad_specs_are_rejected():
    with pytest.raises(ValueError, match="top_k"):
        SplitSpec(top_k=1, min_photos=1, validation_per_class=1, test_per_class=1)
    with pytest.raises(ValueError, match="unknown attribute"):
        BuildConfig(db=Path("x"), images=Path("y"), attributes=("Lens",))


# --- the build on a crawled and downloaded database ---------------------------------------------------


@pytest.fixture(scope="module")
def built(crawled_db, small_specs, tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "FlickrExif"
    config = BuildConfig(db=crawled_db.db, images=crawled_db.images, specs=small_specs, seed=3)
    return build(config, out), out, config


def read_config(out: Path, attribute: str, columns=None) -> dict[str, dict]:
    folder = out / config_folder(attribute)
    return {
        split: pq.ParquetFile(next(folder.glob(f"{split}-*.parquet"))).read(columns=columns).to_pydict()
        for split in SPLITS
    }


def test_every_configuration_is_owner_disjoint_and_balanced(built, paper_splits_keys):
    result, out, _ = built
    assert [c.name for c in result.configs] == list(ATTRIBUTES)
    assert result.built == result.configs, [c.skipped for c in result.configs]
    for config in result.configs:
        tables = read_config(out, config.name, ["flickr_id", "owner", "label"])
        owners = {split: set(table["owner"]) for split, table in tables.items()}
        assert not (
            owners["train"] & owners["validation"]
            or owners["train"] & owners["test"]
            or owners["validation"] & owners["test"]
        ), config.name
        for split, table in tables.items():
            counts = Counter(table["label"])
            assert len(counts) == len(config.classes) and len(set(counts.values())) == 1, (config.name, split)
            assert table["flickr_id"] == sorted(table["flickr_id"], key=lambda i: (len(i), i))
        paper = json.loads((out / paper_split_name(config.name)).read_text())
        assert set(paper) == paper_splits_keys and paper["target_attribute"] == config.name
        assert paper["label_encoder_classes"] == list(config.classes)
        assert paper["test_ids"] == [int(i) for i in tables["test"]["flickr_id"]]
        assert paper["encoded_train_labels"] == tables["train"]["label"]


def test_labels_and_classes_agree_with_the_database_labels(built):
    result, out, _ = built
    for config in result.configs:
        field = ATTRIBUTES[config.name]
        column = "is_smartphone" if field == "is_smartphone" else field
        tables = read_config(out, config.name, ["label", column, "device_kind", "license"])
        for table in tables.values():
            names = [config.classes[label] for label in table["label"]]
            values = [str(v) if isinstance(v, bool) else v for v in table[column]]
            assert names == values
            assert set(table["device_kind"]) <= {"camera", "smartphone"}
    smartphone = next(c for c in result.configs if c.name == "Smartphone Model")
    assert set(read_config(out, "Smartphone Model", ["device_kind"])["train"]["device_kind"]) == {"smartphone"}
    assert smartphone.classes


def test_published_rows_hold_no_gps_or_serial_numbers(built, crawled_db):
    result, out, _ = built
    for config in result.configs:
        names = pq.ParquetFile(next((out / config_folder(config.name)).glob("train-*"))).schema_arrow.names
        assert not [n for n in names if any(word in n.lower() for word in IDENTIFYING)], names
    tables = read_config(out, "Make", ["image", "flickr_id", "jpeg_quality", "chroma_subsampling", "width"])
    paths = {p.stem: p for p in crawled_db.images.rglob("*.jpg")}
    had_gps = had_serial = 0
    for table in tables.values():
        for image, photo_id, quality, chroma, width in zip(
            table["image"], table["flickr_id"], table["jpeg_quality"], table["chroma_subsampling"], table["width"]
        ):
            source = paths[photo_id].read_bytes()
            before = Image.open(io.BytesIO(source)).getexif()
            had_gps += bool(before.get_ifd(0x8825))
            had_serial += 0xA431 in before.get_ifd(0x8769)
            published = image["bytes"]
            exif = Image.open(io.BytesIO(published)).getexif()
            assert not exif.get_ifd(0x8825) and 0x8825 not in exif
            assert not {0xA431, 0xA435, 0xA420, 0x927C} & set(exif.get_ifd(0x8769))
            assert b"http://ns.adobe.com/xap" not in published
            assert np.array_equal(
                np.asarray(Image.open(io.BytesIO(published))), np.asarray(Image.open(io.BytesIO(source)))
            )
            original = read_exif(source)
            assert read_exif(published) == original  # camera fields and JPEG facts survive the scrub
            assert (quality, chroma, width) == (original.jpeg_quality, original.chroma_subsampling, original.width)
    assert had_gps and had_serial, "the fixture should include phones with GPS and cameras with serials"


def test_attribution_columns(built):
    _, out, _ = built
    table = read_config(
        out,
        "Make",
        [
            "flickr_id",
            "owner",
            "photo_page_url",
            "license",
            "license_url",
            "title",
            "owner_name",
            "download_size",
            "is_original",
        ],
    )["train"]
    for photo_id, owner, url in zip(table["flickr_id"], table["owner"], table["photo_page_url"]):
        assert url == f"https://www.flickr.com/photos/{owner}/{photo_id}/"
    assert all(table["license"]) and all(u.startswith("http") for u in table["license_url"])
    assert all(table["owner_name"])
    assert [s == "Original" for s in table["download_size"]] == table["is_original"]


def test_card_names_every_configuration_with_features(built):
    result, out, _ = built
    card = (out / "README.md").read_text()
    front = card.split("---\n")[1]
    import yaml

    meta = yaml.safe_load(front)
    assert sorted(c["config_name"] for c in meta["configs"]) == sorted(ATTRIBUTES)
    assert [c["config_name"] for c in meta["configs"] if c.get("default")] == ["Make"]  # the first attribute
    info = {entry["config_name"]: entry for entry in meta["dataset_info"]}
    make = next(c for c in result.configs if c.name == "Make")
    label = next(f for f in info["Make"]["features"] if f["name"] == "label")
    assert list(label["dtype"]["class_label"]["names"].values()) == list(make.classes)
    assert {s["name"]: s["num_examples"] for s in info["Make"]["splits"]} == {
        s.split: s.num_examples for s in make.splits
    }
    for heading in ("## How it was built", "## Licenses and attribution", "## Takedown", "## Citation", "### Make"):
        assert heading in card
    assert meta["task_categories"] == ["image-classification"] and meta["pretty_name"] == "FlickrExif"


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_two_builds_are_byte_identical_and_configs_do_not_depend_on_each_other(built, tmp_path):
    _, out, config = built
    again = build(config, tmp_path / "again")
    assert tree_digest(tmp_path / "again") == tree_digest(out)
    assert again.rows == built[0].rows
    only_make = BuildConfig(db=config.db, images=config.images, specs=config.specs, seed=3, attributes=("Make",))
    build(only_make, tmp_path / "make")
    make_files = {k: v for k, v in tree_digest(out).items() if k.startswith("data/Make/")}
    assert {k: v for k, v in tree_digest(tmp_path / "make").items() if k.startswith("data/Make/")} == make_files


def test_no_images_variant_keeps_urls_and_the_same_split(built, tmp_path):
    _, out, config = built
    light = BuildConfig(
        db=config.db, images=config.images, specs=config.specs, seed=3, attributes=("Make",), include_images=False
    )
    build(light, tmp_path / "light")
    heavy = read_config(out, "Make", ["flickr_id", "label"])
    tables = read_config(tmp_path / "light", "Make")
    for split in SPLITS:
        assert "image" not in tables[split] and all(u.startswith("http") for u in tables[split]["image_url"])
        assert tables[split]["flickr_id"] == heavy[split]["flickr_id"]


def test_existing_output_and_missing_database_are_refused(built, tmp_path):
    _, out, config = built
    with pytest.raises(ReleaseError, match="already exists"):
        build(config, out)
    missing = BuildConfig(db=tmp_path / "none.db", images=tmp_path, specs=config.specs)
    with pytest.raises(BuildError, match="no crawl database"):
        build(missing, tmp_path / "x")
    assert not (tmp_path / "x").exists()


# --- a database written directly, for the cases a crawl does not produce ----------------------------


def tiny_jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 255, (16, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def write_store(folder: Path, photos: list[dict]) -> tuple[Path, Path]:
    """A crawl database of kept, downloaded photos: dicts with id, owner, make, model (and license)."""
    db, images = folder / "crawl.db", folder / "images"
    with CrawlStore(db) as store:
        store.add_window("q", "2000-01-01 00:00:00", "2025-01-01 00:00:00")
        window = store.open_windows("q")[0]
        search = [SearchPhoto(
            id=p["id"], owner=p["owner"], owner_name=f"name {p['owner']}", title=f"t{p['id']}",
            license=p.get("license", 4), date_taken="2015-06-01 12:00:00", date_upload=0, tags="", media="photo",
            original_format="jpg", o_width=24, o_height=16, url_o=f"https://live.staticflickr.com/{p['id']}_o.jpg",
            url_large=None,
        ) for p in photos]  # fmt: skip
        store.add_search_page(window, 1, 1, len(photos), search, cap=10_000, allowed_licenses=PERMISSIVE_LICENSES)
        for index, p in enumerate(photos):
            record = ExifRecord(
                make=p["make"], model=p["model"], exposure_time=None, datetime_original="2015-06-01T12:00:00"
            )
            store.record_exif(
                p["id"], KEPT, exif=record, labels=label_record(record).values(), max_per_user_month=10_000
            )
            path = Path(p["id"][-2:]) / f"{p['id']}.jpg"
            (images / path).parent.mkdir(parents=True, exist_ok=True)
            data = p.get("data") or tiny_jpeg(index)
            (images / path).write_bytes(data)
            store.record_download(
                p["id"],
                "done",
                size="Original",
                path=str(path),
                sha256=hashlib.sha256(data).hexdigest(),
                nbytes=len(data),
            )
    return db, images


def photos_of(make: str, model: str, owners: int, per_owner: int, start: int) -> list[dict]:
    return [
        {"id": str(start + o * per_owner + i), "owner": f"{make}-{o}@N01", "make": make, "model": model}
        for o in range(owners)
        for i in range(per_owner)
    ]


def test_scanners_and_other_sources_are_dropped(tmp_path):
    photos = (
        photos_of("Canon", "Canon EOS 40D", 8, 5, 10_000_000)
        + photos_of("NIKON CORPORATION", "NIKON D70", 8, 5, 20_000_000)
        + photos_of("Plustek", "OpticFilm 8200i", 10, 8, 30_000_000)
    )  # a film scanner, the largest class
    db, images = write_store(tmp_path, photos)
    spec = SplitSpec(top_k=5, min_photos=10, validation_per_class=3, test_per_class=3)
    result = build(BuildConfig(db=db, images=images, attributes=("Make",), specs={"Make": spec}), tmp_path / "out")
    make = result.configs[0]
    assert make.classes == ("Canon", "Nikon")
    tables = read_config(tmp_path / "out", "Make", ["flickr_id"])
    assert not any(i.startswith("3") for table in tables.values() for i in table["flickr_id"])


def test_photos_with_unusable_bytes_are_dropped_and_the_split_redone(tmp_path):
    photos = photos_of("Canon", "Canon EOS 40D", 8, 5, 10_000_000) + photos_of(
        "NIKON CORPORATION", "NIKON D70", 8, 5, 20_000_000
    )
    broken = {p["id"] for p in photos[::5][:8]}  # the first photo of every Canon owner
    for p in photos:
        if p["id"] in broken:
            p["data"] = b"\xff\xd8\xff\xe0 this is not really a JPEG"
    db, images = write_store(tmp_path, photos)
    spec = SplitSpec(top_k=5, min_photos=10, validation_per_class=3, test_per_class=3)
    config = BuildConfig(db=db, images=images, attributes=("Make",), specs={"Make": spec})
    result = build(config, tmp_path / "out")
    tables = read_config(tmp_path / "out", "Make", ["flickr_id", "label"])
    assert not broken & {i for table in tables.values() for i in table["flickr_id"]}
    assert result.configs[0].unusable_photos >= 1
    for table in tables.values():
        assert len(set(Counter(table["label"]).values())) == 1
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_split_settings_come_from_the_package_table_and_can_be_overridden(tmp_path):
    defaults = default_specs()
    assert set(defaults) == set(ATTRIBUTES)
    assert (defaults["Make"].top_k, defaults["Make"].validation_per_class, defaults["Make"].test_per_class) == (
        9,
        200,
        500,
    )
    assert defaults["Smartphone Model"].device_kinds == ("smartphone",)
    path = tmp_path / "specs.json"
    path.write_text(json.dumps({"attributes": {"Make": {"top_k": 3, "min_photos": 40}}}))
    specs = load_specs(path)
    assert specs["Make"] == SplitSpec(top_k=3, min_photos=40, validation_per_class=200, test_per_class=500)
    assert specs["Year"] == defaults["Year"]
    path.write_text(json.dumps({"Make": {"top_k": 3, "classes": 4}}))
    with pytest.raises(ValueError, match="unknown setting"):
        load_specs(path)


def test_taken_down_photos_are_never_published(tmp_path):
    photos = photos_of("Canon", "Canon EOS 40D", 8, 5, 10_000_000) + photos_of(
        "NIKON CORPORATION", "NIKON D70", 8, 5, 20_000_000
    )
    db, images = write_store(tmp_path, photos)
    requests = tmp_path / "takedown.txt"
    requests.write_text(
        f"# takedown requests\n{photos[0]['id']}\n"
        f"https://www.flickr.com/photos/{photos[1]['owner']}/{photos[1]['id']}/  # by mail\n"
    )
    exclude = load_exclusions(requests)
    assert exclude == {photos[0]["id"], photos[1]["id"]}
    spec = SplitSpec(top_k=5, min_photos=10, validation_per_class=3, test_per_class=3)
    result = build(
        BuildConfig(db=db, images=images, attributes=("Make",), specs={"Make": spec}, exclude_ids=exclude),
        tmp_path / "out",
    )
    assert result.excluded == {"taken down": 2}
    ids = {i for table in read_config(tmp_path / "out", "Make", ["flickr_id"]).values() for i in table["flickr_id"]}
    assert not ids & exclude
    assert "excludes 2" in (tmp_path / "out" / "README.md").read_text()
