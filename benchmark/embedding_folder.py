"""Tasks on embeddings a researcher brings, in the released code's layout (``--embeddings DIR``).

A folder written by the released ``extract_embeddings.py`` (or by ``trace-bench extract --layout
released``) holds, per processing and encoder, the train split (kNN database, probe training) and the
val split (queries, probe test) with their semantic labels.  That is what kNN influence and the
standard-layout processing probe need, so both run on it without images or weights, through the same
code as on an image folder (:func:`benchmark.tasks.knn_result`, :func:`benchmark.tasks.standard_probe_result`);
results land in the same JSON shape, keyed by the registry's encoder when the release names one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from benchmark.encoders.registry import list_encoders
from benchmark.knn import VOTE_TIES
from benchmark.probe import ProbeConfig
from benchmark.released_layout import LayoutEncoder, scan
from benchmark.results import ResultStore
from benchmark.tasks import TaskResult, knn_result, standard_probe_result

TASKS = ("knn", "probe-processing")
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


def run_folder(
    root: Path,
    results: ResultStore,
    *,
    tasks: Sequence[str],
    families: Sequence[str] | None,
    seeds: Sequence[int],
    ks: Sequence[int],
    probe: ProbeConfig,
    refits: int,
    device: str | None = None,
    skip_existing: bool = False,
    on_task: Callable[[str], None] | None = None,
    vote_ties: str = VOTE_TIES[0],
) -> list[Path]:
    """Every task × encoder × complete family × seed of the folder; returns the result files."""
    root = Path(root)
    encoders = scan(root)
    wanted = [t for t in tasks if t in TASKS]
    if not wanted:
        raise ValueError(f"embedding folders carry what {' and '.join(TASKS)} need, not {', '.join(tasks)}")
    written: list[Path] = []
    for encoder in encoders:
        key, group = registry_match(encoder)
        complete = encoder.families()
        chosen = list(families) if families else complete
        for family in chosen:
            if family not in complete:
                raise ValueError(
                    f"{encoder.name} in {root} lacks files for {family}: " + ", ".join(encoder.missing(family)[:4])
                )
        if not chosen:
            raise ValueError(
                f"{encoder.name} in {root} has no processing family complete; e.g. missing "
                + ", ".join(encoder.missing("jpeg")[:4])
            )
        for family in chosen:
            loaded = None
            for task in wanted:
                for seed in seeds if task == "probe-processing" else seeds[:1]:
                    path = results.path(encoder=key, dataset=root.name, task=task, target=family, seed=seed)
                    if skip_existing and path.is_file():
                        written.append(path)
                        continue
                    if on_task:
                        on_task(f"{encoder.name} {task} {family} (seed {seed})")
                    loaded = loaded or {split: encoder.load(family, split) for split in ("train", "val")}
                    start = time.perf_counter()
                    common = {
                        "encoder": {"released": encoder.name, "key": key, "embeddings": str(root)},
                        "dataset": root.name,
                        "fingerprint": folder_fingerprint(encoder),
                        "seed": seed,
                        "layout": LAYOUT,
                    }
                    result = _run_task(task, family, loaded, common, ks, probe, refits, device, vote_ties).to_json()
                    result.update(
                        encoder=key,
                        encoder_group=group,
                        dataset=root.name,
                        seed=seed,
                        seconds=round(time.perf_counter() - start, 2),
                        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    )
                    results.write(path, result)
                    written.append(path)
    return written


def _run_task(task, family, loaded, common, ks, probe, refits, device, vote_ties) -> TaskResult:
    (train, train_labels), (val, val_labels) = loaded["train"], loaded["val"]
    if task == "knn":
        common.update(database_split="train", query_split="val")
        return knn_result(family, (train, train_labels), (val, val_labels), ks, device, common, vote_ties)
    classes = train.shape[1]
    test_x = val.transpose(0, 1).reshape(-1, val.shape[2])  # every val image under every class, class-major
    test_y = torch.arange(classes).repeat_interleave(val.shape[0])
    return standard_probe_result(family, list(train.unbind(1)), test_x, test_y, probe, refits, common)
