"""The layout's rules, checked from the source (AST), so a change that breaks one fails CI.

ARCHITECTURE.md states them: which layer may import which, no import cycles, no module over 600
lines, one release sequence, SQL only in the crawl store, the test stand-ins never imported by the
product.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRODUCT = ("flickrexif", "paircams", "benchmark")
MAX_LINES = 600

_BENCH_BASE = ("benchmark.errors", "benchmark.choices")
_BENCH_DATA = ("benchmark.runtime", "benchmark.imaging", "benchmark.sources", "flickrexif.exif")
_BENCH_TASKS = (*_BENCH_BASE, *_BENCH_DATA, "benchmark.encoders", "benchmark.embeddings", "benchmark.protocols")

# Layer → the toolkit packages its modules may import (besides their own layer).
ALLOWED: dict[str, tuple[str, ...]] = {
    "flickrexif.exif": (),
    "flickrexif.crawl": ("flickrexif.exif",),
    "flickrexif.publish": ("flickrexif.exif",),
    "flickrexif.dataset": ("flickrexif.exif", "flickrexif.crawl", "flickrexif.publish"),
    "flickrexif.cli": ("flickrexif", "flickrexif.exif", "flickrexif.crawl", "flickrexif.publish", "flickrexif.dataset"),
    # the test stand-ins may use the whole of flickrexif; no product module may import them
    "flickrexif.testing": ("flickrexif", "flickrexif.exif", "flickrexif.crawl", "flickrexif.publish"),
    "paircams": ("flickrexif.exif", "flickrexif.publish", "flickrexif.cli"),
    # trace-bench, bottom up: each layer may import the ones listed (its errors and choices everywhere)
    "benchmark": (),
    "benchmark.errors": (),
    "benchmark.choices": ("benchmark.errors",),
    **{layer: _BENCH_BASE for layer in ("benchmark.runtime", "benchmark.imaging")},
    "benchmark.sources": (*_BENCH_BASE, "benchmark.imaging", "flickrexif.exif"),
    "benchmark.encoders": (*_BENCH_BASE, "benchmark.imaging", "benchmark.runtime"),
    "benchmark.embeddings": (*_BENCH_BASE, *_BENCH_DATA, "benchmark.encoders"),
    "benchmark.protocols": (*_BENCH_BASE, "benchmark.runtime"),  # pure maths: no tasks, files or encoders
    "benchmark.tasks": _BENCH_TASKS,
    "benchmark.runs": (*_BENCH_TASKS, "benchmark.tasks"),
    # the dataset audit: a dataset's metadata against its classes, then an encoder's kNN through the layers above
    "benchmark.audit": (*_BENCH_TASKS, "benchmark.tasks", "benchmark.runs"),
    "benchmark.reporting": (
        *_BENCH_BASE,
        "benchmark.imaging",
        "benchmark.tasks",
        "benchmark.runs",
        "benchmark.audit",
        "flickrexif.exif",
    ),
    # the command line may import everything but the test stand-ins; nothing imports it
    "benchmark.cli": (
        *_BENCH_TASKS,
        "benchmark.tasks",
        "benchmark.runs",
        "benchmark.audit",
        "benchmark.reporting",
        "flickrexif.cli",
    ),
    "benchmark.testing": (*_BENCH_TASKS, "benchmark.tasks", "benchmark.runs"),
    # the package roots: version, ``python -m flickrexif``, a re-export kept for the README
    "flickrexif": ("flickrexif.exif", "flickrexif.cli"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_files() -> list[Path]:
    return sorted(p for package in PRODUCT for p in (REPO / package).rglob("*.py"))


def imports_of(path: Path) -> Iterator[str]:
    """Every toolkit module ``path`` imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        yield from (name for name in names if name.split(".")[0] in PRODUCT)


def layer_of(module: str) -> str:
    """The most specific layer in :data:`ALLOWED` that ``module`` belongs to."""
    return max((layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")), key=len)


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def existing_module(name: str) -> str | None:
    """``name`` if it is a product module or package (not a name inside one), else its parent's."""
    while name:
        path = REPO / name.replace(".", "/")
        if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file():
            return name
        name = name.rpartition(".")[0]
    return None


def test_every_layer_imports_only_what_its_rule_allows():
    broken = []
    for path in product_files():
        module = module_name(path)
        layer = layer_of(module)
        for imported in imports_of(path):
            target = layer_of(imported)
            if target != layer and target not in ALLOWED[layer]:
                broken.append(f"{module} ({layer}) imports {imported} ({target})")
    assert broken == [], "\n".join(broken)


def importers_of(package: str) -> list[str]:
    """Product modules outside ``package`` that import it."""
    return [
        f"{module_name(path)} imports {name}"
        for path in product_files()
        if not within(module_name(path), package)
        for name in imports_of(path)
        if within(name, package)
    ]


def test_nothing_imports_the_command_line_of_trace_bench():
    assert importers_of("benchmark.cli") == []


def test_protocols_import_no_tasks_runs_or_files():
    found = [
        f"{module_name(path)} imports {name}"
        for path in product_files()
        if within(module_name(path), "benchmark.protocols")
        for name in imports_of(path)
        if any(
            within(name, layer)
            for layer in ("benchmark.tasks", "benchmark.runs", "benchmark.embeddings", "benchmark.sources")
        )
    ]
    assert found == []


def test_the_product_never_imports_the_test_stand_ins():
    assert importers_of("benchmark.testing") == [] and importers_of("flickrexif.testing") == []


MAX_MODULES = 8  # a room of trace-bench one can take in at a glance


@pytest.mark.parametrize(
    "folder", sorted({p.parent for p in (REPO / "benchmark").rglob("*.py")}), ids=lambda p: str(p.relative_to(REPO))
)
def test_no_folder_of_trace_bench_holds_more_than_8_modules(folder):
    modules = [p.name for p in folder.glob("*.py") if p.name != "__init__.py"]
    assert len(modules) <= MAX_MODULES, f"{folder.relative_to(REPO)}: {sorted(modules)}"


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for path in product_files():
        module = module_name(path)
        targets = {existing_module(name) for name in imports_of(path)}
        graph[module] = {t for t in targets if t and t != module and not within(module, t)}
    cycles = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("path", product_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_is_over_600_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(REPO)} has {lines} lines; split it by idea"


def test_one_release_sequence():
    found = [
        f"{path.relative_to(REPO)}"
        for path in product_files()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef) and node.name == "release"
    ]
    assert found == ["flickrexif/publish/release.py"]


SQL = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE TABLE)\b.*\b(FROM|INTO|SET|WHERE)\b|sqlite3\.connect|\.execute\("
)


def test_sql_only_in_the_crawl_store():
    store = REPO / "flickrexif" / "crawl" / "store.py"
    speaking = [
        f"{path.relative_to(REPO)}:{number}"
        for path in product_files()
        if path != store
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SQL.search(line)
    ]
    assert speaking == [], "SQL outside flickrexif/crawl/store.py:\n" + "\n".join(speaking)


def test_the_rules_know_every_package():
    for path in product_files():
        assert layer_of(module_name(path)) in ALLOWED
