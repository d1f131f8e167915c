"""``trace-bench report``: tables (CSV, Markdown) and plots (PNG) from a folder of result JSON.

Results of several seeds are averaged (mean and standard deviation).  The Markdown table has one
row per encoder and one column per (task, target) and headline metric, as
:data:`benchmark.tasks.TASKS` declares them: probe accuracy (MP), kNN accuracy all-same at the
first k (SP) and SPD_p, PairCams recall@1 both ways and SPD_a.  Plots: probe accuracy per
encoder coloured by group with the chance line, and PairCams recall@1 with same-type vs
different-type distractors against the y = x line.

Mitigation results (``trace-bench mitigate``, :mod:`benchmark.mitigate`) carry ``before`` and
``after`` metric sets: they are kept apart per eraser method (task ``mitigate-<method>``) and get
their own section (``mitigation.md``/``.csv``, appended to ``summary.md``) and plot
(``mitigation.png``: each encoder's trace and semantics before -> after).
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.results import read_results, slug
from benchmark.tasks import TASKS

GROUP_COLOURS = {"SUP": "#1f77b4", "SSL": "#2ca02c", "CVL": "#d62728", None: "#7f7f7f"}


# (column, metric) of the mitigation section: the trace (probe, SPD) and the semantics kept (kNN, recall).
MITIGATION_COLUMNS = (
    ("MP", "probe_accuracy"),
    ("SPD_p", "spd_p@k10"),
    ("SP all-same", "all-same@k10"),
    ("SPD_a", "spd_a"),
    ("R@1 query-type", "recall_same_as_query"),
    ("R@1 target-type", "recall_same_as_target"),
)
# Plot panels: (title, metrics tried in order, the first one a result has is drawn).
MITIGATION_PANELS = (
    ("probe accuracy (trace; x = chance)", ("probe_accuracy",)),
    ("SPD_p@k10 / SPD_a (trace)", ("spd_p@k10", "spd_a")),
    ("all-same@k10 / R@1 target-type (semantics)", ("all-same@k10", "recall_same_as_target")),
)


def task_label(result: dict[str, Any]) -> str:
    """The task a result is grouped under: mitigation results apart per eraser method."""
    method = result.get("method")
    return f"{result['task']}-{method}" if result["task"] == "mitigate" and method else result["task"]


def headline_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The few numbers per result that the summary table shows: its task's declared headline."""
    task = TASKS.get(result["task"])
    return task.headline_metrics(result) if task else {}


@dataclass(frozen=True)
class Summary:
    long_rows: list[dict[str, Any]]  # every metric, mean/std over seeds
    table_rows: list[dict[str, Any]]  # encoder → headline columns
    columns: list[str]


def summarise(results_dir: str | Path) -> Summary:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for result in read_results(results_dir):
        key = (
            result.get("encoder", "?"),
            result.get("encoder_group"),
            result.get("dataset", "?"),
            task_label(result),
            result["target"],
        )
        groups[key].append(result)
    long_rows: list[dict[str, Any]] = []
    table: dict[str, dict[str, Any]] = {}
    columns: list[str] = []
    for (encoder, group, dataset, task, target), runs in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        for metric in sorted(runs[0]["metrics"]):
            values = [r["metrics"][metric] for r in runs if metric in r["metrics"]]
            long_rows.append(
                {
                    "encoder": encoder,
                    "group": group,
                    "dataset": dataset,
                    "task": task,
                    "target": target,
                    "metric": metric,
                    "mean": statistics.fmean(values),
                    "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                    "seeds": len(values),
                }
            )
        row = table.setdefault(encoder, {"encoder": encoder, "group": group})
        for name in headline_metrics(runs[0]):
            column = f"{task}:{target} {name}"
            row[column] = statistics.fmean(headline_metrics(r)[name] for r in runs)
            if column not in columns:
                columns.append(column)
    return Summary(long_rows, list(table.values()), columns)


