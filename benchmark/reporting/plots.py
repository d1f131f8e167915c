"""The report's figures (:mod:`benchmark.reporting.report`), built as matplotlib figures and saved for a paper.

Every figure is built by a function that returns it without saving (so tests can inspect its
artists) and saved by :func:`save` as a 300-dpi PNG, a PDF and an SVG with the same stem.  The
figures use matplotlib's object API (no pyplot, no backend switch): nothing global is touched.

* :func:`probe_figure`: one per (probe task, target, dataset): test accuracy (%) per encoder,
  bars coloured by group (SUP, SSL, CVL) in that order, error bars of one standard deviation over
  seeds (with a single seed, the spread of the probe refits, ``accuracy_std``, where recorded), the
  chance line, a legend for every group shown, and a title naming the dataset, the number of test
  samples and of seeds.
* :func:`retrieval_figure`: one per (retrieval target, dataset): PairCams recall@1 with distractors
  of the query's vs the target's camera type, one point per encoder, the y = x line (no acquisition
  bias), error bars over seeds, and square axis limits that hold every point and error bar.
* :func:`knn_figure`: one per (kNN family, dataset): semantic kNN accuracy (%) per encoder under each
  setup (all-same, all-diff, pos-same, neg-same, uniform) at k = 10 (else the first k), error bars
  over seeds, the chance line: the paper's view of how processing steers the neighbours.
* :func:`mitigation_figure`: each mitigation row's trace and semantics before -> after.

File stems: ``<task>-<target>-<dataset>`` (``probe-acquisition-Make-FlickrExif-v1.0.0``): a second
dataset adds figures and renames none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from benchmark.runs.results import slug

GROUP_ORDER = ("SUP", "SSL", "CVL")
GROUP_COLOURS = {"SUP": "#1f77b4", "SSL": "#2ca02c", "CVL": "#d62728", None: "#7f7f7f"}
FORMATS = ("png", "pdf", "svg")
DPI = 300
# Fonts kept as text: editable in vector editors and accepted by publishers (no Type 3 fonts).
RC = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none"}

# Mitigation plot panels: (title, metrics tried in order, the first one a result has is drawn).
MITIGATION_PANELS = (
    ("probe accuracy (trace; x = chance)", ("probe_accuracy",)),
    ("SPD_p@k10 / SPD_a (trace)", ("spd_p@k10", "spd_a")),
    ("all-same@k10 / R@1 target-type (semantics)", ("all-same@k10", "recall_same_as_target")),
)


def group_rank(group: str | None) -> int:
    """SUP, SSL, CVL, then anything else (no group last)."""
    return GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER) + (group is None)


def group_name(group: str | None) -> str:
    return group or "no group"


def colour(group: str | None) -> str:
    return GROUP_COLOURS.get(group, GROUP_COLOURS[None])


def save(figure: Figure, out: Path, stem: str) -> list[Path]:
    """``out/<stem>.png`` (300 dpi), ``.pdf`` and ``.svg``; tight bounding box so nothing is cut."""
    import matplotlib

    paths = []
    with matplotlib.rc_context(RC):
        for extension in FORMATS:
            path = out / f"{stem}.{extension}"
            figure.savefig(path, dpi=DPI, bbox_inches="tight")
            paths.append(path)
    return paths


def _count(values: Iterable[int | None], noun: str) -> str | None:
    """``"3 seeds"``, ``"1–3 seeds"``; None when no value is known."""
    known = sorted({v for v in values if v is not None})
    if not known:
        return None
    amount = f"{known[0]:,}" if len(known) == 1 else f"{known[0]:,}–{known[-1]:,}"
    return f"{amount} {noun}{'' if known == [1] else 's'}"


def _title(task: str, target: str, dataset: str, sizes: list[int | None], seeds: list[int], unit: str) -> str:
    facts = [dataset, _count(sizes, unit), _count(seeds, "seed")]
    return f"{task}: {target}\n" + " · ".join(f for f in facts if f)


def _by_encoder(rows: list[dict[str, Any]]) -> dict[tuple[str, str | None], dict[str, dict[str, Any]]]:
    """(encoder, group) → metric → long row, in group order (SUP, SSL, CVL) then encoder name."""
    found: dict[tuple[str, str | None], dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        found[(row["encoder"], row["group"])][row["metric"]] = row
    return dict(sorted(found.items(), key=lambda kv: (group_rank(kv[0][1]), kv[0][0])))


def _error(metrics: dict[str, dict[str, Any]], metric: str) -> tuple[float, str | None]:
    """One standard deviation of ``metric``: over seeds, or over refits with a single seed."""
    row = metrics[metric]
    if row["seeds"] > 1:
        return row["std"], "seeds"
    own = metrics.get(f"{metric}_std")
    return (own["mean"], "refits") if own else (0.0, None)


def _group_handles(groups: Iterable[str | None]) -> list[Patch]:
    shown = sorted(set(groups), key=group_rank)
    return [Patch(facecolor=colour(g), label=group_name(g)) for g in shown]


def probe_figure(rows: list[dict[str, Any]], task: str, target: str, dataset: str) -> Figure:
    """Accuracy bars of one (probe task, target, dataset) from the report's long rows (fractions → %)."""
    encoders = {k: v for k, v in _by_encoder(rows).items() if "accuracy" in v}
    means = [100 * m["accuracy"]["mean"] for m in encoders.values()]
    errors = [_error(m, "accuracy") for m in encoders.values()]
    figure = Figure(figsize=(max(4.0, 0.45 * len(encoders) + 2.5), 3.6))
    axes = figure.add_subplot()
    x = list(range(len(encoders)))
    axes.bar(x, means, color=[colour(group) for _, group in encoders], width=0.7, zorder=2)
    handles: list[Any] = _group_handles(group for _, group in encoders)
    spreads = {kind for _, kind in errors if kind}
    if spreads:
        what = " / ".join(sorted(spreads))
        bars = axes.errorbar(
            x, means, yerr=[100 * e for e, _ in errors], fmt="none", ecolor="black", capsize=3, linewidth=1, zorder=3
        )
        bars.set_label(f"± 1 std over {what}")
        handles.append(bars)
    chances = [m["chance"]["mean"] for m in encoders.values() if "chance" in m]
    if chances:
        chance = 100 * sum(chances) / len(chances)
        line = axes.axhline(
            chance, color="black", linestyle="--", linewidth=1, zorder=4, label=f"chance ({chance:.1f}%)"
        )
        handles.append(line)
    axes.set_xticks(x, [encoder for encoder, _ in encoders], rotation=45, ha="right", fontsize=7)
    top = max([m + 100 * e for m, (e, _) in zip(means, errors)] + [100.0])
    axes.set_ylim(0, top * 1.02 if top > 100 else 100)
    axes.set_xlim(-0.6, len(encoders) - 0.4)
    axes.set_ylabel("MP: test accuracy (%)", fontsize=8)
    axes.grid(axis="y", linewidth=0.4, alpha=0.5, zorder=0)
    sizes = [m["accuracy"].get("n_test") for m in encoders.values()]
    seeds = [m["accuracy"]["seeds"] for m in encoders.values()]
    axes.set_title(_title(task, target, dataset, sizes, seeds, "test sample"), fontsize=9)
    axes.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.tight_layout()
    return figure


