"""`flickrexif build`, `release` and `push` through the command line, then trace-bench on the release."""

from __future__ import annotations

import json

import datasets
import pytest
from typer.testing import CliRunner

from flickrexif.cli.app import app
from flickrexif.testing.hub import HubStandin

runner = CliRunner()
SPECS = {
    "Make": {"top_k": 6, "min_photos": 15, "val_per_class": 3, "test_per_class": 4},
    "Is Smartphone": {"top_k": 2, "min_photos": 15, "val_per_class": 3, "test_per_class": 4},
}


@pytest.fixture
def specs_file(tmp_path):
    path = tmp_path / "specs.json"
    path.write_text(json.dumps({"attributes": SPECS}))
    return path


def test_build_release_push_from_the_command_line(crawled_db, specs_file, tmp_path, monkeypatch):
    common = [
        "--db",
        str(crawled_db.db),
        "--images",
        str(crawled_db.images),
        "--specs",
        str(specs_file),
        "--attribute",
        "Make",
        "--attribute",
        "Is Smartphone",
    ]
    built = runner.invoke(app, ["build", *common, "--out", str(tmp_path / "built")])
    assert built.exit_code == 0, built.output
    assert "Make" in built.stdout and "load_dataset" in built.stderr

    releases = tmp_path / "releases"
    first = runner.invoke(app, ["release", *common, "--out", str(releases), "--version", "1.0.0", "--note", "first"])
    assert first.exit_code == 0, first.output
    folder = releases / "v1.0.0"
    assert (folder / "manifest.json").is_file() and "first" in (folder / "CHANGELOG.md").read_text()
    assert (folder / "splits" / "split_data_target_attribute=Make.json").is_file()
    again = runner.invoke(app, ["release", *common, "--out", str(releases), "--version", "1.0.0"])
    assert again.exit_code == 2

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    make = datasets.load_dataset(str(folder), "Make")
    assert set(make) == {"train", "validation", "test"}
    owners = [set(make[split]["owner"]) for split in make]
    assert not (owners[0] & owners[1] or owners[0] & owners[2] or owners[1] & owners[2])

    from benchmark.cli.app import app as bench_app  # the release is what trace-bench measures

    results = tmp_path / "results"
    bench = runner.invoke(
        bench_app,
        [
            "run",
            "-m",
            "random:resnet10t",
            "-d",
            str(folder),
            "-o",
            str(results),
            "--target",
            "Make",
            "--mask-ratio",
            "0.95",
        ],
    )
    assert bench.exit_code == 0, bench.output
    (result_file,) = results.rglob("probe-acquisition-Make-seed0.json")
    result = json.loads(result_file.read_text())
    assert (
        result["parameters"]["mask_ratio"] == 0.95
        and result["parameters"]["classes"] == make["train"].features["label"].names
    )

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    no_token = runner.invoke(app, ["push", str(folder), "--repo", "org/FlickrExif"], env={"HF_TOKEN": ""})
    assert no_token.exit_code == 2 and "HF_TOKEN" in no_token.stderr
    with HubStandin(token="hf_test") as hub:
        pushed = runner.invoke(
            app, ["push", str(folder), "--repo", "org/FlickrExif", "--endpoint", hub.url], env={"HF_TOKEN": "hf_test"}
        )
        assert pushed.exit_code == 0, pushed.output
        assert "tag v1.0.0" in pushed.stderr


def test_release_with_bad_version_is_refused(crawled_db, specs_file, tmp_path):
    result = runner.invoke(
        app,
        [
            "release",
            "--db",
            str(crawled_db.db),
            "--images",
            str(crawled_db.images),
            "--specs",
            str(specs_file),
            "--out",
            str(tmp_path),
            "--version",
            "one",
        ],
    )
    assert result.exit_code == 2 and "version" in result.stderr.lower()


def test_a_small_crawl_with_the_default_thresholds_gets_one_summary_naming_them(crawled_db, tmp_path):
    result = runner.invoke(
        app,
        ["release", "--db", str(crawled_db.db), "--images", str(crawled_db.images),
         "--out", str(tmp_path / "releases"), "--version", "1.0.0"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    text = " ".join(result.stderr.split())
    assert text.count("class(es) qualify") == 1, text
    assert "Make (top_k 9, min_photos 1500, val/test per class 200/500)" in text
    assert "Flash (top_k 2, min_photos 4000" in text and "--specs FILE" in text


def test_release_removes_a_killed_releases_leftover_and_says_so(crawled_db, specs_file, tmp_path):
    import os
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    releases = tmp_path / "releases"
    stale = releases / f".v0.9.0.partial-{process.pid}"
    running = releases / f".v0.9.1.partial-{os.getpid()}"
    for folder in (stale, running):
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "photos.parquet").write_bytes(b"x" * 1_500_000)
    result = runner.invoke(
        app,
        ["release", "--db", str(crawled_db.db), "--images", str(crawled_db.images), "--specs", str(specs_file),
         "--attribute", "Make", "--out", str(releases), "--version", "1.0.0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not stale.exists() and running.is_dir() and (releases / "v1.0.0" / "manifest.json").is_file()
    text = " ".join(result.stderr.split())
    assert (
        text.count("Removed ") == 1 and f"Removed {stale} (1.5 MB), left by a build or release that was killed" in text
    )


def test_push_failures_are_messages_and_a_rerun_tags_the_landed_commit(crawled_db, specs_file, tmp_path):
    releases = tmp_path / "releases"
    made = runner.invoke(
        app,
        ["release", "--db", str(crawled_db.db), "--images", str(crawled_db.images), "--specs", str(specs_file),
         "--attribute", "Make", "--out", str(releases), "--version", "1.0.0"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    env = {"HF_TOKEN": "hf_test", "HF_HUB_OFFLINE": "", "HF_DATASETS_OFFLINE": ""}
    with HubStandin(token="hf_test") as hub:
        args = ["push", str(releases / "v1.0.0"), "--repo", "org/FlickrExif", "--endpoint", hub.url]
        hub.fail("tag", None)  # the connection drops while tagging
        dropped = runner.invoke(app, args, env=env)
        assert dropped.exit_code == 2 and isinstance(dropped.exception, SystemExit), dropped.output
        text = " ".join(dropped.stderr.split())
        assert "was lost while tagging" in text and "run the same push again to tag that commit" in text
        assert "Traceback" not in dropped.output
        again = runner.invoke(app, args, env=env)
        assert again.exit_code == 0, again.output
        assert "already holds the release (nothing committed again)" in " ".join(again.stderr.split())
        repo = hub.repos["org/FlickrExif"]
        assert list(repo.tags) == ["v1.0.0"] and len(repo.commits) == 2  # the initial commit and the release
