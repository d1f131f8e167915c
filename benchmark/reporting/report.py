"""``trace-bench report``: tables (CSV, Markdown) and figures (PNG, PDF, SVG) from a folder of result JSON.

Results are keyed by encoder *and* dataset everywhere: the same task run on two datasets gives two
rows (and two figures), never one average.  Results of several seeds are averaged (mean and
standard deviation over seeds).  Written to the report folder:

* ``summary.md``/``.csv``: one row per (encoder, dataset), one column per (task, target) and
  headline metric, as :data:`benchmark.tasks.registry.TASKS` declares them: probe accuracy (MP), kNN
  accuracy all-same at the first k (SP) and SPD_p, PairCams recall@1 both ways and SPD_a (the CSV
  also has each column's standard deviation);
* ``metrics.csv``: every metric, mean and std over seeds, number of seeds and of test samples;
* ``paper_table.md``/``.csv``: the paper's table: encoders grouped SUP, SSL, CVL (sorted within a
  group) × MP per acquisition attribute and per processing family, kNN SPD_p per family and
  retrieval SPD_a, in percent as ``mean ± std`` (:func:`paper_tables`);
* figures (:mod:`benchmark.reporting.plots`): probe accuracy per encoder and PairCams recall@1 per
  (task, target, dataset), each as a 300-dpi PNG, a PDF and an SVG.

Zero-shot results (``trace-bench zeroshot``, :mod:`benchmark.tasks.zeroshot`) get their own section
(``zeroshot.md``/``.csv``, appended to ``summary.md``) and figure (``zeroshot``): zero-shot accuracy
beside the probe's MP per encoder and target (:mod:`benchmark.reporting.zeroshot`).

Dataset audits (``trace-bench audit``: ``audit.json`` files under the folder) get their section
(``audit.md``, appended to ``summary.md``) and figures (:mod:`benchmark.reporting.audit_report`).

Mitigation results (``trace-bench mitigate``, :mod:`benchmark.tasks.mitigation`) carry ``before`` and
``after`` metric sets: they are kept apart per eraser method (task ``mitigate-<method>``) and get
their own section (``mitigation.md``/``.csv``, appended to ``summary.md``) and figure
(``mitigation.png``/``.pdf``/``.svg``: each encoder's trace and semantics before -> after).
"""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmark.errors import UsageError
from benchmark.imaging.processing import FAMILIES
from benchmark.reporting.audit_report import read_audits, write_audit_report
from benchmark.reporting.plots import group_name, group_rank, mitigation_figure, report_figures, save
from benchmark.reporting.zeroshot import CSV_FIELDS, zeroshot_figures, zeroshot_markdown, zeroshot_rows
from benchmark.runs.results import in_percent, read_results
from benchmark.tasks.registry import TASKS
from flickrexif.exif.labels import ATTRIBUTES

# (column, metric) of the mitigation section: the trace (probe, SPD) and the semantics kept (kNN, recall).
MITIGATION_COLUMNS = (
    ("MP", "probe_accuracy"),
    ("SPD_p", "spd_p@k10"),
    ("SP all-same", "all-same@k10"),
    ("SPD_a", "spd_a"),
    ("R@1 query-type", "recall_same_as_query"),
    ("R@1 target-type", "recall_same_as_target"),
)
# The paper table's column groups, in order: task → (its headline column shown, caption).
PAPER_COLUMNS = {
    "probe-acquisition": ("MP", "MP of the acquisition probes, per attribute"),
    "probe-processing": ("MP", "MP of the processing probes, per family"),
    "knn": ("SPD_p", "kNN SPD_p (percentage points), per family"),
    "retrieval": ("SPD_a", "PairCams retrieval SPD_a (percentage points)"),
}
TARGET_ORDER = {"probe-acquisition": tuple(ATTRIBUTES), "probe-processing": tuple(FAMILIES), "knn": tuple(FAMILIES)}


def task_label(result: dict[str, Any]) -> str:
    """The task a result is grouped under: mitigation results apart per eraser method."""
    method = result.get("method")
    return f"{result['task']}-{method}" if result["task"] == "mitigate" and method else result["task"]


def headline_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The few numbers per result that the summary table shows: its task's declared headline."""
    task = TASKS.get(result["task"])
    return task.headline_metrics(result) if task else {}


def n_test_of(result: dict[str, Any]) -> int | None:
    """Test samples of a result (probes: ``n_test``; retrieval: subject pairs), None when not recorded."""
    for source in (result.get("details") or {}, result.get("parameters") or {}):
        for key in ("n_test", "n_queries", "n_subjects"):
            if isinstance(source.get(key), int) and not isinstance(source.get(key), bool):
                return source[key]
    return None