def retrieval_figure(rows: list[dict[str, Any]], target: str, dataset: str) -> Figure:
    """Recall@1 (%) with same-as-query vs same-as-target distractors, one point per encoder, y = x."""
    encoders = {
        k: v for k, v in _by_encoder(rows).items() if {"recall_same_as_query", "recall_same_as_target"} <= set(v)
    }
    figure = Figure(figsize=(4.8, 4.2))
    axes = figure.add_subplot()
    edges = []
    for (encoder, group), metrics in encoders.items():
        x, y = (100 * metrics[m]["mean"] for m in ("recall_same_as_query", "recall_same_as_target"))
        xerr, yerr = (100 * _error(metrics, m)[0] for m in ("recall_same_as_query", "recall_same_as_target"))
        axes.errorbar(
            x, y, xerr=xerr or None, yerr=yerr or None, fmt="o", color=colour(group), ms=5, capsize=2, zorder=3
        )
        axes.annotate(encoder, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=6)
        edges += [x - xerr, x + xerr, y - yerr, y + yerr]
    low, high = (min(edges), max(edges)) if edges else (0.0, 100.0)
    pad = max(0.06 * (high - low), 2.0)
    limits = (low - pad, high + pad)
    axes.plot(limits, limits, color="black", linestyle="--", linewidth=1, zorder=1, gid="y=x")
    axes.set_xlim(limits)
    axes.set_ylim(limits)
    axes.set_aspect("equal")
    axes.set_xlabel("R@1 (%), distractors of the query's camera type", fontsize=8)
    axes.set_ylabel("R@1 (%), distractors of the target's camera type", fontsize=8)
    axes.grid(linewidth=0.4, alpha=0.5, zorder=0)
    sizes = [m["recall_same_as_query"].get("n_test") for m in encoders.values()]
    seeds = [m["recall_same_as_query"]["seeds"] for m in encoders.values()]
    axes.set_title(_title("retrieval", target, dataset, sizes, seeds, "pair"), fontsize=9)
    handles: list[Any] = _group_handles(group for _, group in encoders)
    handles.append(Line2D([], [], color="black", linestyle="--", linewidth=1, label="y = x (no camera-type bias)"))
    axes.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.tight_layout()
    return figure


KNN_SETUPS = ("all-same", "all-diff", "pos-same", "neg-same", "uniform")


