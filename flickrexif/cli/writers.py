"""Write rows (dicts) as a terminal table, JSON Lines or CSV: one writer for every command.

Table cells, headers and titles are plain text, never rich markup: a file named ``[red]x.jpg`` or
``photo[1].jpg`` is shown as it is named, and a name that is not valid UTF-8 is shown with escapes.
"""

from __future__ import annotations

import csv
import enum
import json
from collections.abc import Iterable, Mapping
from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from flickrexif.exif.read import printable_name


class OutputFormat(str, enum.Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    """Nested objects become prefixed columns: ``labels.make`` → ``label_make`` style keys."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            prefix = key[:-1] if key.endswith("s") else key
            flat.update({f"{prefix}_{inner}": item for inner, item in value.items()})
        else:
            flat[key] = value
    return flat


def write_jsonl(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
        count += 1
    return count


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    writer = None
    count = 0
    for row in rows:
        flat = flatten(row)
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(flat), extrasaction="ignore")
            writer.writeheader()
        writer.writerow({k: "" if v is None else v for k, v in flat.items()})
        count += 1
    return count


def write_table(
    rows: Iterable[dict[str, Any]], columns: Mapping[str, str], console: Console, title: str | None = None
) -> int:
    """A rich table: ``columns`` maps header → (flattened) row key; missing values stay empty.

    Every value is shown literally (:func:`plain`), so square brackets in data are not markup.
    """
    table = Table(title=None if title is None else Text(printable_name(title), style="table.title"))
    for header in columns:
        table.add_column(plain(header), overflow="fold")
    count = 0
    for row in rows:
        flat = flatten(row)
        table.add_row(*(plain("" if flat.get(key) is None else str(flat.get(key))) for key in columns.values()))
        count += 1
    console.print(table)
    return count


def plain(text: str) -> Text:
    """``text`` as a rich ``Text``: printed literally (no markup), with non-UTF-8 bytes escaped."""
    return Text(printable_name(text))


def table_console() -> Console:
    """Standard output for tables: the terminal's width, or a wide one when redirected."""
    console = Console()
    return console if console.is_terminal else Console(width=240)
