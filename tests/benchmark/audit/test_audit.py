"""The audit on generated sets: a planted camera confound is found (and named per class), its control is
not; bad input is one line and exit code 2 before any work; audit.json and audit.md."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from benchmark.audit.audit import AuditOptions, run_audit
from benchmark.cli.app import app
from benchmark.errors import UsageError
from benchmark.protocols.erasers import EraserOptions
from benchmark.sources.kinds import SourceOptions
from benchmark.testing.datasets import tiny_class_folder

runner = CliRunner()
CAMERA = ("Make", "Model", "Is Smartphone", "JPEG Quality")


def audit_of(folder, out, **options) -> dict:
    found = SourceOptions((str(folder),)).detect(str(folder))
    files = run_audit(found, AuditOptions(**options), out)
    return json.loads(files[0].read_text()) | {"_card": files[1].read_text()}


def test_a_set_whose_classes_follow_the_camera_is_confounded(confounded_set, tmp_path):
    root, _ = confounded_set
    audit = audit_of(root, tmp_path / "audit", permutations=300)
    by_name = {entry["attribute"]: entry for entry in audit["associations"]}
    for attribute in CAMERA:
        entry = by_name[attribute]
        assert entry["confounded"] and entry["cramers_v"] > 0.6 and entry["p_value"] < 0.05, entry
        assert entry["p_value"] == pytest.approx(1 / 301) and entry["known"] == 64
    for attribute in ("Exposure", "ISO Speed", "Year", "Format"):  # what the cameras share, or what varies alike
        assert not by_name[attribute]["confounded"], by_name[attribute]
    assert audit["shortcut"]["accuracy"] > 0.85 > 0.6 > audit["shortcut"]["majority_baseline"]
    # the per-class table names the right class: husky is the phone class, wolf the camera class
    top = {label: values[0] for label, values in audit["over_represented"].items()}
    assert (top["husky"]["attribute"], top["husky"]["value"]) == ("Is Smartphone", "True")
    assert (top["wolf"]["attribute"], top["wolf"]["value"]) == ("Is Smartphone", "False")
    assert top["husky"]["class_share"] > 0.85 and top["husky"]["lift"] > 1.6
    assert "Is Smartphone" in audit["_card"] and "of `husky` images have Is Smartphone = True" in audit["_card"]


def test_its_control_with_cameras_dealt_alike_to_every_class_is_not(control_set, tmp_path):
    root, _ = control_set
    audit = audit_of(root, tmp_path / "audit", permutations=300)
    by_name = {entry["attribute"]: entry for entry in audit["associations"]}
    for attribute in CAMERA:
        assert by_name[attribute]["p_value"] > 0.05 and by_name[attribute]["cramers_v"] < 0.1, by_name[attribute]
    assert audit["confounded"] == [] and "No metadata attribute is associated" in audit["_card"]
    assert audit["shortcut"]["accuracy"] <= audit["shortcut"]["majority_baseline"] + 0.1


def test_audit_json_records_the_dataset_and_parameters(confounded_set, tmp_path):
    root, _ = confounded_set
    audit = audit_of(root, tmp_path / "audit", permutations=300, seed=3)
    assert audit["dataset"]["kind"] == "image-folder" and audit["dataset"]["fingerprint"]
    assert audit["dataset"]["class_counts"] == {"husky": 32, "wolf": 32}
    assert audit["parameters"]["seed"] == 3 and audit["parameters"]["permutations"] == 300
    table = audit["contingency"]["Is Smartphone"]
    assert table["classes"] == ["husky", "wolf"] and sum(map(sum, table["counts"])) == 64
    assert "encoder" not in audit  # no --model: the metadata alone


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    one_class = tiny_class_folder(tmp_path / "one", classes=("cats",))
    flat = tmp_path / "flat"
    flat.mkdir()
    tiny_class_folder(tmp_path / "x")
    for image in (tmp_path / "x" / "red").iterdir():
        image.rename(flat / image.name)
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = {
        str(one_class): "one class",
        str(flat): "no classes",
        str(empty): "no images",
    }
    for dataset, message in cases.items():
        done = runner.invoke(app, ["audit", "--dataset", dataset, "--out", str(tmp_path / "out")])
        assert done.exit_code == 2 and message in done.output and "Traceback" not in done.output, done.output
    folder = tiny_class_folder(tmp_path / "two")
    for extra, message in (
        (["--mitigate"], "give --model"),
        (["--label-column", "species"], "--label-column"),
        (["--permutations", "5"], "--permutations"),
        (["--model", "no-such-encoder"], "no-such-encoder"),
    ):
        done = runner.invoke(app, ["audit", "--dataset", str(folder), "--out", str(tmp_path / "o2"), *extra])
        assert done.exit_code == 2 and message in done.output, (extra, done.output)
    assert not (tmp_path / "o2" / "audit.json").exists()  # refused before any work


def test_an_unreadable_image_is_counted_and_named_never_fatal(confounded_set, tmp_path):
    root, _ = confounded_set
    import shutil

    copy = tmp_path / "pets"
    shutil.copytree(root, copy)
    (copy / "wolf" / "wolf-999.jpg").write_bytes(b"\xff\xd8 truncated")
    (copy / "husky" / "folder.jpg").mkdir()  # left out by the source, named beside the unreadable file
    done = runner.invoke(
        app, ["audit", "--dataset", str(copy), "--out", str(tmp_path / "out"), "--permutations", "300"]
    )
    assert done.exit_code == 0, done.output
    audit = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert (
        audit["dataset"]["unreadable"]["count"] == 1 and "wolf/wolf-999.jpg" in audit["dataset"]["unreadable"]["first"]
    )
    assert audit["dataset"]["audited"] == 64 and "2 images could not be read" in done.output, done.output
    assert "husky/folder.jpg: a folder" in done.output and "wolf/wolf-999.jpg" in done.output, done.output
    assert "Is Smartphone" in done.output and "confounded" in done.output  # the table on stdout


def test_options_are_checked_where_they_enter():
    with pytest.raises(UsageError, match="--family"):
        AuditOptions(families=("blur",))
    with pytest.raises(UsageError, match="paired"):
        AuditOptions(mitigate=True, eraser=EraserOptions(method="paired"))
    with pytest.raises(UsageError, match="280 or more"):  # 14 attributes, Holm: p can reach 0.05 from 280 on
        AuditOptions(permutations=100)


def test_a_hugging_face_dataset_is_audited_by_the_column_the_user_names(species_dataset, tmp_path):
    out = tmp_path / "out"
    done = runner.invoke(app, ["audit", "--dataset", str(species_dataset), "--out", str(out)])
    assert done.exit_code == 2 and "--label-column" in done.output and "species" in done.output, done.output
    done = runner.invoke(app, ["audit", "-d", str(species_dataset), "--label-column", "species", "--out", str(out)])
    assert done.exit_code == 0, done.output
    audit = json.loads((out / "audit.json").read_text())
    assert audit["dataset"]["label_column"] == "species" and audit["dataset"]["kind"] == "hf-dataset"
    assert "Is Smartphone" in audit["confounded"] and audit["dataset"]["class_counts"] == {"husky": 8, "wolf": 8}