def headline_spreads(runs: list[dict[str, Any]]) -> dict[str, tuple[float, float | None]]:
    """Headline column → (mean, std) over the seeds' results of one (encoder, dataset, task, target).

    With a single seed the std is the result's own spread of that metric (``<metric>_std``, e.g. the
    processing probe's refits) where recorded, else None."""
    task = TASKS.get(runs[0]["task"])
    if task is None:
        return {}
    first_k = runs[0].get("parameters", {}).get("ks", [10])[0]
    values = [headline_metrics(run) for run in runs]
    spreads: dict[str, tuple[float, float | None]] = {}
    for column, metric in task.headline:
        found = [v[column] for v in values if column in v]
        if not found:
            continue
        own = runs[0]["metrics"].get(f"{metric.format(k=first_k)}_std")
        std = statistics.stdev(found) if len(found) > 1 else own if isinstance(own, float | int) else None
        spreads[column] = (statistics.fmean(found), std)
    return spreads


@dataclass(frozen=True)
class Summary:
    long_rows: list[dict[str, Any]]  # every metric, mean/std over seeds, seeds, n_test
    table_rows: list[dict[str, Any]]  # (encoder, dataset) → headline columns (means; "<column> std")
    columns: list[str]
    # (encoder, group, dataset, task, target, column) → mean, std, seeds: what the paper table shows
    headline_rows: list[dict[str, Any]] = field(default_factory=list)
    unread: dict[str, str] = field(default_factory=dict)  # JSON files under the folder that are not results: why
    audits: str = ""  # the dataset audits' section (benchmark.reporting.audit_report), when the folder has some


