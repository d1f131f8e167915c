"""The dataset audits in ``trace-bench report``: every ``audit.json`` under the results folder
(:mod:`benchmark.audit`) as a Markdown section and figures.

* ``audit.md`` (and a "Dataset audit" section of ``summary.md``): per audit, the association table
  (Cramér's V, NMI, p-values, values known), what the metadata alone predicts, each class's most
  over-represented values, and with an encoder the kNN split by metadata (natural, pos-same, neg-same,
  SPD, drop, reliance), the flip rates per processing and, with ``--mitigate``, before -> after;
* ``audit-lift-<dataset>``: a metadata value x class heat map of lift (share of the class with the
  value over its share of the whole set; log scale, 1 = independence), for the four confounded attributes
  with the largest V (else the four largest V);
* ``audit-flips-<dataset>``: the share of kNN predictions that flip when the queries are re-processed,
  per processing class, with the accuracy under it.

Each figure is saved as PNG (300 dpi), PDF and SVG by :func:`benchmark.reporting.plots.save`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from benchmark.audit.audit import FORMAT
from benchmark.reporting.plots import save
from benchmark.runs.results import AUDIT_FILE, slug

HEAT_ATTRIBUTES = 4  # attributes in the heat map: the confounded ones with the largest V (else the largest V)
HEAT_VALUES = 8  # values per attribute in the heat map (the most common)
HEAT_CLASSES = 25  # classes in the heat map (the largest)
LIFT_RANGE = 3.0  # log2 lift shown from -3 to 3 (1/8x to 8x)


def read_audits(root: str | Path) -> list[dict[str, Any]]:
    """Every audit.json under ``root`` (its own cache folders left out), in path order."""
    found = []
    for path in sorted(Path(root).rglob(AUDIT_FILE)):
        if "/cache/" in path.as_posix() or not path.is_file():
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("format") == FORMAT:
            found.append(data | {"_path": str(path)})
    return found


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]


def audit_markdown(audit: dict[str, Any]) -> str:
    """One audit's section: associations, shortcut, over-represented values, encoder, mitigation."""
    dataset = audit["dataset"]
    lines = [f"### {dataset['name']}", "", f"{dataset['audited']:,} of {dataset['images']:,} images audited, "]
    lines[-1] += f"{len(dataset['class_counts'])} classes; confounded: {', '.join(audit['confounded']) or 'none'}."
    rows = [
        [
            e["attribute"],
            f"{e['cramers_v']:.2f}",
            f"{e['nmi']:.2f}",
            f"{e['p_value']:.3g}",
            f"{e['p_adjusted']:.3g}",
            f"{e['known']}/{e['known'] + e['unknown']}",
            str(e["values"]),
            _pct(e["metadata_accuracy"]),
            "yes" if e["confounded"] else "",
        ]
        for e in sorted(audit["associations"], key=lambda e: -e["cramers_v"])
    ]
    header = ["attribute", "Cramér's V", "NMI", "p", "p (Holm)", "known", "values", "predicts class (%)", "confounded"]
    lines += ["", *_table(header, rows)]
    shortcut = audit["shortcut"]
    lines += [
        "",
        f"Every attribute together predicts the class for {_pct(shortcut['accuracy'])}% of the images "
        f"(cross-validated naive Bayes; majority class {_pct(shortcut['majority_baseline'])}%).",
        "",
    ]
    over = [
        [label, v["attribute"], v["value"], str(v["count"]), _pct(v["class_share"]), _pct(v["overall_share"])]
        + [f"{v['lift']:.2f}"]
        for label, values in audit["over_represented"].items()
        for v in values
    ]
    if over:
        lines += ["Most over-represented values per class:", ""]
        lines += _table(["class", "attribute", "value", "images", "% of class", "% of all", "lift"], over)
    if "encoder" in audit:
        lines += ["", *_encoder_lines(audit)]
    if "mitigation" in audit:
        lines += ["", *_mitigation_lines(audit)]
    return "\n".join(lines) + "\n"


def _encoder_lines(audit: dict[str, Any]) -> list[str]:
    encoder, k = audit["encoder"], audit["parameters"]["ks"][0]
    lines = [
        f"Encoder `{encoder['encoder']['key']}`: nearest-neighbour decision between one image of the query's class "
        "and one of another class, in % (chance 50), by whether they share the query's value:",
        "",
    ]
    columns = ("natural", "pos-same", "neg-same", "all-same", "all-diff")
    rows = [
        [attribute, str(split["n_queries"]), *(_pct(split[c]) for c in columns)]
        + [f"{100 * split[c]:+.1f}" for c in ("spd", "drop", "reliance")]
        for attribute, split in encoder["knn"].items()
        if split.get("n_queries")
    ]
    lines += _table(["attribute", "queries", *columns, "SPD", "drop", "reliance"], rows)
    flips = encoder["flips"]
    lines += [
        "",
        f"kNN (k = {k}) accuracy {_pct(flips['unprocessed'][f'accuracy@k{k}'])}% unprocessed; re-processed:",
        "",
    ]
    flip_rows = [
        [family, name, _pct(found[f"flip_rate@k{k}"]), _pct(found[f"accuracy@k{k}"])]
        for family, entry in flips.items()
        if family != "unprocessed"
        for name, found in entry["classes"].items()
    ]
    return lines + _table(["family", "processing", "predictions flipped (%)", "accuracy (%)"], flip_rows)


