"""Result files: one JSON per (encoder, dataset, task, target, seed), named from a template, each stamped
the same way wherever it was computed (:meth:`ResultStore.save`)."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.errors import UsageError

if TYPE_CHECKING:  # the command line reads the template without importing torch
    from benchmark.tasks.task import TaskResult

DEFAULT_TEMPLATE = "{encoder}/{dataset}/{task}-{target}-seed{seed}.json"


def slug(text: str) -> str:
    """A file-name-safe version of an encoder key or dataset name (``open_clip:ViT-B-16/x`` → ``open_clip_ViT-B-16_x``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "unnamed"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True)
class ResultStore:
    """Where results go: the output option group (``--out``, ``--name-template``, ``--skip-existing``)."""

    root: Path
    template: str = DEFAULT_TEMPLATE
    skip_existing: bool = False  # keep result files that already exist

    def path(self, *, encoder: str, dataset: str, task: str, target: str, seed: int) -> Path:
        try:
            name = self.template.format(
                encoder=slug(encoder), dataset=slug(dataset), task=slug(task), target=slug(target), seed=seed
            )
        except KeyError as error:
            raise UsageError(
                f"unknown field {error} in the result name template {self.template!r}; "
                "fields: encoder, dataset, task, target, seed"
            ) from None
        return self.root / name

    def done(self, path: Path) -> bool:
        """Whether ``path`` is kept as it is (``--skip-existing`` and the file is there)."""
        return self.skip_existing and path.is_file()

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
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(temporary, path)


def read_results(root: str | Path) -> Iterator[dict[str, Any]]:
    """Every result JSON under ``root`` (recursively), skipping files that are not results."""
    for path in sorted(Path(root).rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and {"task", "target", "metrics"} <= set(data):
            data["_path"] = str(path)
            yield data