def summarise(results_dir: str | Path) -> Summary:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    unread: dict[str, str] = {}
    for result in read_results(results_dir, unread):
        key = (
            result.get("encoder", "?"),
            result.get("encoder_group"),
            result.get("dataset", "?"),
            task_label(result),
            result["target"],
        )
        groups[key].append(result)
    long_rows: list[dict[str, Any]] = []
    headline_rows: list[dict[str, Any]] = []
    table: dict[tuple[str, str], dict[str, Any]] = {}
    columns: list[str] = []
    for (encoder, group, dataset, task, target), runs in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        common = {"encoder": encoder, "group": group, "dataset": dataset, "task": task, "target": target}
        for metric in sorted(runs[0]["metrics"]):
            values = [r["metrics"][metric] for r in runs if _number(r["metrics"].get(metric))]
            if not values:
                continue
            long_rows.append(
                {
                    **common,
                    "metric": metric,
                    "mean": statistics.fmean(values),
                    "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                    "seeds": len(values),
                    "n_test": n_test_of(runs[0]),
                }
            )
        row = table.setdefault((encoder, dataset), {"encoder": encoder, "group": group, "dataset": dataset})
        for name, (mean, std) in headline_spreads(runs).items():
            column = f"{task}:{target} {name}"
            row[column], row[f"{column} std"] = mean, std
            headline_rows.append({**common, "column": name, "mean": mean, "std": std, "seeds": len(runs)})
            if column not in columns:
                columns.append(column)
    return Summary(long_rows, list(table.values()), columns, headline_rows, unread)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def results_table(summary: Summary) -> str:
    """The summary a person reads (what ``trace-bench report`` prints): one row per (encoder, dataset,
    task, target) with its headline numbers in percent (SPD in points, ± the std over seeds or refits)
    beside its chance and its test samples; for a folder of dataset audits alone, their section."""
    if not summary.long_rows and summary.audits:
        return summary.audits
    facts: dict[tuple, dict[str, Any]] = {}
    for row in summary.long_rows:
        key = (row["encoder"], row["dataset"], row["task"], row["target"])
        found = facts.setdefault(key, {"n": row["n_test"]})
        if row["metric"] == "chance":
            found["chance"] = row["mean"]
    cells: dict[tuple, list[str]] = defaultdict(list)
    for row in summary.headline_rows:
        key = (row["encoder"], row["dataset"], row["task"], row["target"])
        cells[key].append(f"{row['column']} {in_percent(row['mean'], row['column'], row['std'])}")
    header = ["encoder", "dataset", "task", "target", "result", "chance", "n"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for key, shown in cells.items():
        chance = facts.get(key, {}).get("chance")
        n = facts.get(key, {}).get("n")
        lines.append(
            "| "
            + " | ".join([*map(str, key), ", ".join(shown), f"{100 * chance:.1f}%" if chance else "", str(n or "")])
            + " |"
        )
    return "\n".join(lines) + "\n"


def markdown_table(summary: Summary) -> str:
    header = ["encoder", "group", "dataset", *summary.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in summary.table_rows:
        cells = [str(row["encoder"]), str(row["group"] or ""), str(row["dataset"])]
        cells += [f"{row[c]:.3f}" if isinstance(row.get(c), float) else "" for c in summary.columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class PaperTable:
    """One paper-shaped table: its datasets, column headers, and rows in group order."""

    datasets: tuple[str, ...]
    headers: list[str]
    caption: str
    rows: list[dict[str, Any]]  # group, encoder, then header → cell text ("73.4 ± 0.5")
    chance: dict[str, str]  # header → chance accuracy (%) of the probe columns


def percent(mean: float, std: float | None) -> str:
    """A paper cell: fractions as percent with one decimal, ``73.4 ± 0.5`` (``73.4`` without a std)."""
    return f"{100 * mean:.1f}" if std is None else f"{100 * mean:.1f} ± {100 * std:.1f}"


def _paper_header(task: str, target: str) -> str:
    if task == "knn":
        return f"SPD_p {target}"
    if task == "retrieval":
        return "SPD_a" if target == "paircams" else f"SPD_a {target}"
    return target


def _column_order(key: tuple[str, str]) -> tuple[int, int, str]:
    task, target = key
    order = TARGET_ORDER.get(task, ())
    return list(PAPER_COLUMNS).index(task), order.index(target) if target in order else len(order), target


def _tables_of(entries: list[dict[str, Any]]) -> list[tuple[list[str], set[tuple[str, str]]]]:
    """Datasets sharing a table: one per dataset, except that datasets whose (task, target) columns
    do not overlap (FlickrExif's attributes, a folder's processing families, PairCams) share one."""
    keys: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for entry in entries:
        keys[entry["dataset"]].add((entry["task"], entry["target"]))
    tables: list[tuple[list[str], set[tuple[str, str]]]] = []
    for dataset in sorted(keys):
        home = next((t for t in tables if not t[1] & keys[dataset]), None)
        if home is None:
            tables.append(([dataset], set(keys[dataset])))
        else:
            home[0].append(dataset)
            home[1].update(keys[dataset])
    return tables


def _seed_text(seeds: list[int]) -> str:
    low, high = min(seeds), max(seeds)
    return f"{low} seed{'s' * (high > 1)}" if low == high else f"{low}–{high} seeds"


def paper_tables(summary: Summary) -> list[PaperTable]:
    """The paper's table(s): rows = encoders in group order SUP, SSL, CVL (then others), sorted by
    name within a group; columns = MP per acquisition attribute and processing family, kNN SPD_p
    per family, retrieval SPD_a; cells in percent, mean ± std over seeds (one seed: the refits' std
    where recorded).  One table per dataset, datasets with disjoint columns sharing one
    (:func:`_tables_of`), so no cell ever mixes two datasets."""
    entries = [h for h in summary.headline_rows if PAPER_COLUMNS.get(h["task"], (None,))[0] == h["column"]]
    tables = []
    for datasets, keys in _tables_of(entries):
        ordered = sorted(keys, key=_column_order)
        headers = [_paper_header(*key) for key in ordered]
        header_of = dict(zip(ordered, headers))
        inside = [e for e in entries if e["dataset"] in datasets]
        rows: dict[tuple[str | None, str], dict[str, Any]] = {}
        for entry in inside:
            row = rows.setdefault(
                (entry["group"], entry["encoder"]), {"group": entry["group"], "encoder": entry["encoder"]}
            )
            row[header_of[(entry["task"], entry["target"])]] = percent(entry["mean"], entry["std"])
        chance = {
            header_of[(r["task"], r["target"])]: f"{100 * r['mean']:.1f}"
            for r in summary.long_rows
            if r["metric"] == "chance" and r["dataset"] in datasets and (r["task"], r["target"]) in header_of
        }
        parts = []
        for task, (_, text) in PAPER_COLUMNS.items():
            sources = sorted({e["dataset"] for e in inside if e["task"] == task})
            if sources:
                parts.append(f"{text} on {', '.join(sources)}")
        caption = (
            f"Percent, mean ± std over {_seed_text([e['seeds'] for e in inside])} "
            "(with one seed: over the probe's refits where recorded). " + "; ".join(parts) + "."
        )
        ranked = sorted(rows.values(), key=lambda r: (group_rank(r["group"]), r["encoder"]))
        tables.append(PaperTable(tuple(datasets), headers, caption, ranked, chance))
    return tables


def paper_markdown(tables: list[PaperTable]) -> str:
    """Each table under a heading naming its datasets; a bold row opens each group; chance last."""
    sections = []
    for table in tables:
        lines = [f"## {' + '.join(table.datasets)}", "", table.caption, ""]
        lines += ["| " + " | ".join(["encoder", *table.headers]) + " |", "|" + "---|" * (len(table.headers) + 1)]
        group: object = object()
        for row in table.rows:
            if row["group"] != group:
                group = row["group"]
                lines.append("| " + " | ".join([f"**{group_name(row['group'])}**"] + [""] * len(table.headers)) + " |")
            lines.append("| " + " | ".join([row["encoder"], *(row.get(h, "–") for h in table.headers)]) + " |")
        if table.chance:
            lines.append("| " + " | ".join(["*chance*", *(table.chance.get(h, "") for h in table.headers)]) + " |")
        sections.append("\n".join(lines) + "\n")
    return "\n".join(sections)


def paper_csv_rows(tables: list[PaperTable]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows (datasets, group, encoder, cells; a ``chance`` row per table) and the fields in order."""
    fields = ["datasets", "group", "encoder"]
    rows: list[dict[str, Any]] = []
    for table in tables:
        fields += [h for h in table.headers if h not in fields]
        name = " + ".join(table.datasets)
        rows += [{"datasets": name, **row, "group": group_name(row["group"])} for row in table.rows]
        if table.chance:
            rows.append({"datasets": name, "group": "", "encoder": "chance", **table.chance})
    return rows, fields


def write_report(results_dir: str | Path, out_dir: str | Path | None = None) -> tuple[Summary, list[Path]]:
    """Write the tables and figures (module notes) to ``out_dir`` (default RESULTS/report); returns the files."""
    if not Path(results_dir).is_dir():
        raise UsageError(f"no results folder {results_dir}")
    summary = summarise(results_dir)
    audits = read_audits(results_dir)
    if not summary.long_rows and not audits:
        raise UsageError(f"no result files (nor audit.json) under {results_dir}")
    out = Path(out_dir or Path(results_dir) / "report")
    out.mkdir(parents=True, exist_ok=True)
    if not summary.long_rows:  # a folder of dataset audits only
        section, files = write_audit_report(audits, out)
        _forget_stale(out, files)
        return replace(summary, audits=section), files
    files = [out / "metrics.csv", out / "summary.csv", out / "summary.md"]
    _write_csv(files[0], summary.long_rows)
    with_std = [name for column in summary.columns for name in (column, f"{column} std")]
    _write_csv(files[1], summary.table_rows, ["encoder", "group", "dataset", *with_std])
    files[2].write_text(markdown_table(summary))
    tables = paper_tables(summary)
    if tables:
        files += [out / "paper_table.md", out / "paper_table.csv"]
        files[-2].write_text(paper_markdown(tables))
        _write_csv(files[-1], *paper_csv_rows(tables))
    for stem, figure in report_figures(summary.long_rows):
        files += save(figure, out, stem)
    mitigation = mitigation_rows(results_dir)
    if mitigation:
        files += [out / "mitigation.csv", out / "mitigation.md"]
        _write_csv(files[-2], mitigation)
        section = mitigation_markdown(mitigation)
        files[-1].write_text(section)
        with files[2].open("a") as summary_md:
            summary_md.write("\n## Mitigation\n\n" + section)
        files += save(mitigation_figure(mitigation), out, "mitigation")
    zeroshot = zeroshot_rows(summary.long_rows)
    if zeroshot:
        files += [out / "zeroshot.csv", out / "zeroshot.md"]
        _write_csv(files[-2], zeroshot, CSV_FIELDS)
        section = "## Zero-shot vs linear probe\n\n" + zeroshot_markdown(zeroshot)
        files[-1].write_text(section)
        with files[2].open("a") as summary_md:
            summary_md.write("\n" + section)
        for stem, figure in zeroshot_figures(zeroshot):
            files += save(figure, out, stem)
    if audits:
        section, audit_files = write_audit_report(audits, out)
        files += audit_files
        with files[2].open("a") as summary_md:
            summary_md.write("\n## Dataset audit\n\n" + section)
    _forget_stale(out, files)
    return summary, files


MANIFEST = ".trace-bench-report"  # the files the last report wrote: a new report removes those it no longer writes


def _forget_stale(out: Path, files: list[Path]) -> None:
    """Remove what the previous report here wrote and this one did not (a figure of a renamed dataset);
    files the report never wrote are left alone."""
    manifest = out / MANIFEST
    written = {path.name for path in files}
    if manifest.is_file():
        for name in manifest.read_text().split("\n"):
            if name and name not in written and "/" not in name:
                (out / name).unlink(missing_ok=True)
    manifest.write_text("\n".join(sorted(written)) + "\n")


def _write_csv(path: Path, rows: list[dict[str, Any]], fields: list[str] | None = None) -> None:
    fields = fields or list(rows[0])
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


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
    header = ["encoder", "dataset", "target", "method", "rank", "MP chance", *(c for c, _ in shown)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = [str(row[k]) for k in ("encoder", "dataset", "target", "method", "rank")]
        cells.append(in_percent(row["chance"], "chance") if isinstance(row.get("chance"), float) else "")
        for column, metric in shown:
            if f"{metric} after" in row:
                before, after = (in_percent(row[f"{metric} {when}"], column) for when in ("before", "after"))
                cells.append(f"{before} → {after}")
            else:
                cells.append("")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