def knn_figure(rows: list[dict[str, Any]], target: str, dataset: str) -> Figure:
    """kNN accuracy (%) per encoder and setup at k = 10 (else the smallest k recorded), with the chance line."""
    encoders = _by_encoder(rows)
    ks = sorted({int(r["metric"].rsplit("@k", 1)[1]) for r in rows if "@k" in r["metric"]})
    k = 10 if 10 in ks else ks[0]
    figure = Figure(figsize=(max(4.5, 0.9 * len(encoders) + 2.5), 3.6))
    axes = figure.add_subplot()
    width = 0.8 / len(KNN_SETUPS)
    shades = ("#4c72b0", "#8c8c8c", "#55a868", "#c44e52", "#dd8452")
    for i, (setup, shade) in enumerate(zip(KNN_SETUPS, shades)):
        metric = f"{setup}@k{k}"
        present = [(x, m) for x, m in enumerate(encoders.values()) if metric in m]
        if not present:
            continue
        xs = [x - 0.4 + (i + 0.5) * width for x, _ in present]
        means = [100 * m[metric]["mean"] for _, m in present]
        errors = [100 * _error(m, metric)[0] for _, m in present]
        axes.bar(xs, means, width=width, color=shade, label=setup, zorder=2)
        if any(errors):
            axes.errorbar(xs, means, yerr=errors, fmt="none", ecolor="black", capsize=2, linewidth=0.8, zorder=3)
    chances = [m["chance"]["mean"] for m in encoders.values() if "chance" in m]
    if chances:
        chance = 100 * sum(chances) / len(chances)
        axes.axhline(chance, color="black", linestyle="--", linewidth=1, zorder=4, label=f"chance ({chance:.1f}%)")
    axes.set_xticks(range(len(encoders)), [encoder for encoder, _ in encoders], rotation=45, ha="right", fontsize=7)
    axes.set_ylim(0, 100)
    axes.set_ylabel(f"SP: kNN accuracy at k={k} (%)", fontsize=8)
    axes.grid(axis="y", linewidth=0.4, alpha=0.5, zorder=0)
    sizes = [next(iter(m.values())).get("n_test") for m in encoders.values()]
    seeds = [next(iter(m.values()))["seeds"] for m in encoders.values()]
    axes.set_title(_title("knn", target, dataset, sizes, seeds, "query"), fontsize=9)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    figure.tight_layout()
    return figure


def report_figures(long_rows: list[dict[str, Any]]) -> list[tuple[str, Figure]]:
    """(file stem, figure) for every probe, kNN and retrieval (task, target, dataset) in the long rows."""
    by_key: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in long_rows:
        by_key[(row["task"], row["target"], row["dataset"])].append(row)
    figures = []
    for (task, target, dataset), rows in sorted(by_key.items()):
        stem = f"{slug(task)}-{slug(target)}-{slug(dataset)}"
        if task == "retrieval":
            figure = retrieval_figure(rows, target, dataset)
        elif task == "knn" and any("@k" in r["metric"] for r in rows):
            figure = knn_figure(rows, target, dataset)
        elif task.startswith("probe") and any(r["metric"] == "accuracy" for r in rows):
            figure = probe_figure(rows, task, target, dataset)
        else:
            continue
        figures.append((stem, figure))
    return figures


def mitigation_figure(rows: list[dict[str, Any]]) -> Figure:
    """Per panel, one line per (encoder, dataset, target, method): open marker before, filled after."""
    figure = Figure(figsize=(12, 1.2 + 0.35 * len(rows)))
    panels = figure.subplots(1, len(MITIGATION_PANELS), sharey=True)
    several = len({r["dataset"] for r in rows}) > 1
    labels = [
        f"{r['encoder']}{' (' + str(r['dataset']) + ')' if several else ''} {r['target']} {r['method']}" for r in rows
    ]
    for axes, (title, metrics) in zip(panels, MITIGATION_PANELS):
        for y, row in enumerate(rows):
            metric = next((m for m in metrics if f"{m} after" in row), None)
            if metric is None:
                continue
            before, after = row[f"{metric} before"], row[f"{metric} after"]
            tint = colour(row["group"])
            axes.annotate("", (after, y), (before, y), arrowprops={"arrowstyle": "->", "color": tint})
            axes.scatter([before], [y], facecolors="none", edgecolors=tint)
            axes.scatter([after], [y], color=tint)
            if metric == "probe_accuracy" and isinstance(row.get("chance"), float):
                axes.scatter([row["chance"]], [y], marker="x", color="black", s=20)
        axes.set_title(title, fontsize=8)
        axes.axvline(0, color="grey", linewidth=0.5)
    panels[0].set_yticks(range(len(rows)), labels, fontsize=7)
    panels[0].invert_yaxis()
    handles = _group_handles(r["group"] for r in rows)
    figure.legend(handles=handles, fontsize=7, loc="upper right", frameon=False)
    figure.suptitle("mitigation: before (open) → after (filled)", fontsize=9)
    figure.tight_layout()
    return figure
