"""Result files: one JSON per (encoder, dataset, task, target, seed), named from a template."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_TEMPLATE = "{encoder}/{dataset}/{task}-{target}-seed{seed}.json"


def slug(text: str) -> str:
    """A file-name-safe version of an encoder key or dataset name (``open_clip:ViT-B-16/x`` → ``open_clip_ViT-B-16_x``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "unnamed"


@dataclass(frozen=True)
class ResultStore:
    root: Path
    template: str = DEFAULT_TEMPLATE

    def path(self, *, encoder: str, dataset: str, task: str, target: str, seed: int) -> Path:
        try:
            name = self.template.format(
                encoder=slug(encoder), dataset=slug(dataset), task=slug(task), target=slug(target), seed=seed
            )
        except KeyError as error:
            raise ValueError(
                f"unknown field {error} in the result name template {self.template!r}; "
                "fields: encoder, dataset, task, target, seed"
            ) from None
        return self.root / name

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
