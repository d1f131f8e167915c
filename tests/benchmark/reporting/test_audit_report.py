"""The dataset audits in ``trace-bench report``: a folder of audits alone, or beside results."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from benchmark.audit.audit import AuditOptions, run_audit
from benchmark.reporting.audit_report import flips_figure, lift_figure, read_audits
from benchmark.reporting.plots import FORMATS
from benchmark.reporting.report import results_table, write_report
from benchmark.sources.kinds import SourceOptions
from flickrexif.testing.labelled import labelled_photos


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    labelled_photos(root / "pets", per_class=16, confound=0.75, size=(64, 48))
    found = SourceOptions((str(root / "pets"),)).detect(str(root / "pets"))
    run_audit(found, AuditOptions(permutations=300), root / "results" / "pets-audit")
    return root / "results"


def test_a_folder_of_audits_alone_gets_its_section_and_figures(audited, tmp_path):
    summary, files = write_report(audited, tmp_path / "report")
    names = {f.name for f in files}
    assert "audit.md" in names and {f"audit-lift-pets.{e}" for e in FORMATS} <= names
    text = (tmp_path / "report" / "audit.md").read_text()
    assert "| Is Smartphone |" in text and "Most over-represented values per class" in text
    assert results_table(summary).startswith("### pets")  # what `trace-bench report` prints


def test_the_heat_map_shows_each_value_s_lift(audited):
    (audit,) = read_audits(audited)
    figure = lift_figure(audit)
    grid = figure.axes[0].images[0].get_array()
    table = audit["contingency"][audit["confounded"][0]]
    counts = np.asarray(table["counts"], dtype=float)
    lift = (counts / counts.sum(0)) / (counts.sum(1, keepdims=True) / counts.sum())
    first = int(np.argmax(counts.sum(1)))  # the most common value is the first row
    assert np.allclose(grid[0], np.log2(np.clip(lift[first], 1 / 8, 8)))
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels[0] == f"{audit['confounded'][0]} = {table['values'][first]}"


def test_audits_beside_results_are_appended_and_not_called_unreadable(audited, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(audited / "pets-audit", results / "pets-audit")
    result = {"task": "knn", "target": "jpeg", "encoder": "e", "dataset": "d", "seed": 0}
    result |= {"metrics": {"all-same@k10": 0.8, "spd_p@k10": 0.1}, "parameters": {"ks": [10]}}
    (results / "e").mkdir()
    (results / "e" / "knn-jpeg-seed0.json").write_text(json.dumps(result))
    summary, files = write_report(results)
    assert summary.unread == {} and (results / "report" / "audit.md") in files
    assert "## Dataset audit" in (results / "report" / "summary.md").read_text()


def test_the_flip_figure_has_a_bar_per_processing(audited):
    (audit,) = read_audits(audited)
    classes = {
        "none": {"flip_rate@k1": 0.02, "accuracy@k1": 0.8},
        "sharpness-x4": {"flip_rate@k1": 0.2, "accuracy@k1": 0.7},
    }
    audit["encoder"] = {
        "encoder": {"key": "planted"},
        "flips": {"unprocessed": {"accuracy@k1": 0.8}, "sharpening": {"classes": classes}},
    }
    axes = flips_figure(audit).axes[0]
    assert [round(bar.get_height(), 6) for bar in axes.patches] == [2.0, 20.0]


def test_the_heat_map_keeps_to_the_strongest_attributes(audited):
    (audit,) = read_audits(audited)
    shown = {t.get_text().split(" = ")[0] for t in lift_figure(audit).axes[0].get_yticklabels()}
    assert shown == set(audit["confounded"][:4]) and len(audit["confounded"]) > 4
