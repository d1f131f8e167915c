"""``trace-bench report`` on generated result JSON (no model): keys, figures, the paper table."""

from __future__ import annotations

import csv
import json
import shutil
import statistics
from pathlib import Path

import pytest
from matplotlib.container import ErrorbarContainer

from benchmark.reporting.plots import FORMATS, probe_figure, report_figures, retrieval_figure
from benchmark.reporting.report import markdown_table, paper_markdown, paper_tables, summarise, write_report


def put(root: Path, encoder: str, group: str | None, dataset: str, task: str, target: str, seed: int, **record):
    """One result JSON as ``trace-bench run`` writes it."""
    result = {
        "task": task,
        "target": target,
        "encoder": encoder,
        "encoder_group": group,
        "dataset": dataset,
        "seed": seed,
        "metrics": record.pop("metrics"),
        "parameters": record.pop("parameters", {"seed": seed}),
        "details": record.pop("details", {}),
        **record,
    }
    path = root / encoder / dataset / f"{task}-{target}-seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))


def probe(root, encoder, group, dataset, accuracies, *, task="probe-processing", target="jpeg", chance=0.25, **extra):
    for seed, accuracy in enumerate(accuracies):
        metrics = {"accuracy": accuracy, "mean_per_class_accuracy": accuracy, "chance": chance, **extra}
        put(root, encoder, group, dataset, task, target, seed, metrics=metrics, details={"n_test": 1000})


def retrieval(root, encoder, group, dataset, query, target, seeds=1):
    for seed in range(seeds):
        metrics = {"recall_same_as_query": query, "recall_same_as_target": target, "spd_a": target - query}
        put(root, encoder, group, dataset, "retrieval", "paircams", seed, metrics=metrics, details={"n_subjects": 50})


def knn(root, encoder, group, dataset, spd, family="jpeg"):
    metrics = {"all-same@k10": 0.8, "spd_p@k10": spd, "pos-same@k10": 0.8, "neg-same@k10": 0.8 - spd}
    put(root, encoder, group, dataset, "knn", family, 0, metrics=metrics, parameters={"ks": [10]})


def test_two_datasets_in_one_folder_give_two_rows_per_encoder(tmp_path):
    probe(tmp_path, "enc-a", "SUP", "photos", [0.70, 0.74])
    probe(tmp_path, "enc-a", "SUP", "imagenet", [0.90, 0.92])
    probe(tmp_path, "enc-b", "CVL", "photos", [0.40, 0.44])
    probe(tmp_path, "enc-b", "CVL", "imagenet", [0.60, 0.62])
    summary, files = write_report(tmp_path)
    rows = {(r["encoder"], r["dataset"]): r for r in summary.table_rows}
    assert set(rows) == {(e, d) for e in ("enc-a", "enc-b") for d in ("photos", "imagenet")}
    assert rows[("enc-a", "photos")]["probe-processing:jpeg MP"] == pytest.approx(0.72)
    assert rows[("enc-a", "imagenet")]["probe-processing:jpeg MP"] == pytest.approx(0.91)
    assert rows[("enc-a", "photos")]["probe-processing:jpeg MP std"] == pytest.approx(statistics.stdev([0.70, 0.74]))
    table = markdown_table(summary)
    assert table.startswith("| encoder | group | dataset | probe-processing:jpeg MP |")
    assert "| enc-a | SUP | imagenet | 0.910 |" in table and "| enc-a | SUP | photos | 0.720 |" in table
    report = tmp_path / "report"
    with (report / "summary.csv").open() as file:
        written = list(csv.DictReader(file))
    assert {(r["encoder"], r["dataset"]) for r in written} == set(rows)
    assert "probe-processing:jpeg MP std" in written[0]
    with (report / "metrics.csv").open() as file:
        long = [r for r in csv.DictReader(file) if r["metric"] == "accuracy"]
    assert len(long) == 4 and {r["n_test"] for r in long} == {"1000"} and {r["seeds"] for r in long} == {"2"}
    # One figure per dataset (the task and target ran on two), in every format.
    for dataset in ("photos", "imagenet"):
        for extension in FORMATS:
            path = report / f"probe-processing-jpeg-{dataset}.{extension}"
            assert path.is_file() and path.stat().st_size > 0 and path in files
    assert not (report / "probe-processing-jpeg.png").exists()


