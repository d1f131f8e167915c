"""The report's zero-shot section: zero-shot accuracy beside the linear probe's MP, per encoder and target.

Only encoders with a text tower have zero-shot results: the contrastive vision-language (CVL) ones.
One table per dataset (``zeroshot.md``, ``zeroshot.csv``): rows are encoders in group order, columns
the targets in the paper's order (FlickrExif attributes, then processing families), each cell
``ZS / MP`` in percent with the chance row last; and one figure per dataset (``zeroshot[-<dataset>]``):
a panel per target, a pair of bars per encoder (the probe's MP light, zero-shot dark) and the chance line.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from benchmark.imaging.processing import FAMILIES
from benchmark.reporting.plots import colour, group_rank
from benchmark.runs.results import slug
from flickrexif.exif.labels import ATTRIBUTES

TASK = "zeroshot"
TARGET_ORDER = (*ATTRIBUTES, *FAMILIES)
# row field -> the result's metric (mean over seeds; "... std" beside it)
FIELDS = {
    "zero-shot": "accuracy",
    "zero-shot mean per-class recall": "mean_per_class_recall",
    "probe MP": "probe_accuracy",
    "chance": "chance",
}


CSV_FIELDS = [
    "dataset",
    "group",
    "encoder",
    "target",
    *(name for field in FIELDS for name in (field, f"{field} std")),
    "seeds",
    "n_test",
]


def zeroshot_rows(long_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (encoder, dataset, target) of the zero-shot results in the report's long rows, in
    dataset, group, encoder and target order."""
    found: dict[tuple, dict[str, Any]] = {}
    for row in long_rows:
        if row["task"] != TASK:
            continue
        key = (row["dataset"], row["group"], row["encoder"], row["target"])
        entry = found.setdefault(key, dict(zip(("dataset", "group", "encoder", "target"), key)))
        for field, metric in FIELDS.items():
            if row["metric"] == metric:
                entry[field], entry[f"{field} std"] = row["mean"], row["std"]
                entry["seeds"], entry["n_test"] = row["seeds"], row["n_test"]
    return sorted(found.values(), key=_order)


def _order(row: dict[str, Any]) -> tuple:
    target = row["target"]
    where = TARGET_ORDER.index(target) if target in TARGET_ORDER else len(TARGET_ORDER)
    return row["dataset"], group_rank(row["group"]), row["encoder"], where, target


def _targets(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({r["target"] for r in rows}, key=lambda t: (TARGET_ORDER.index(t) if t in TARGET_ORDER else 99, t))


def _by_dataset(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["dataset"]].append(row)
    return dict(grouped)


def _percent(value: Any) -> str:
    return f"{100 * value:.1f}" if isinstance(value, float | int) else "–"


def zeroshot_markdown(rows: list[dict[str, Any]]) -> str:
    """Per dataset: encoders × targets, each cell ``zero-shot / probe MP`` in percent, chance last."""
    sections = []
    for dataset, inside in _by_dataset(rows).items():
        targets = _targets(inside)
        cells: dict[tuple[str, str | None], dict[str, str]] = defaultdict(dict)
        chance: dict[str, str] = {}
        for row in inside:
            cells[(row["encoder"], row["group"])][row["target"]] = (
                f"{_percent(row.get('zero-shot'))} / {_percent(row.get('probe MP'))}"
            )
            chance[row["target"]] = _percent(row.get("chance"))
        lines = [
            f"### {dataset}",
            "",
            "Zero-shot accuracy / linear-probe MP on the same test split, percent (mean over seeds).",
            "",
            "| " + " | ".join(["encoder", "group", *targets]) + " |",
            "|" + "---|" * (len(targets) + 2),
        ]
        for (encoder, group), by_target in cells.items():
            lines.append("| " + " | ".join([encoder, group or "", *(by_target.get(t, "–") for t in targets)]) + " |")
        lines.append("| " + " | ".join(["*chance*", "", *(chance.get(t, "") for t in targets)]) + " |")
        sections.append("\n".join(lines) + "\n")
    return "\n".join(sections)


def zeroshot_figures(rows: list[dict[str, Any]]) -> list[tuple[str, Figure]]:
    """(file stem, figure) per dataset: ``zeroshot-<dataset>`` (a new dataset renames no figure)."""
    return [
        (f"{TASK}-{slug(dataset)}", zeroshot_figure(inside, dataset)) for dataset, inside in _by_dataset(rows).items()
    ]


def zeroshot_figure(rows: list[dict[str, Any]], dataset: str) -> Figure:
    """A panel per target: per encoder the probe's MP (light bar) and zero-shot accuracy (dark bar), with
    one standard deviation over seeds where there are several, and the chance line."""
    targets = _targets(rows)
    encoders = sorted({(r["encoder"], r["group"]) for r in rows}, key=lambda e: (group_rank(e[1]), e[0]))
    width = max(2.6, 0.5 * len(encoders) + 1.2)
    figure = Figure(figsize=(width * min(len(targets), 4), 3.4 * -(-len(targets) // 4)))
    panels = figure.subplots(-(-len(targets) // 4), min(len(targets), 4), squeeze=False, sharey=True).ravel()
    at = {(r["encoder"], r["target"]): r for r in rows}
    for axes, target in zip(panels, targets):
        for x, (encoder, group) in enumerate(encoders):
            row = at.get((encoder, target))
            if row is None:
                continue
            for offset, field, alpha in ((-0.2, "probe MP", 0.35), (0.2, "zero-shot", 1.0)):
                if isinstance(row.get(field), float | int):
                    error = 100 * row[f"{field} std"] if row.get("seeds", 1) > 1 else None
                    axes.bar(
                        x + offset, 100 * row[field], 0.38, yerr=error, color=colour(group), alpha=alpha, capsize=2
                    )
            if isinstance(row.get("chance"), float | int):
                axes.hlines(
                    100 * row["chance"], x - 0.45, x + 0.45, colors="black", linestyles="--", linewidth=1, gid="chance"
                )
        axes.set_title(target, fontsize=9)
        axes.set_xticks(range(len(encoders)), [e for e, _ in encoders], rotation=45, ha="right", fontsize=7)
        axes.set_ylim(0, 100)
        axes.grid(axis="y", linewidth=0.4, alpha=0.5)
    for axes in panels[len(targets) :]:
        axes.set_visible(False)
    panels[0].set_ylabel("test accuracy (%)", fontsize=8)
    handles = [
        Patch(facecolor="grey", alpha=0.35, label="linear probe (MP)"),
        Patch(facecolor="grey", label="zero-shot"),
        Patch(facecolor="none", edgecolor="black", linestyle="--", label="chance"),
    ]
    figure.legend(handles=handles, fontsize=7, loc="upper right", frameon=False)
    figure.suptitle(f"zero-shot vs linear probe · {dataset}", fontsize=9)
    figure.tight_layout()
    return figure
