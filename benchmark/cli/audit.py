"""``trace-bench audit``: is YOUR dataset confounded by camera and processing, and does your encoder follow it?
(:mod:`benchmark.audit`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

from benchmark.cli.options import (
    OPTIONS,
    audit_group,
    encoder_group,
    extraction_group,
    single,
    source_group,
    with_groups,
)
from benchmark.cli.output import reported, stderr, warn_skipped
from flickrexif.cli.options import progress_bar
from flickrexif.cli.writers import table_console, write_table

AUDIT_OUT = replace(
    OPTIONS["out"],
    default=Path("audit"),
    help="Audit folder: audit.json, audit.md, the metadata and embedding caches (default: ./audit).",
)
AUDIT_MODEL = replace(
    OPTIONS["model"],
    kind=Optional[str],
    default=None,
    help="An encoder (see `trace-bench models`): adds the kNN split by metadata and the flip rates of "
    "re-processed queries.",
)
AuditOut = AUDIT_OUT.annotation
AUDIT_DATASET = single(
    "dataset",
    "A labelled image set: a folder of class folders (train/ val/ too), a Hugging Face dataset (its id or folder; "
    "--label-column), a FlickrExif or PairCams release.",
)


def bar_steps(bar) -> Callable[[str, int | None], Callable[[int], None]]:
    """The audit's steps as tasks of one progress bar (each starts when the last is done)."""

    def start(name: str, total: int | None) -> Callable[[int], None]:
        task = bar.add_task(name, total=total)
        return lambda done: bar.advance(task, done)

    return start


@with_groups(
    source=source_group(AUDIT_DATASET),
    encoder=encoder_group(AUDIT_MODEL),
    extraction=extraction_group(),
    audit=audit_group(),
)
def audit_command(out: AuditOut = AUDIT_OUT.default, *, source, encoder, extraction, audit) -> None:
    """Audit a labelled dataset: which metadata of its files (camera, JPEG, size) goes with the class, and
    with --model how far the encoder's neighbours follow it; writes audit.json and audit.md."""
    import json

    from benchmark.audit.audit import run_audit

    with progress_bar() as bar, reported(stop=bar.stop):
        found = source.detect(source.datasets[0])
        files = run_audit(found, audit, out, encoder, extraction, bar_steps(bar))
    result = json.loads(files[0].read_text())
    print_associations(result)
    stderr.print(f"Wrote {', '.join(str(f) for f in files)}")
    dataset = result["dataset"]
    left_out = dataset.get("skipped_by_source") or {}
    warn_skipped(
        dataset["name"],
        dataset["unreadable"]["count"] + len(left_out),
        {**left_out, **dataset["unreadable"]["first"]},
        "audit.json names them",
    )


def print_associations(result: dict[str, Any]) -> None:
    """The association table on stdout, strongest first, and what the encoder follows."""
    rows = [
        {
            **entry,
            "cramers_v": f"{entry['cramers_v']:.2f}",
            "nmi": f"{entry['nmi']:.2f}",
            "p_value": f"{entry['p_value']:.3g}",
            "p_adjusted": f"{entry['p_adjusted']:.3g}",
            "known": f"{entry['known']}/{entry['known'] + entry['unknown']}",
            "confounded": "yes" if entry["confounded"] else "",
            **_split(result, entry["attribute"]),
        }
        for entry in sorted(result["associations"], key=lambda e: -e["cramers_v"])
    ]
    columns = {
        "attribute": "attribute",
        "Cramér's V": "cramers_v",
        "NMI": "nmi",
        "p": "p_value",
        "p (Holm)": "p_adjusted",
        "known": "known",
        "values": "values",
        "confounded": "confounded",
    }
    if "encoder" in result:
        columns |= {"SPD": "spd", "neg-same drop": "drop", "reliance": "reliance"}
    shortcut = result["shortcut"]
    title = (
        f"{result['dataset']['name']}: metadata vs class ({result['dataset']['audited']} images); the metadata alone "
        f"predicts {100 * shortcut['accuracy']:.0f}% (majority {100 * shortcut['majority_baseline']:.0f}%)"
    )
    write_table(rows, columns, table_console(), title=title)


def _split(result: dict[str, Any], attribute: str) -> dict[str, str]:
    split = result.get("encoder", {}).get("knn", {}).get(attribute, {})
    return {key: f"{split[key]:+.2f}" for key in ("spd", "drop", "reliance") if key in split}
