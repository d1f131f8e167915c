"""The report's zero-shot section on generated result JSON: zero-shot beside the probe's MP, per dataset."""

from __future__ import annotations

import csv

from matplotlib.patches import Rectangle
from test_report import put

from benchmark.reporting.report import write_report
from benchmark.reporting.zeroshot import zeroshot_figure, zeroshot_rows


def zeroshot(root, encoder, dataset, target, zs, mp, chance, seeds=(0,)):
    for seed in seeds:
        metrics = {
            "accuracy": zs + 0.01 * seed,
            "mean_per_class_recall": zs,
            "chance": chance,
            "probe_accuracy": mp,
            "probe_mean_per_class_accuracy": mp,
        }
        put(root, encoder, "CVL", dataset, "zeroshot", target, seed, metrics=metrics, details={"n_test": 120})


def fill(root):
    zeroshot(root, "clip-b", "FlickrExif-v1", "Make", 0.30, 0.70, 1 / 9, seeds=(0, 1))
    zeroshot(root, "clip-b", "FlickrExif-v1", "Is Smartphone", 0.62, 0.81, 0.5)
    zeroshot(root, "clip-a", "FlickrExif-v1", "Make", 0.25, 0.60, 1 / 9)
    zeroshot(root, "clip-a", "photos", "jpeg", 0.20, 0.85, 1 / 6)


def test_zero_shot_sits_beside_the_probe_per_dataset_encoder_and_target(tmp_path):
    fill(tmp_path)
    summary, files = write_report(tmp_path)
    names = {f.name for f in files}
    assert {"zeroshot.md", "zeroshot.csv", "zeroshot-FlickrExif-v1.png", "zeroshot-photos.pdf"} <= names
    table = (tmp_path / "report" / "zeroshot.md").read_text()
    flickrexif = table.split("### photos")[0]
    # attributes in the paper's order (Make before Is Smartphone), encoders sorted, chance last
    assert "| encoder | group | Make | Is Smartphone |" in flickrexif
    assert (
        "| clip-a | CVL | 25.0 / 60.0 | – |" in flickrexif
        and "| clip-b | CVL | 30.5 / 70.0 | 62.0 / 81.0 |" in flickrexif
    )
    assert flickrexif.index("clip-a") < flickrexif.index("clip-b") < flickrexif.index("*chance* |  | 11.1 | 50.0 |")
    assert "| clip-a | CVL | 20.0 / 85.0 |" in table.split("### photos")[1]
    assert "## Zero-shot vs linear probe" in (tmp_path / "report" / "summary.md").read_text()
    # the summary table's headline columns: ZS and MP
    row = next(r for r in summary.table_rows if r["encoder"] == "clip-b")
    assert row["zeroshot:Make ZS"] == 0.305 and row["zeroshot:Make MP"] == 0.70
    with (tmp_path / "report" / "zeroshot.csv").open() as file:
        rows = {(r["encoder"], r["dataset"], r["target"]): r for r in csv.DictReader(file)}
    make = rows[("clip-b", "FlickrExif-v1", "Make")]
    assert float(make["zero-shot"]) == 0.305 and float(make["zero-shot std"]) > 0 and make["seeds"] == "2"
    assert float(make["probe MP"]) == 0.70 and float(make["chance"]) == 1 / 9 and make["n_test"] == "120"


def test_the_figure_has_a_panel_per_target_and_a_pair_of_bars_per_encoder(tmp_path):
    fill(tmp_path)
    summary, _ = write_report(tmp_path)
    rows = [r for r in zeroshot_rows(summary.long_rows) if r["dataset"] == "FlickrExif-v1"]
    figure = zeroshot_figure(rows, "FlickrExif-v1")
    panels = [axes for axes in figure.axes if axes.get_visible()]
    assert [axes.get_title() for axes in panels] == ["Make", "Is Smartphone"]
    heights = [sorted(round(p.get_height(), 1) for p in axes.patches if isinstance(p, Rectangle)) for axes in panels]
    assert heights == [[25.0, 30.5, 60.0, 70.0], [62.0, 81.0]]  # Is Smartphone: clip-b only
    chance = [[c for c in axes.collections if c.get_gid() == "chance"] for axes in panels]
    assert [len(lines) for lines in chance] == [2, 1]  # a chance line per encoder shown
    assert chance[1][0].get_segments()[0][0][1] == 50.0
    # error bars where a result has several seeds: clip-b's Make (its two bars)
    assert [len(axes.collections) - len(lines) for axes, lines in zip(panels, chance)] == [2, 0]
