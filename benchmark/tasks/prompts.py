"""The zero-shot class prompts: a JSON table of templates per target, read and checked once.

The package's table is ``benchmark/data/zeroshot_templates.json`` (its ``about`` says the format);
``--templates FILE`` replaces it.  :class:`PromptTemplates` holds the parsed table with the sha256 of
its bytes, which keys the text embeddings cached from it, and builds each class's prompts.  A table
that does not parse, or an entry that could give a class no prompt, is a UsageError naming the file.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import UsageError

FORMAT = 1
PLACEHOLDER = "{c}"  # where a template puts the class name
_ENTRY_FIELDS = {"templates", "names", "prompts"}


@dataclass(frozen=True)
class PromptTemplates:
    """A prompt table: where it came from, the sha256 of its bytes, and target → entry."""

    source: str
    sha256: str
    targets: Mapping[str, Mapping[str, Any]]

    def record(self) -> dict[str, str]:
        """What a result records about the table."""
        return {"source": self.source, "sha256": self.sha256}

    def prompts(self, target: str, classes: Sequence[str]) -> list[list[str]]:
        """The prompts of each class of ``target``, in class order: the class's own ``prompts`` list, else
        each template with ``{c}`` replaced by its ``names`` entry (or the class label itself)."""
        entry = self.targets.get(target)
        if entry is None:
            raise UsageError(f"{self.source} has no prompts for {target!r}; it has: {', '.join(self.targets)}")
        templates, names, own = entry.get("templates", []), entry.get("names", {}), entry.get("prompts", {})
        found = []
        for name in classes:
            if name in own:
                found.append(list(own[name]))
            elif templates:
                found.append([template.replace(PLACEHOLDER, names.get(name, name)) for template in templates])
            else:
                raise UsageError(
                    f"{self.source}: {target!r} has no templates and no prompts for class {name!r} "
                    f"(its prompts name {', '.join(own) or 'no class'})"
                )
        return found


def read_templates(path: str | Path | None = None) -> PromptTemplates:
    """The table in ``path``, or the package's own (None); a UsageError says what is wrong with a file."""
    if path is None:
        return default_templates()
    file = Path(path).expanduser()
    if not file.is_file():
        raise UsageError(f"--templates {path}: no such file")
    return parse_templates(file.read_bytes(), str(file))


@functools.cache
def default_templates() -> PromptTemplates:
    data = importlib.resources.files("benchmark").joinpath("data", "zeroshot_templates.json").read_bytes()
    return parse_templates(data, "benchmark/data/zeroshot_templates.json")


def parse_templates(data: bytes, source: str) -> PromptTemplates:
    """Check a table's bytes: format, one entry per target, each entry able to prompt every class."""
    try:
        table = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{source} is not JSON ({str(error).splitlines()[0]})") from None
    if not isinstance(table, dict) or table.get("format") != FORMAT or not isinstance(table.get("targets"), dict):
        raise UsageError(f'{source}: a prompt table is {{"format": {FORMAT}, "targets": {{TARGET: ENTRY, ...}}}}')
    for target, entry in table["targets"].items():
        _check_entry(source, target, entry)
    if not table["targets"]:
        raise UsageError(f"{source} has no targets")
    return PromptTemplates(source, hashlib.sha256(data).hexdigest(), table["targets"])


def _check_entry(source: str, target: str, entry: Any) -> None:
    where = f"{source}: {target!r}"
    if not isinstance(entry, dict) or not entry or set(entry) - _ENTRY_FIELDS:
        raise UsageError(f"{where} must be an object of {', '.join(sorted(_ENTRY_FIELDS))}")
    templates, names, own = entry.get("templates", []), entry.get("names", {}), entry.get("prompts", {})
    if not _strings(templates) or any(PLACEHOLDER not in t for t in templates):
        raise UsageError(f"{where}: templates is a list of texts, each with {PLACEHOLDER} where the class goes")
    if not isinstance(names, dict) or not _strings(list(names.values())):
        raise UsageError(f"{where}: names maps a class label to the text put in for {PLACEHOLDER}")
    if not isinstance(own, dict) or not all(_strings(p) and p for p in own.values()):
        raise UsageError(f"{where}: prompts maps a class label to a non-empty list of prompts")
    if not templates and not own:
        raise UsageError(f"{where} has neither templates nor prompts")


def _strings(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) and v.strip() for v in values)
