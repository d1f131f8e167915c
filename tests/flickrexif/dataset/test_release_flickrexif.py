"""FlickrExif releases: release folder, manifest, changelog, reproducibility, atomicity, load_dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flickrexif.dataset.builder import FlickrExifDataset
from flickrexif.dataset.spec import BuildConfig
from flickrexif.publish.folder import remove_stale_partials
from flickrexif.publish.manifest import MANIFEST_NAME, ReleaseError, read_manifest, verify_manifest
from flickrexif.publish.release import release as publish_release

REPO = Path(__file__).resolve().parents[3]
ATTRIBUTES = ("Make", "Is Smartphone", "Year")


def release(config, root, version, notes=()):
    """Release a FlickrExif build through the one release sequence."""
    return publish_release(FlickrExifDataset(config), root, version, notes)


@pytest.fixture(scope="module")
def config_for(crawled_db, small_specs):
    """``config_for(**overrides)``: a build of three attributes of the crawled fixture."""

    def make(**overrides) -> BuildConfig:
        settings = {"specs": small_specs, "attributes": ATTRIBUTES, **overrides}
        return BuildConfig(db=crawled_db.db, images=crawled_db.images, **settings)

    return make


@pytest.fixture(scope="module")
def released(config_for, tmp_path_factory):
    root = tmp_path_factory.mktemp("releases")
    return release(config_for(), root, "1.0.0", notes=("First release.",))


def test_release_folder_has_card_data_manifest_changelog_and_paper_splits(released, paper_splits_keys):
    folder = released.path
    assert folder.name == "v1.0.0" and released.version == "1.0.0"
    for name in ("README.md", "CHANGELOG.md", MANIFEST_NAME, "build_info.json"):
        assert (folder / name).is_file(), name
    assert verify_manifest(folder) == []
    manifest = read_manifest(folder)
    assert manifest["version"] == "1.0.0" and manifest["name"] == "FlickrExif"
    listed = {entry["path"] for entry in manifest["files"]}
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST_NAME}
    assert listed == on_disk
    changelog = (folder / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog\n\n## v1.0.0 (data as of ") and "- First release." in changelog
    for attribute in ATTRIBUTES:
        split_file = folder / "splits" / f"split_data_target_attribute={attribute}.json"
        data = json.loads(split_file.read_text())
        assert set(data) == paper_splits_keys
        assert all(isinstance(i, int) for i in data["train_ids"])
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_same_inputs_give_byte_identical_releases(released, config_for, tmp_path):
    again = release(config_for(), tmp_path, "1.0.0", notes=("First release.",))
    assert (again.path / MANIFEST_NAME).read_bytes() == (released.path / MANIFEST_NAME).read_bytes()
    assert verify_manifest(again.path) == []  # so every file's bytes are the same as well


def test_load_dataset_offline_gives_images_labels_and_owner_disjoint_splits(released, tmp_path):
    script = textwrap.dedent(f"""
        import json, datasets, PIL.Image
        ds = datasets.load_dataset({str(released.path)!r}, "Make", cache_dir={str(tmp_path / "cache")!r})
        out = {{"splits": sorted(ds), "names": ds["train"].features["label"].names,
                "label_type": type(ds["train"].features["label"]).__name__}}
        for split in ds:
            rows = ds[split]
            out[split] = {{"rows": len(rows), "owners": sorted(set(rows["owner"])),
                          "labels": list(rows["label"]), "makes": list(rows["make"])}}
        first = ds["test"][0]["image"]
        out["image"] = [isinstance(first, PIL.Image.Image), first.size, first.mode]
        print(json.dumps(out))
    """)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    make = next(c for c in released.contents.details.configs if c.name == "Make")
    assert out["splits"] == ["test", "train", "validation"]
    assert out["label_type"] == "ClassLabel" and out["names"] == list(make.classes)
    assert out["image"][0] is True and out["image"][1][0] > 0
    owners = {split: set(out[split]["owners"]) for split in ("train", "validation", "test")}
    assert not owners["train"] & owners["test"] and not owners["train"] & owners["validation"]
    assert not owners["validation"] & owners["test"]
    for split in ("train", "validation", "test"):
        assert [out["names"][label] for label in out[split]["labels"]] == out[split]["makes"]
        assert out[split]["rows"] == sum(make.class_counts[split].values())


def test_next_release_extends_the_changelog_and_versions_are_immutable(released, config_for):
    root = released.path.parent
    config = config_for(attributes=("Make", "Is Smartphone"), seed=5)
    with pytest.raises(ReleaseError, match="already exists"):
        release(config, root, "1.0.0")
    second = release(config, root, "v1.1.0")
    try:
        changelog = (second.path / "CHANGELOG.md").read_text()
        assert changelog.index("## v1.1.0") < changelog.index("## v1.0.0")
        assert "Year: removed" in changelog and "- First release." in changelog
        assert verify_manifest(released.path) == []
    finally:
        import shutil

        shutil.rmtree(second.path)


KILLER = """
import os, signal
from pathlib import Path
from flickrexif.dataset.builder import FlickrExifDataset
from flickrexif.dataset.spec import BuildConfig
from flickrexif.dataset.split import SplitSpec
from flickrexif.publish.release import release

def die(progress):
    if progress.config == "Is Smartphone":  # Make is written, this one half-way
        os.kill(os.getpid(), signal.SIGKILL)

spec = SplitSpec(top_k=6, min_photos=15, validation_per_class=3, test_per_class=4)
config = BuildConfig(db=Path({db!r}), images=Path({images!r}), specs=dict.fromkeys({attributes!r}, spec),
                     attributes={attributes!r})
release(FlickrExifDataset(config, on_progress=die), Path({root!r}), "2.0.0")
"""


def test_a_release_killed_half_way_leaves_the_previous_state_intact(released, crawled_db):
    root = released.path.parent
    before = {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*")}
    script = KILLER.format(db=str(crawled_db.db), images=str(crawled_db.images), attributes=ATTRIBUTES, root=str(root))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr[-2000:]
    assert not (root / "v2.0.0").exists()
    leftovers = [p for p in root.iterdir() if p.name.startswith(".v2.0.0.partial-")]
    assert leftovers and any(leftovers[0].rglob("*.parquet")), "the kill should have happened mid-build"
    assert {
        p.relative_to(root).as_posix(): p.stat().st_mtime_ns
        for p in root.rglob("*")
        if not p.relative_to(root).as_posix().startswith(".")
    } == before
    assert verify_manifest(released.path) == []
    assert remove_stale_partials(root) == leftovers and not leftovers[0].exists()