def markdown_table(summary: Summary) -> str:
    header = ["encoder", "group", *summary.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in summary.table_rows:
        cells = [str(row["encoder"]), str(row["group"] or "")]
        cells += [f"{row[c]:.3f}" if isinstance(row.get(c), float) else "" for c in summary.columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(results_dir: str | Path, out_dir: str | Path | None = None) -> tuple[Summary, list[Path]]:
    """Write ``summary.csv``, ``metrics.csv``, ``summary.md`` and PNG plots; returns the files."""
    out = Path(out_dir or Path(results_dir) / "report")
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(results_dir)
    if not summary.long_rows:
        raise ValueError(f"no result files under {results_dir}")
    files = [out / "metrics.csv", out / "summary.csv", out / "summary.md"]
    _write_csv(files[0], summary.long_rows)
    _write_csv(files[1], summary.table_rows, ["encoder", "group", *summary.columns])
    files[2].write_text(markdown_table(summary))
    files += _plot_probes(summary, out) + _plot_retrieval(summary, out)
    mitigation = mitigation_rows(results_dir)
    if mitigation:
        files += [out / "mitigation.csv", out / "mitigation.md"]
        _write_csv(files[-2], mitigation)
        section = mitigation_markdown(mitigation)
        files[-1].write_text(section)
        with files[2].open("a") as summary_md:
            summary_md.write("\n## Mitigation\n\n" + section)
        files += _plot_mitigation(mitigation, out)
    return summary, files


def _write_csv(path: Path, rows: list[dict[str, Any]], fields: list[str] | None = None) -> None:
    fields = fields or list(rows[0])
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_probes(summary: Summary, out: Path) -> list[Path]:
    """One bar chart per probe target: accuracy per encoder, coloured by group, chance line."""
    by_target: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in summary.long_rows:
        if row["task"].startswith("probe") and row["metric"] in ("accuracy", "chance"):
            by_target[(row["task"], row["target"])].append(row)
    if not by_target:
        return []
    plt = _pyplot()
    files = []
    for (task, target), rows in sorted(by_target.items()):
        accuracy = [r for r in rows if r["metric"] == "accuracy"]
        chance = next((r["mean"] for r in rows if r["metric"] == "chance"), None)
        figure, axes = plt.subplots(figsize=(max(4, 0.5 * len(accuracy) + 2), 3.5))
        axes.bar(
            range(len(accuracy)),
            [r["mean"] for r in accuracy],
            yerr=[r["std"] for r in accuracy],
            color=[GROUP_COLOURS.get(r["group"], GROUP_COLOURS[None]) for r in accuracy],
        )
        if chance is not None:
            axes.axhline(chance, color="black", linestyle="--", linewidth=1, label="chance")
        axes.set_xticks(range(len(accuracy)), [r["encoder"] for r in accuracy], rotation=45, ha="right", fontsize=7)
        axes.set_ylim(0, 1)
        axes.set_ylabel("test accuracy")
        axes.set_title(f"{task}: {target}")
        for group, colour in GROUP_COLOURS.items():
            if group and any(r["group"] == group for r in accuracy):
                axes.bar([], [], color=colour, label=group)
        axes.legend(fontsize=7)
        figure.tight_layout()
        path = out / f"{slug(task)}-{slug(target)}.png"
        figure.savefig(path, dpi=120)
        plt.close(figure)
        files.append(path)
    return files


def _plot_retrieval(summary: Summary, out: Path) -> list[Path]:
    rows = [r for r in summary.long_rows if r["task"] == "retrieval"]
    if not rows:
        return []
    points: dict[str, dict[str, Any]] = defaultdict(dict)
    for row in rows:
        points[row["encoder"]].update({row["metric"]: row["mean"], "group": row["group"]})
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    for encoder, point in points.items():
        axes.scatter(
            point["recall_same_as_query"],
            point["recall_same_as_target"],
            color=GROUP_COLOURS.get(point["group"], GROUP_COLOURS[None]),
        )
        axes.annotate(encoder, (point["recall_same_as_query"], point["recall_same_as_target"]), fontsize=6)
    axes.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1)
    axes.set_xlabel("recall@1, distractors share the query's camera type")
    axes.set_ylabel("recall@1, distractors share the target's camera type")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    figure.tight_layout()
    path = out / "retrieval-paircams.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return [path]


def mitigation_rows(results_dir: str | Path) -> list[dict[str, Any]]:
    """One row per (encoder, dataset, target, method): rank, chance, and every metric's before and after
    (means over seeds), as ``<metric> before`` / ``<metric> after``."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for result in read_results(results_dir):
        if result["task"] == "mitigate" and {"before", "after"} <= set(result):
            key = (result.get("encoder", "?"), result.get("encoder_group"), result.get("dataset", "?"))
            groups[(*key, result["target"], result.get("method"))].append(result)
    rows = []
    for (encoder, group, dataset, target, method), runs in sorted(
        groups.items(), key=lambda kv: tuple(map(str, kv[0]))
    ):
        row: dict[str, Any] = {
            "encoder": encoder,
            "group": group,
            "dataset": dataset,
            "target": target,
            "method": method,
            "rank": runs[0].get("parameters", {}).get("rank"),
            "seeds": len(runs),
            "chance": runs[0]["after"].get("chance"),
        }
        for metric in sorted(runs[0]["after"]):
            if metric != "chance":
                for when in ("before", "after"):
                    row[f"{metric} {when}"] = statistics.fmean(r[when][metric] for r in runs)
        rows.append(row)
    return rows


def mitigation_markdown(rows: list[dict[str, Any]]) -> str:
    """The mitigation table: ``before -> after`` per headline metric the rows have."""
    shown = [(c, m) for c, m in MITIGATION_COLUMNS if any(f"{m} after" in row for row in rows)]
    header = ["encoder", "dataset", "target", "method", "rank", "chance", *(c for c, _ in shown)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = [str(row[k]) for k in ("encoder", "dataset", "target", "method", "rank")]
        cells.append(f"{row['chance']:.3f}" if isinstance(row.get("chance"), float) else "")
        for _, metric in shown:
            has = f"{metric} after" in row
            cells.append(f"{row[f'{metric} before']:.3f} → {row[f'{metric} after']:.3f}" if has else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot_mitigation(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Per panel, one line per (encoder, target, method): open marker before, filled marker after."""
    plt = _pyplot()
    figure, panels = plt.subplots(1, len(MITIGATION_PANELS), figsize=(12, 1.2 + 0.35 * len(rows)), sharey=True)
    labels = [f"{r['encoder']} {r['target']} {r['method']}" for r in rows]
    for axes, (title, metrics) in zip(panels, MITIGATION_PANELS):
        for y, row in enumerate(rows):
            metric = next((m for m in metrics if f"{m} after" in row), None)
            if metric is None:
                continue
            before, after = row[f"{metric} before"], row[f"{metric} after"]
            colour = GROUP_COLOURS.get(row["group"], GROUP_COLOURS[None])
            axes.annotate("", (after, y), (before, y), arrowprops={"arrowstyle": "->", "color": colour})
            axes.scatter([before], [y], facecolors="none", edgecolors=colour)
            axes.scatter([after], [y], color=colour)
            if metric == "probe_accuracy" and isinstance(row.get("chance"), float):
                axes.scatter([row["chance"]], [y], marker="x", color="black", s=20)
        axes.set_title(title, fontsize=8)
        axes.axvline(0, color="grey", linewidth=0.5)
    panels[0].set_yticks(range(len(rows)), labels, fontsize=7)
    panels[0].invert_yaxis()
    figure.suptitle("mitigation: before (open) → after (filled)", fontsize=9)
    figure.tight_layout()
    path = out / "mitigation.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return [path]