def test_figure_names_hold_the_dataset_and_a_new_dataset_renames_none(tmp_path):
    probe(tmp_path, "enc-a", "SUP", "FlickrExif", [0.5], task="probe-acquisition", target="Make", chance=0.1)
    retrieval(tmp_path, "enc-a", "SUP", "PairCams", 0.5, 0.7)
    _, files = write_report(tmp_path)
    stems = ("probe-acquisition-Make-FlickrExif", "retrieval-paircams-PairCams")
    assert {f"{stem}.{ext}" for stem in stems for ext in FORMATS} <= {p.name for p in files}
    summary_md = (tmp_path / "report" / "summary.md").read_text()
    assert summary_md.startswith("| encoder | group |")
    assert "probe-acquisition:Make MP" in summary_md and "retrieval:paircams SPD_a" in summary_md
    probe(tmp_path, "enc-a", "SUP", "FlickrExif-v2", [0.6], task="probe-acquisition", target="Make", chance=0.1)
    _, again = write_report(tmp_path)
    assert {p.name for p in files} <= {p.name for p in again}  # nothing renamed
    (tmp_path / "report" / "mine.txt").write_text("a note of the user's")
    shutil.rmtree(tmp_path / "enc-a" / "FlickrExif-v2")  # its results are gone: its figures go at the next report
    _, third = write_report(tmp_path)
    left = {p.name for p in (tmp_path / "report").iterdir()}
    assert not any("FlickrExif-v2" in name for name in left) and "mine.txt" in left
    assert {p.name for p in third} <= left


def _figure(root: Path, stem: str):
    return dict(report_figures(summarise(root).long_rows))[stem]


def test_probe_figure_has_chance_line_error_bars_group_legend_and_title(tmp_path):
    probe(tmp_path, "enc-cvl", "CVL", "photos", [0.70, 0.74])
    probe(tmp_path, "enc-sup", "SUP", "photos", [0.50, 0.56])
    probe(tmp_path, "enc-none", None, "photos", [0.30, 0.30])
    axes = _figure(tmp_path, "probe-processing-jpeg-photos").axes[0]
    chance = [line for line in axes.get_lines() if line.get_label().startswith("chance")]
    assert len(chance) == 1 and list(chance[0].get_ydata()) == [25.0, 25.0]
    # Bars in group order (SUP, CVL, then no group), each with one std over seeds as error bar.
    assert [t.get_text() for t in axes.get_xticklabels()] == ["enc-sup", "enc-cvl", "enc-none"]
    (bars,) = [c for c in axes.containers if isinstance(c, ErrorbarContainer)]
    (segments,) = bars.lines[2]
    half = [(s[1][1] - s[0][1]) / 2 for s in segments.get_segments()]
    expected = [100 * statistics.stdev(v) for v in ([0.50, 0.56], [0.70, 0.74], [0.30, 0.30])]
    assert half == pytest.approx(expected)
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert legend == ["SUP", "CVL", "no group", "± 1 std over seeds", "chance (25.0%)"]
    title = axes.get_title()
    assert "probe-processing: jpeg" in title and "photos" in title
    assert "1,000 test samples" in title and "2 seeds" in title


def test_one_seed_error_bars_are_the_refits_spread(tmp_path):
    probe(tmp_path, "enc", "SSL", "imagenet", [0.8], accuracy_std=0.01)
    figure = probe_figure(
        [r for r in summarise(tmp_path).long_rows if r["task"] == "probe-processing"],
        "probe-processing",
        "jpeg",
        "imagenet",
    )
    axes = figure.axes[0]
    (bars,) = [c for c in axes.containers if isinstance(c, ErrorbarContainer)]
    (segment,) = bars.lines[2][0].get_segments()
    assert (segment[1][1] - segment[0][1]) / 2 == pytest.approx(1.0)
    assert "± 1 std over refits" in [t.get_text() for t in axes.get_legend().get_texts()]
    assert "1 seed" in axes.get_title() and "1 seeds" not in axes.get_title()


def test_retrieval_figure_shows_every_point_the_y_equals_x_line_and_a_legend(tmp_path):
    retrieval(tmp_path, "perfect", "SUP", "PairCams", 1.0, 1.0)
    retrieval(tmp_path, "biased", "CVL", "PairCams", 0.0, 0.9)
    retrieval(tmp_path, "spread", "SSL", "PairCams", 0.3, 0.4, seeds=2)
    rows = [r for r in summarise(tmp_path).long_rows if r["task"] == "retrieval"]
    axes = retrieval_figure(rows, "paircams", "PairCams").axes[0]
    (x_low, x_high), (y_low, y_high) = axes.get_xlim(), axes.get_ylim()
    points = [(100 * x, 100 * y) for x, y in ((1.0, 1.0), (0.0, 0.9), (0.3, 0.4))]
    assert all(x_low < x < x_high and y_low < y < y_high for x, y in points)
    (diagonal,) = [line for line in axes.get_lines() if line.get_gid() == "y=x"]
    assert tuple(diagonal.get_xdata()) == tuple(diagonal.get_ydata()) == (x_low, x_high)
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert legend[:3] == ["SUP", "SSL", "CVL"] and any("y = x" in text for text in legend)
    assert {t.get_text() for t in axes.texts} == {"perfect", "biased", "spread"}
    assert "PairCams" in axes.get_title() and "50 pairs" in axes.get_title() and "1–2 seeds" in axes.get_title()