def _mitigation_lines(audit: dict[str, Any]) -> list[str]:
    mitigation, k = audit["mitigation"], audit["parameters"]["ks"][0]
    rows = []
    for attribute, found in mitigation["attributes"].items():
        if "error" in found:
            rows.append([attribute, "", found["error"], "", ""])
            continue
        before, after = found["before"], found["after"]
        rows.append(
            [attribute, str(found["rank"])]
            + [f"{_pct(before[m])} → {_pct(after[m])}" for m in (f"accuracy@k{k}", f"attribute_accuracy@k{k}")]
            + [f"{100 * before.get('reliance', 0):+.1f} → {100 * after.get('reliance', 0):+.1f}"]
        )
    header = ["erased", "rank", f"kNN accuracy (k={k}, %)", "attribute by kNN (%)", "reliance"]
    return [f"Mitigation ({mitigation['method']}, fitted on {mitigation['fitted_on']}):", "", *_table(header, rows)]


def lift_figure(audit: dict[str, Any]) -> Figure:
    """The metadata value x class heat map of log2 lift (module notes)."""
    strongest = [
        e["attribute"] for e in sorted(audit["associations"], key=lambda e: -e["cramers_v"]) if e["values"] > 1
    ]
    chosen = (audit["confounded"] or strongest)[:HEAT_ATTRIBUTES]
    tables = [audit["contingency"][attribute] for attribute in chosen]
    classes = tables[0]["classes"] if tables else []
    sizes = np.asarray(tables[0]["counts"]).sum(0) if tables else np.zeros(0)
    shown = sorted(np.argsort(-sizes, kind="stable")[:HEAT_CLASSES])
    labels, rows, images = [], [], []  # images: the count behind each cell (0 is written 0, not a clipped lift)
    for attribute, table in zip(chosen, tables):
        counts = np.asarray(table["counts"], dtype=np.float64)
        lift = (counts / counts.sum(0)) / (counts.sum(1, keepdims=True) / counts.sum())
        for v in np.argsort(-counts.sum(1), kind="stable")[:HEAT_VALUES]:
            labels.append(f"{attribute} = {table['values'][v]}")
            rows.append(lift[v, shown])
            images.append(counts[v, shown])
    grid = np.log2(np.clip(np.asarray(rows) if rows else np.zeros((0, len(shown))), 2**-LIFT_RANGE, 2**LIFT_RANGE))
    figure = Figure(figsize=(1.2 + 0.55 * max(3, len(shown)), 1.2 + 0.32 * max(3, len(labels))))
    axes = figure.add_subplot()
    image = axes.imshow(grid, cmap="RdBu_r", vmin=-LIFT_RANGE, vmax=LIFT_RANGE, aspect="auto")
    axes.set_xticks(range(len(shown)), [str(classes[c]) for c in shown], rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    if grid.size <= 400:
        for (row, column), value in np.ndenumerate(grid):
            text = f"{2**value:.1f}" if images[row][column] else "0"
            axes.text(column, row, text, ha="center", va="center", fontsize=7)
    bar = figure.colorbar(image, ax=axes, ticks=range(-int(LIFT_RANGE), int(LIFT_RANGE) + 1))
    bar.set_label("lift (share in class / share overall), log2")
    bar.ax.set_yticklabels([f"{2.0**t:g}×" for t in range(-int(LIFT_RANGE), int(LIFT_RANGE) + 1)])
    what = "confounded attributes" if audit["confounded"] else "no attribute confounded; the strongest shown"
    axes.set_title(f"{audit['dataset']['name']}: metadata × class ({what})", fontsize=9)
    return figure


def flips_figure(audit: dict[str, Any]) -> Figure:
    """Flip rate (bars) and accuracy (points) of kNN under each re-processing of the queries."""
    flips, k = audit["encoder"]["flips"], audit["parameters"]["ks"][0]
    names = [(f, n) for f, entry in flips.items() if f != "unprocessed" for n in entry["classes"]]
    figure = Figure(figsize=(1.5 + 0.45 * len(names), 3.4))
    axes = figure.add_subplot()
    rates = [100 * flips[f]["classes"][n][f"flip_rate@k{k}"] for f, n in names]
    accuracy = [100 * flips[f]["classes"][n][f"accuracy@k{k}"] for f, n in names]
    axes.bar(range(len(names)), rates, color="#d62728", label="predictions flipped")
    axes.plot(range(len(names)), accuracy, "o", color="#1f77b4", label="accuracy")
    axes.axhline(
        100 * flips["unprocessed"][f"accuracy@k{k}"], color="#1f77b4", ls="--", lw=1, label="accuracy unprocessed"
    )
    axes.set_xticks(range(len(names)), [f"{f}/{n}" for f, n in names], rotation=45, ha="right")
    axes.set_ylim(0, 100)
    axes.set_ylabel(f"% of queries (kNN, k = {k})")
    axes.legend(fontsize=7)
    axes.set_title(
        f"{audit['dataset']['name']}: re-processed queries, {audit['encoder']['encoder']['key']}", fontsize=9
    )
    return figure


def write_audit_report(audits: list[dict[str, Any]], out: Path) -> tuple[str, list[Path]]:
    """``audit.md`` and the figures of every audit into ``out``; returns the section's text and the files."""
    section = "\n".join(audit_markdown(audit) for audit in audits)
    files = [out / "audit.md"]
    files[0].write_text("# Dataset audits\n\n" + section)
    for audit in audits:
        name = slug(audit["dataset"]["name"])
        files += save(lift_figure(audit), out, f"audit-lift-{name}")
        if "encoder" in audit:
            files += save(flips_figure(audit), out, f"audit-flips-{name}")
    return section, files
