"""paircams release / push: load_dataset offline, byte-identical rebuilds, no GPS or serials, atomicity, Hub."""

from __future__ import annotations

import io
import json
import shutil

import datasets
import huggingface_hub.constants
import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

from flickrexif.publish import parquet
from flickrexif.publish.hub import PushConfig, push_release
from flickrexif.publish.manifest import MANIFEST_NAME, ReleaseError, read_manifest, verify_manifest
from flickrexif.publish.release import BUILD_INFO_NAME as BUILD_INFO
from flickrexif.publish.release import release as publish_release
from flickrexif.testing.hub import HubStandin
from paircams.cli import app
from paircams.dataset import FEATURES, PairCamsDataset
from paircams.ingest import IngestConfig, PhotoChangedError, ingest

TOKEN = "hf_paircams_token"
REPO = "paircams-org/PairCams"
OFFICIAL_COLUMNS = {"image", "subject_idx", "model"}


def release(ingested, releases, version, notes=()):
    """Release an ingested folder through the one release sequence."""
    return publish_release(PairCamsDataset(ingested), releases, version, notes)


@pytest.fixture(scope="module")
def released(ingested, tmp_path_factory):
    _, folder, _ = ingested
    return release(folder, tmp_path_factory.mktemp("releases"), "1.0.0", notes=("First.",))


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network for `datasets` or the Hub client, and caches in tmp_path."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "cache"


def shard_bytes(folder) -> bytes:
    return b"".join(path.read_bytes() for path in sorted((folder / "data").glob("*.parquet")))


