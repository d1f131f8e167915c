"""``trace-bench``: measure what a visual encoder knows about how a photo was made (the command line).

Commands parse their options into groups (:mod:`.options`), call the library and print (:mod:`.output`);
they live in :mod:`.extract`, :mod:`.run` (run, probe, knn, retrieval, zeroshot) and :mod:`.mitigate`, and are
registered here with ``models`` and ``report``.  Nothing imports the CLI.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer

from benchmark.cli.audit import audit_command
from benchmark.cli.extra import require_bench_extra
from benchmark.cli.extract import extract_command
from benchmark.cli.mitigate import mitigate_command
from benchmark.cli.output import reported, show_library_warnings, stderr, written_files
from benchmark.cli.run import knn_command, probe_command, retrieval_command, run_command, zeroshot_command
from flickrexif.cli.options import new_app, version_option
from flickrexif.cli.writers import table_console, write_table

app = new_app(
    "trace-bench: how much processing and acquisition information a visual encoder carries, and how "
    "much it distorts kNN classification and near-duplicate retrieval (FlickrExif, PairCams, any image set)."
)
VersionOption = version_option("trace-bench")


@app.callback()
def main(version: VersionOption = False) -> None:
    """trace-bench command line."""
    from benchmark.runtime.host_memory import keep_freed_memory

    keep_freed_memory()  # CPU forward passes and kNN blocks reuse their memory (benchmark.runtime.host_memory)
    show_library_warnings()
    # what libraries tell their own developers (torch.jit.script is deprecated, ...) is not for this user
    warnings.filterwarnings("ignore", category=FutureWarning)


@app.command("models")
def models_command(
    pattern: Annotated[Optional[str], typer.Argument(help="Filter: substring or glob on alias or key.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (with the exact weights and the released name).")
    ] = False,
    paper: Annotated[
        bool, typer.Option("--paper", help="Only the paper's 47 encoders, as the released code loads them.")
    ] = False,
) -> None:
    """List the registered encoders (`family:name`, alias, group SUP/SSL/CVL, weights, text tower for zero-shot)."""
    from benchmark.encoders import list_encoders
    from benchmark.encoders.registry import text_tower_of

    specs = [s for s in list_encoders(pattern) if s.paper or not paper]
    exact = [s for s in specs if pattern and pattern.strip() in (s.alias, s.key, *s.aliases)]
    if exact and not as_json:
        stderr.print(f"--model {pattern.strip()} runs {exact[0].alias} ({exact[0].key})", highlight=False)
    rows = [
        {
            "alias": s.alias or "",
            "short": ", ".join(s.aliases),
            "key": s.key,
            "group": s.group or "",
            "paper": s.paper,
            "released": s.released,
            "weights": s.weights,
            "text_tower": text.key if (text := text_tower_of(s)) else None,
            "description": s.description,
        }
        for s in specs
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    which = (
        "paper encoders"
        if paper
        else "encoders (also: random:<timm model>, timm:<any>, open_clip:<any>, timm|open_clip:hf-hub:ORG/REPO, timm|open_clip:local-dir:FOLDER)"
    )
    write_table(
        [{**row, "paper": "yes" if row["paper"] else "", "text": _text_cell(row)} for row in rows],
        {
            "alias": "alias",
            "also": "short",
            "key": "key",
            "group": "group",
            "paper": "paper",
            "weights": "weights",
            "text": "text",
        },
        table_console(),
        title=f"{len(rows)} {which}",
    )


def _text_cell(row: dict) -> str:
    """The text tower column: ``own`` (the model has both towers), ``twin`` (an open_clip model holding the same
    image weights has it: ``--json`` names it), or nothing (no zero-shot)."""
    return "" if row["text_tower"] is None else "own" if row["text_tower"] == row["key"] else "twin"


app.command("extract")(extract_command)
app.command("run")(run_command)
app.command("probe")(probe_command)
app.command("knn")(knn_command)
app.command("retrieval")(retrieval_command)
app.command("zeroshot")(zeroshot_command)
app.command("mitigate")(mitigate_command)
app.command("audit")(audit_command)


@app.command("report")
def report_command(
    results: Annotated[Path, typer.Argument(help="Results folder written by `trace-bench run`.")],
    out: Annotated[Optional[Path], typer.Option(help="Report folder (default: RESULTS/report).")] = None,
) -> None:
    """Write CSV and Markdown tables and PNG plots, and print the summary table."""
    with reported():
        require_bench_extra()
        from benchmark.reporting.report import mitigation_markdown, mitigation_rows, results_table, write_report

        summary, files = write_report(results, out)
        mitigation = mitigation_rows(results)
    typer.echo(results_table(summary))
    if mitigation:
        typer.echo("Mitigation (before -> after):\n\n" + mitigation_markdown(mitigation))
    folder = files[0].parent
    stderr.print(f"Wrote {len(files)} files to {folder}: {written_files(files)}", highlight=False)
    if summary.unread:
        first = "; ".join(f"{path}: {why}" for path, why in list(summary.unread.items())[:5])
        stderr.print(
            f"[yellow]{len(summary.unread)} files under {results} are not results and were skipped: {first}[/yellow]"
        )