def _paper_folder(root: Path) -> None:
    members = [("z-sup", "SUP"), ("m-ssl", "SSL"), ("a-cvl", "CVL"), ("b-ssl", "SSL"), ("other", None)]
    for i, (encoder, group) in enumerate(members):
        for attribute in ("Model", "Make"):  # the table orders them as FlickrExif does: Make first
            accuracy = [0.70 + i / 100, 0.74 + i / 100]
            probe(root, encoder, group, "FlickrExif", accuracy, task="probe-acquisition", target=attribute, chance=0.1)
        probe(root, encoder, group, "photos", [0.9], accuracy_std=0.004)
        knn(root, encoder, group, "photos", 0.123)
        retrieval(root, encoder, group, "PairCams", 0.6, 0.65)


def test_paper_table_groups_and_orders_encoders(tmp_path):
    _paper_folder(tmp_path)
    (table,) = paper_tables(summarise(tmp_path))  # three datasets, no column twice: one table
    assert table.datasets == ("FlickrExif", "PairCams", "photos")
    assert table.headers == ["Make", "Model", "jpeg", "SPD_p jpeg", "SPD_a"]
    assert [(r["group"], r["encoder"]) for r in table.rows] == [
        ("SUP", "z-sup"),
        ("SSL", "b-ssl"),
        ("SSL", "m-ssl"),
        ("CVL", "a-cvl"),
        (None, "other"),
    ]
    z_sup = table.rows[0]
    assert z_sup["Make"] == "72.0 ± 2.8"  # mean ± std over two seeds, in percent
    assert z_sup["jpeg"] == "90.0 ± 0.4"  # one seed: the refits' spread
    assert z_sup["SPD_p jpeg"] == "12.3" and z_sup["SPD_a"] == "5.0"  # one seed, nothing recorded
    assert table.chance == {"Make": "10.0", "Model": "10.0", "jpeg": "25.0"}
    text = paper_markdown([table])
    lines = text.splitlines()
    assert lines[0] == "## FlickrExif + PairCams + photos"
    header = lines.index("| encoder | Make | Model | jpeg | SPD_p jpeg | SPD_a |")
    firsts = [line.split(" | ")[0] for line in lines[header + 2 :]]
    assert firsts == ["| **SUP**", "| z-sup", "| **SSL**", "| b-ssl", "| m-ssl", "| **CVL**", "| a-cvl"] + [
        "| **no group**",
        "| other",
        "| *chance*",
    ]
    assert "| z-sup | 72.0 ± 2.8 | 72.0 ± 2.8 | 90.0 ± 0.4 | 12.3 | 5.0 |" in lines


def test_paper_table_files_and_a_table_per_dataset_when_columns_repeat(tmp_path):
    _paper_folder(tmp_path)
    probe(tmp_path, "z-sup", "SUP", "imagenet", [0.5, 0.6])
    _, files = write_report(tmp_path)
    report = tmp_path / "report"
    assert {report / "paper_table.md", report / "paper_table.csv"} <= set(files)
    text = (report / "paper_table.md").read_text()
    assert "## FlickrExif + PairCams + imagenet" in text and "## photos" in text
    with (report / "paper_table.csv").open() as file:
        rows = list(csv.DictReader(file))
    imagenet = [r for r in rows if r["datasets"] == "FlickrExif + PairCams + imagenet" and r["encoder"] == "z-sup"]
    photos = [r for r in rows if r["datasets"] == "photos" and r["encoder"] == "z-sup"]
    assert imagenet[0]["jpeg"] == "55.0 ± 7.1" and photos[0]["jpeg"] == "90.0 ± 0.4"
    assert [r["encoder"] for r in rows if r["datasets"] == "photos"] == ["z-sup", "b-ssl", "m-ssl", "a-cvl"] + [
        "other",
        "chance",
    ]
    assert rows[0]["group"] == "SUP"


def test_mitigation_section_and_figure(tmp_path):
    probe(tmp_path, "enc", "SSL", "photos", [0.8])
    for dataset in ("photos", "imagenet"):
        before = {"probe_accuracy": 0.8, "spd_p@k10": 0.2, "all-same@k10": 0.7, "chance": 0.25}
        after = {"probe_accuracy": 0.3, "spd_p@k10": 0.01, "all-same@k10": 0.69, "chance": 0.25}
        put(
            tmp_path, "enc", "SSL", dataset, "mitigate", "jpeg", 0,
            metrics=after, before=before, after=after, method="leace", parameters={"rank": 2},
        )  # fmt: skip
    _, files = write_report(tmp_path)
    names = {p.name for p in files}
    assert {"mitigation.md", "mitigation.csv"} | {f"mitigation.{ext}" for ext in FORMATS} <= names
    table = (tmp_path / "report" / "mitigation.md").read_text()
    assert "| enc | imagenet | jpeg | leace | 2 |" in table and "| enc | photos | jpeg | leace | 2 |" in table
    # in percent, as every other table: MP and SP in %, SPD_p in points, the probe's chance beside MP
    assert "| 25.0% | 80.0% → 30.0% | +20.0 pp → +1.0 pp | 70.0% → 69.0% |" in table, table
    assert "## Mitigation" in (tmp_path / "report" / "summary.md").read_text()


def test_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no result files"):
        write_report(tmp_path)