def test_release_folder_has_data_card_changelog_and_manifest(released):
    folder = released.path
    assert folder.name == "v1.0.0" and released.contents.details == {"subjects": 3, "rows": 6}
    for name in ("README.md", "CHANGELOG.md", MANIFEST_NAME, BUILD_INFO, "data/train-00000-of-00001.parquet"):
        assert (folder / name).is_file(), name
    assert verify_manifest(folder) == []
    manifest = read_manifest(folder)
    assert manifest["name"] == "PairCams" and manifest["version"] == "1.0.0" and manifest["subjects"] == 3
    changelog = (folder / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog\n\n## v1.0.0 (data as of 2024-05-01)") and "- First." in changelog
    card = (folder / "README.md").read_text()
    assert "config_name: default" in card and "- split: train" in card and "pillow_heif" in card
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_load_dataset_offline_gives_decoded_images_and_typed_columns(released, offline):
    ds = datasets.load_dataset(str(released.path), split="train", cache_dir=str(offline))
    assert OFFICIAL_COLUMNS <= set(ds.column_names) and ds.features == FEATURES
    rows = list(ds)
    assert [(r["subject_idx"], r["camera_type"]) for r in rows] == [
        (0, "camera"),
        (0, "smartphone"),
        (1, "camera"),
        (1, "smartphone"),
        (2, "camera"),
        (2, "smartphone"),
    ]
    assert all(isinstance(r["subject_idx"], int) and isinstance(r["model"], str) for r in rows)
    assert [r["model"] for r in rows[:4]] == ["Canon EOS 40D", "iPhone 12", "NIKON D70", "SM-G991B"]
    assert [r["is_smartphone"] for r in rows[:2]] == [False, True]
    for row in rows:
        assert isinstance(row["image"], Image.Image) and row["image"].size == (48, 32)
    heic = rows[3]
    assert heic["image_format"] == "HEIF" and heic["make"] == "Samsung" and heic["jpeg_quality"] is None
    camera = rows[0]
    assert camera["exif_exposure_time"] == "1/125" and camera["exif_f_number"] == 2.8 and camera["exif_iso"] == 200
    assert camera["exposure"] == "1/125" and camera["focal_length"] == "50 mm" and camera["jpeg_quality"] == 90
    assert camera["datetime_original"] == "2024-05-01T10:00:04" and camera["capture_delta_s"] == 4.0


def test_published_bytes_carry_no_gps_or_serial_and_keep_the_pixels(released, ingested, kit):
    source, _, result = ingested
    originals = [source / p.path for s in result.subjects for p in s.photos]
    assert all(kit.serial.encode() in path.read_bytes() for path in originals)  # the test photos have them
    published = shard_bytes(released.path)
    assert kit.serial.encode() not in published and kit.gps_datum.encode() not in published
    table = pq.read_table(released.path / "data" / "train-00000-of-00001.parquet")
    for original, image in zip(originals, table.column("image").to_pylist()):
        with Image.open(io.BytesIO(image["bytes"])) as clean, Image.open(original) as raw:
            assert not clean.getexif().get_ifd(0x8825) and clean.getexif()[0x0110] == raw.getexif()[0x0110]
            assert clean.tobytes() == raw.tobytes()  # same coded image: same pixels


def test_rebuilds_are_byte_identical_even_from_a_new_ingest(released, ingested, tmp_path):
    source, folder, _ = ingested
    again = release(folder, tmp_path / "a", "1.0.0", notes=("First.",))
    assert (again.path / MANIFEST_NAME).read_bytes() == (released.path / MANIFEST_NAME).read_bytes()
    assert verify_manifest(again.path) == []  # every file's bytes match the same checksums
    reingested = ingest(IngestConfig(source, tmp_path / "ingested-again"))
    third = release(reingested.out, tmp_path / "b", "1.0.0", notes=("First.",))
    assert (third.path / MANIFEST_NAME).read_bytes() == (released.path / MANIFEST_NAME).read_bytes()


def test_an_interrupted_release_leaves_no_release_folder(ingested, tmp_path, monkeypatch):
    _, folder, _ = ingested
    real = parquet.write_split

    def dies_midway(rows, *args, **kwargs):
        def some_rows():
            for count, row in enumerate(rows):
                if count == 3:
                    raise KeyboardInterrupt
                yield row

        return real(some_rows(), *args, **kwargs)

    monkeypatch.setattr(parquet, "write_split", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        release(folder, tmp_path / "releases", "1.0.0")
    assert list((tmp_path / "releases").iterdir()) == []
    monkeypatch.setattr(parquet, "write_split", real)
    assert release(folder, tmp_path / "releases", "1.0.0").contents.details["rows"] == 6


def test_a_photo_changed_after_ingest_stops_the_release(folders_dir, tmp_path, kit):
    result = ingest(IngestConfig(folders_dir, tmp_path / "ingested"))
    changed = folders_dir / result.subjects[1].photos[0].path
    kit.write(changed, kit.camera_b, kit.t0, seed=77)
    with pytest.raises(PhotoChangedError, match="changed since it was ingested"):
        release(tmp_path / "ingested", tmp_path / "releases", "1.0.0")
    assert not (tmp_path / "releases" / "v1.0.0").exists()
    runner = CliRunner()
    done = runner.invoke(
        app, ["release", str(tmp_path / "ingested"), "--out", str(tmp_path / "releases"), "--version", "1.0.0"]
    )
    assert done.exit_code == 1 and "changed since it was ingested" in done.output


def test_next_release_changelog_says_what_changed(folders_dir, tmp_path, kit):
    out, releases = tmp_path / "ingested", tmp_path / "releases"
    ingest(IngestConfig(folders_dir, out))
    first = release(out, releases, "1.0.0")
    shutil.rmtree(folders_dir / "s01")
    kit.write(folders_dir / "s03" / "camera.jpg", kit.camera_a, kit.t0, seed=3)
    ingest(IngestConfig(folders_dir, out))
    second = release(out, releases, "1.1.0", notes=("s03 completed.",))
    changelog = (second.path / "CHANGELOG.md").read_text()
    assert changelog.index("## v1.1.0") < changelog.index("## v1.0.0")
    assert "subjects added since v1.0.0: 1 (3)" in changelog and "subjects removed since v1.0.0: 1 (0)" in changelog
    assert json.loads((second.path / BUILD_INFO).read_text())["subject_idx"] == [1, 2, 3]
    assert verify_manifest(first.path) == []  # the earlier release is untouched
    with pytest.raises(ReleaseError, match="already exists"):
        release(out, releases, "1.1.0")


def test_cli_release_and_errors(ingested, tmp_path):
    _, folder, _ = ingested
    runner = CliRunner()
    args = ["release", str(folder), "--out", str(tmp_path / "rel"), "--version", "2.0.0", "--note", "Hello."]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "3 subjects, 6 rows" in done.output and (tmp_path / "rel" / "v2.0.0" / MANIFEST_NAME).is_file()
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already exists" in again.output
    bad = runner.invoke(app, ["release", str(folder), "--out", str(tmp_path / "rel"), "--version", "2.0"])
    assert bad.exit_code == 2
    missing = runner.invoke(app, ["release", str(tmp_path), "--out", str(tmp_path / "rel"), "--version", "3.0.0"])
    assert missing.exit_code == 2 and "pairs.json" in missing.output


@pytest.fixture
def hub(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with HubStandin(token=TOKEN) as server:
        yield server


def test_push_to_the_loopback_hub_commits_the_release_and_tags_it(released, hub, tmp_path):
    result = push_release(PushConfig(released.path, REPO, token=TOKEN, endpoint=hub.url))
    repo = hub.repos[REPO]
    assert result.tag == "v1.0.0" and repo.tags == {"v1.0.0": result.commit}
    assert repo.commits[result.commit].message == "PairCams v1.0.0"
    files = repo.files_at("v1.0.0")
    expected = {entry["path"] for entry in read_manifest(released.path)["files"]} | {MANIFEST_NAME}
    assert set(files) - {".gitattributes"} == expected
    for path in expected - {"README.md", MANIFEST_NAME}:
        assert files[path] == (released.path / path).read_bytes(), path
    card = (released.path / "README.md").read_bytes()  # pushed, the card's load_dataset line names the repo
    assert files["README.md"] == card.replace(b"<this repository>", REPO.encode()) != card
    pushed = tmp_path / "pushed"
    for path in expected:
        (pushed / path).parent.mkdir(parents=True, exist_ok=True)
        (pushed / path).write_bytes(files[path])
    assert verify_manifest(pushed) == []


def test_cli_push_uses_hf_token_and_refuses_a_published_version(released, hub):
    runner = CliRunner()
    args = ["push", str(released.path), "--repo", REPO, "--endpoint", hub.url]
    no_token = runner.invoke(app, args)
    assert no_token.exit_code == 2 and "HF_TOKEN" in no_token.output and REPO not in hub.repos
    done = runner.invoke(app, args, env={"HF_TOKEN": TOKEN})
    assert done.exit_code == 0, done.output
    assert "as v1.0.0" in done.output and "v1.0.0" in hub.repos[REPO].tags
    again = runner.invoke(app, args, env={"HF_TOKEN": TOKEN})
    assert again.exit_code == 2 and "already has tag v1.0.0" in again.output


def test_trace_bench_retrieval_on_the_release(released, tmp_path):
    """The release is what trace-bench's retrieval task reads: pairs found, recall computed, recorded."""
    from benchmark.cli.app import app as bench_app

    out = tmp_path / "results"
    result = CliRunner().invoke(
        bench_app, ["retrieval", "-m", "random:resnet10t", "-d", str(released.path), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    (path,) = out.rglob("retrieval-paircams-seed0.json")
    data = json.loads(path.read_text())
    assert data["parameters"]["n_subjects"] >= 2
    assert {"recall_same_as_query", "recall_same_as_target", "spd_a"} <= set(data["metrics"])


def test_the_card_names_its_license_and_states_its_limitations(released, ingested, tmp_path):
    card = (released.path / "README.md").read_text()
    front = card.split("---\n", 2)[1]
    assert "license: other" in front and "license_name: unspecified" in front  # the Hub needs a name for "other"
    assert "## License" in card and "No license was named for this release" in card
    assert "## Limitations and biases" in card
    _, folder, _ = ingested
    named = publish_release(PairCamsDataset(folder, license="cc-by-4.0"), tmp_path, "1.0.0")
    card = (named.path / "README.md").read_text()
    assert "license: cc-by-4.0" in card and "license_name" not in card
    assert "released under the `cc-by-4.0` license" in card
