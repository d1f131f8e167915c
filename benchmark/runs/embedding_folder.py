"""Tasks on embeddings a researcher brings, in the released code's layout (``--embeddings DIR``).

A folder written by the released ``extract_embeddings.py`` (or by ``trace-bench extract --layout
released``) holds, per processing and encoder, the train split (kNN database, probe training) and the
val split (queries, probe test) with their semantic labels.  That is what kNN influence, the
standard-layout processing probe and the mitigation of a processing family need, so they run on it
without images or weights, through the same code as on an image folder; results land in the same
JSON shape, keyed by the registry's encoder when the release names one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmark.embeddings.released_layout import LayoutEncoder, scan
from benchmark.encoders.registry import list_encoders
from benchmark.errors import UsageError
from benchmark.runs.results import ResultStore
from benchmark.runtime.files import writable_folder
from benchmark.tasks.knn import knn_result
from benchmark.tasks.mitigation import mitigation_result
from benchmark.tasks.probing import standard_probe_result
from benchmark.tasks.registry import TASKS, check_tasks
from benchmark.tasks.task import TaskOptions, TaskResult

FOLDER_TASKS = ("knn", "probe-processing", "mitigate")
SEEDED = ("probe-processing", "mitigate")  # kNN on fixed embeddings does not depend on the seed
LAYOUT = "released embeddings"


def folder_fingerprint(encoder: LayoutEncoder) -> str:
    """Hash of the encoder's file names and sizes: results of a changed folder are told apart."""
    stamp = sorted(
        f"{p}/{s}:{path.stat().st_size}" for p, splits in encoder.files.items() for s, path in splits.items()
    )
    return hashlib.sha256("\n".join(stamp).encode()).hexdigest()[:16]


def registry_match(encoder: LayoutEncoder) -> tuple[str, str | None]:
    """(result key, group): the registry's paper encoder with this ``model,variant``, else the name itself."""
    for spec in list_encoders():
        if spec.released == encoder.name:
            return spec.key, spec.group
    return encoder.name, None


def _families(encoder: LayoutEncoder, root: Path, families: tuple[str, ...] | None) -> list[str]:
    """The families asked for (default: every complete one), each with all its files."""
    complete = encoder.families()
    chosen = list(families) if families else complete
    for family in chosen:
        if family not in complete:
            raise UsageError(
                f"{encoder.name} in {root} lacks files for {family}: " + ", ".join(encoder.missing(family)[:4])
            )
    if not chosen:
        raise UsageError(
            f"{encoder.name} in {root} has no processing family complete; e.g. missing "
            + ", ".join(encoder.missing("jpeg")[:4])
        )
    return chosen


def run_folder(
    root: Path,
    results: ResultStore,
    options: TaskOptions,
    *,
    device: str | None = None,
    on_task: Callable[[str], None] | None = None,
) -> list[Path]:
    """Every task × encoder × family × seed of the folder (``options.families``, default: every family
    complete in the folder); returns the result files."""
    check_tasks(options)
    root = Path(root)
    encoders = scan(root)
    writable_folder(results.root, "--out")
    wanted = [t for t in options.tasks if t in FOLDER_TASKS]
    if not wanted:
        raise UsageError(f"embedding folders carry what {', '.join(FOLDER_TASKS)} need, not {', '.join(options.tasks)}")
    written: list[Path] = []
    for encoder in encoders:
        key, group = registry_match(encoder)
        loaded: dict[str, Any] = {}
        for family in _families(encoder, root, options.families):
            for task in wanted:
                for seed in options.seeds if task in SEEDED else options.seeds[:1]:
                    name = TASKS[task].file_task(options)
                    path = results.path(encoder=key, dataset=root.name, task=name, target=family, seed=seed)
                    if results.done(path):
                        written.append(path)
                        continue
                    if on_task:
                        on_task(f"{encoder.name} {task} {family} (seed {seed})")
                    if family not in loaded:
                        loaded[family] = tuple(encoder.load(family, split) for split in ("train", "val"))
                    started = time.perf_counter()
                    common = {
                        "encoder": {"released": encoder.name, "key": key, "embeddings": str(root)},
                        "dataset": root.name,
                        "fingerprint": folder_fingerprint(encoder),
                        "seed": seed,
                        "layout": LAYOUT,
                    }
                    result = _run_task(task, family, loaded[family], common, options, device)
                    stamp = {"encoder": key, "encoder_group": group, "dataset": root.name, "seed": seed}
                    written.append(results.save(path, result, stamp, started))
    return written


def _run_task(task: str, family: str, loaded, common: dict[str, Any], options: TaskOptions, device) -> TaskResult:
    (train, train_labels), (val, val_labels) = loaded
    if task == "knn":
        common.update(database_split="train", query_split="val")
        return knn_result(
            family, (train, train_labels), (val, val_labels), options.ks, device, common, options.vote_ties
        )
    if task == "mitigate":
        common.update(database_split="train", query_split="val")
        return mitigation_result(family, loaded, common, options, device)
    classes = train.shape[1]
    test_x = val.transpose(0, 1).reshape(-1, val.shape[2])  # every val image under every class, class-major
    test_y = torch.arange(classes).repeat_interleave(val.shape[0])
    return standard_probe_result(family, list(train.unbind(1)), test_x, test_y, options.probe, options.refits, common)
