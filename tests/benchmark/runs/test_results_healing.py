"""Results that heal and a report that never blocks: an unreadable result is computed again under
--skip-existing; `report` names every file it cannot read and never opens a FIFO; name templates keep
results apart and inside --out."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from benchmark.cli.app import app
from benchmark.runs.results import ResultStore
from benchmark.testing.datasets import split_folder

MODEL = "random:resnet10t"
runner = CliRunner()


def knn(folder, out, *extra):
    args = ["knn", "--model", MODEL, "--dataset", str(folder), "--out", str(out), "--family", "sharpening"]
    return runner.invoke(app, [*args, "--device", "cpu", *extra])


@pytest.fixture
def finished(tmp_path):
    folder = split_folder(tmp_path / "imagenet", per_class=(4, 2))
    out = tmp_path / "out"
    assert knn(folder, out).exit_code == 0
    (result,) = out.rglob("knn-*.json")
    return folder, out, result


def test_skip_existing_computes_an_unreadable_result_again(finished):
    folder, out, result = finished
    good = json.loads(result.read_text())
    result.write_text(result.read_text()[:50])  # a disk that filled mid-write (before writes were atomic)
    done = knn(folder, out, "--skip-existing")
    assert done.exit_code == 0, done.output
    assert "does not read: computed again" in done.output
    assert json.loads(result.read_text())["metrics"] == good["metrics"]
    kept = result.stat().st_mtime_ns
    assert knn(folder, out, "--skip-existing").exit_code == 0 and result.stat().st_mtime_ns == kept  # kept now


def test_report_names_what_it_cannot_read_and_never_blocks_on_a_fifo(finished):
    _, out, _ = finished
    (out / "broken.json").write_text('{"task": "knn", ')
    (out / "list.json").write_text("[1, 2]")
    (out / "no-metrics.json").write_text(json.dumps({"task": "knn", "target": "jpeg", "metrics": "high"}))
    os.mkfifo(out / "pipe.json")
    done = runner.invoke(app, ["report", str(out)])
    assert done.exit_code == 0, done.output
    assert "4 files under" in done.output and "are not results and were skipped" in done.output
    assert "pipe.json: not a regular file" in done.output and "broken.json: does not read as JSON" in done.output
    assert (out / "report" / "summary.md").is_file()


def test_report_of_a_folder_that_is_not_there_is_one_line(tmp_path):
    done = runner.invoke(app, ["report", str(tmp_path / "nowhere")])
    assert done.exit_code == 2 and done.output.strip() == f"no results folder {tmp_path / 'nowhere'}"
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("/abs/{encoder}-{seed}.json", "result names stay inside --out"),
        ("../escape/{task}-{target}-{seed}.json", "result names stay inside --out"),
        ("{nope}.json", "does not format"),
        ("{encoder}/{task}-{target}.json", "gives two results the same file (knn-sharpening.json); add {seed}"),
    ],
)
def test_a_name_template_must_keep_results_apart_and_inside_out(tmp_path, template, message):
    folder = split_folder(tmp_path / "imagenet", per_class=(4, 2))
    done = knn(folder, tmp_path / "out", "--seed", "0", "--seed", "1", "--name-template", template)
    assert done.exit_code == 2 and message in done.output, done.output
    assert not (tmp_path / "escape").exists() and not list((tmp_path / "out").rglob("*.json"))


def test_the_template_check_names_every_field_that_varies():
    store = ResultStore(root=__import__("pathlib").Path("out"), template="{task}.json")
    runs = [
        {"encoder": "a", "dataset": "d", "task": "knn", "target": "jpeg", "seed": 0},
        {"encoder": "b", "dataset": "d", "task": "knn", "target": "resizing", "seed": 0},
    ]
    with pytest.raises(ValueError, match=r"add \{encoder\}, \{target\}"):
        store.check_distinct(runs)


@pytest.mark.parametrize("kind", ["file", "cache-file"])
def test_an_out_or_cache_that_cannot_be_written_is_found_before_the_model_loads(tmp_path, kind):
    folder = split_folder(tmp_path / "imagenet", per_class=(4, 2))
    (tmp_path / "taken").write_text("a file")
    if kind == "file":
        done = knn(folder, tmp_path / "taken")
        assert done.exit_code == 2 and "--out" in done.output and "is a file, not a folder" in done.output
    else:
        done = knn(folder, tmp_path / "out", "--cache", str(tmp_path / "taken"))
        assert done.exit_code == 2 and "--cache" in done.output and "is a file, not a folder" in done.output
    assert "Encoder" not in done.output  # nothing was loaded
