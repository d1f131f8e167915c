"""Result files: one JSON per (encoder, dataset, task, target, seed), named from a template, each stamped
the same way wherever it was computed (:meth:`ResultStore.save`)."""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.errors import UsageError

if TYPE_CHECKING:  # the command line reads the template without importing torch
    from benchmark.tasks.task import TaskResult

DEFAULT_TEMPLATE = "{encoder}/{dataset}/{task}-{target}-seed{seed}.json"
AUDIT_FILE = "audit.json"  # a dataset audit (benchmark.audit) in a results folder: JSON that is not a result
logger = logging.getLogger(__name__)


def slug(text: str) -> str:
    """A file-name-safe version of an encoder key or dataset name (``open_clip:ViT-B-16/x`` → ``open_clip_ViT-B-16_x``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "unnamed"


def in_percent(value: float, metric: str, std: float | None = None) -> str:
    """A result's number as every line and table shows it: accuracies and recalls ``39.4%``,
    differences (SPD) ``+4.5 pp``, with `` ± std`` when given."""
    spread = f" ± {100 * std:.1f}" if std else ""
    return f"{100 * value:+.1f}{spread} pp" if metric.lower().startswith("spd") else f"{100 * value:.1f}{spread}%"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


FIELDS = ("encoder", "dataset", "task", "target", "seed")


@dataclass(frozen=True)
class ResultStore:
    """Where results go: the output option group (``--out``, ``--name-template``, ``--skip-existing``)."""

    root: Path
    template: str = DEFAULT_TEMPLATE
    skip_existing: bool = False  # keep result files that already exist

    def __post_init__(self) -> None:
        self.path(encoder="e", dataset="d", task="t", target="g", seed=0)  # a bad template fails here

    def path(self, *, encoder: str, dataset: str, task: str, target: str, seed: int) -> Path:
        """The result file of one (encoder, dataset, task, target, seed), always inside ``root``."""
        fields = dict(encoder=slug(encoder), dataset=slug(dataset), task=slug(task), target=slug(target), seed=seed)
        try:
            name = self.template.format(**fields)
        except (KeyError, IndexError, ValueError) as error:
            raise UsageError(
                f"--name-template {self.template!r} does not format ({error}); its fields: {', '.join(FIELDS)}"
            ) from None
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.name:
            raise UsageError(
                f"--name-template {self.template!r} gives {name!r}: result names stay inside --out (a relative "
                "path without '..')"
            )
        return self.root / relative

    def check_distinct(self, runs: list[dict[str, object]]) -> None:
        """Every planned result gets its own file (a template without ``{seed}`` would overwrite the other
        seeds' results): a UsageError naming the fields the template lacks."""
        seen: dict[Path, dict[str, object]] = {}
        for run in runs:
            path = self.path(**run)  # type: ignore[arg-type]
            if path in seen and seen[path] != run:
                varies = [field for field in FIELDS if seen[path][field] != run[field]]
                missing = ", ".join("{" + field + "}" for field in varies)
                raise UsageError(
                    f"--name-template {self.template!r} gives two results the same file ({path.name}); add {missing}"
                )
            seen[path] = run

    def done(self, path: Path, warn: bool = True) -> bool:
        """Whether ``path`` is kept as it is: ``--skip-existing`` and a result that reads is there (one
        that does not read is computed again, said once when ``warn``)."""
        if not (self.skip_existing and path.is_file()):
            return False
        if read_result(path) is None:
            if warn:
                logger.warning("result %s does not read: computed again", path)
            return False
        return True

    def save(self, path: Path, result: TaskResult, stamp: dict[str, Any], started: float) -> Path:
        """Write ``result`` with its attachments beside it, stamped with what produced it (``stamp``: at
        least encoder, encoder_group, dataset, seed), how long it took since ``started`` and when."""
        data = result.to_json()
        for attachment in result.attachments:
            file = path.with_suffix(attachment.suffix)
            attachment.write(file, stamp)
            data["parameters"][attachment.parameter] = str(file)
        data.update(stamp, seconds=round(time.perf_counter() - started, 2), created_at=now())
        self.write(path, data)
        return path

    def write(self, path: Path, result: dict[str, Any]) -> None:
        """Write atomically (a temporary file of this process, then a rename): never half a result."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
        try:
            temporary.write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)


def read_result(path: Path) -> dict[str, Any] | None:
    """The result in ``path``, or None when it is not one (not a regular file, not JSON, not a result)."""
    return None if result_problem(path) else json.loads(path.read_text())


def result_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable result, or None when it is one."""
    if not path.is_file():  # a FIFO or a device named *.json: never opened (reading one would block)
        return "not a regular file"
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"does not read as JSON ({(str(error) or type(error).__name__).splitlines()[0]})"
    if not isinstance(data, dict) or not {"task", "target", "metrics"} <= set(data):
        return "not a trace-bench result (no task, target and metrics)"
    if not isinstance(data["metrics"], dict) or not all(isinstance(k, str) for k in data["metrics"]):
        return "not a trace-bench result (metrics is not a table of numbers)"
    return None


def read_results(root: str | Path, unread: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Every result JSON under ``root`` (recursively); files that are not results are skipped and, when
    ``unread`` is given, named there with why (other JSON files of the folder, such as sweep.json, are
    recognised by their content and left out without a word)."""
    for path in sorted(Path(root).rglob("*.json")):
        problem = result_problem(path)
        if problem is None:
            data = json.loads(path.read_text())
            data["_path"] = str(path)
            yield data
        elif unread is not None and path.name not in ("sweep.json", AUDIT_FILE) and "/cache/" not in path.as_posix():
            unread[str(path)] = problem
