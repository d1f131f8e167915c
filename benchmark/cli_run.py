"""What ``trace-bench run|probe|knn|retrieval`` do once their options are read: encoders × datasets.

Every dataset is resolved and checked before any encoder loads, so a typo costs no model download.
Each encoder is then loaded once and run on every dataset.  With several encoders (a sweep, as in
CLIP_benchmark: ``--model a --model b``, ``--model paper`` for the released 47, or a pattern such as
``'siglip*'``) an encoder that cannot be loaded or runs out of memory is recorded in
``OUT/sweep.json`` and the sweep goes on; a summary table ends it.  A single encoder fails as before:
one message, exit code 2.
"""

from __future__ import annotations

import gc
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from benchmark.cli_options import probe_config
from benchmark.results import ResultStore
from flickrexif.cli.errors import EXIT_DATA, lookup, reported_errors
from flickrexif.cli.options import progress_bar, stderr
from flickrexif.cli.writers import table_console, write_table

PAPER = "paper"  # --model paper: the registry's encoders of the released code
SWEEP_FILE = "sweep.json"
INTERRUPTED = "Finished embeddings and results are kept; run again with --skip-existing to continue."


@dataclass(frozen=True)
class Outcome:
    """One (encoder, dataset) of a sweep: the result files it wrote, or why it has none."""

    encoder: str
    dataset: str
    results: int
    error: Optional[str] = None


def expand_models(models: list[str]) -> list[str]:
    """``paper`` → the released encoders; a glob (``*?[``) → the registry's matches; else as given.

    Every name must resolve (a typo stops the run before any work); an encoder named twice runs once.
    """
    from benchmark.encoders.registry import list_encoders, resolve

    names: list[str] = []
    seen: set[str] = set()
    for model in models:
        if model == PAPER:
            found = [spec.alias or spec.key for spec in list_encoders() if spec.paper]
        elif any(c in model for c in "*?["):
            found = [spec.alias or spec.key for spec in list_encoders(model)]
            if not found:
                raise ValueError(f"no registered encoder matches {model!r} (see `trace-bench models`)")
        else:
            found = [model]
        for name in found:
            key = resolve(name).key  # an unknown name stops the sweep before any work; alias = its key
            if key not in seen:
                seen.add(key)
                names.append(name)
    return names


def print_results(written: list[Path], out: Path) -> None:
    for path in written:
        result = json.loads(path.read_text())
        headline = ", ".join(f"{k}={v:.3f}" for k, v in result["metrics"].items() if isinstance(v, float))
        typer.echo(f"{result['task']:18} {result['target']:14} seed {result['seed']}: {headline}")
    stderr.print(f"{len(written)} result files in {out}")


def run_sweep(
    models: list[str],
    datasets: list[str],
    out: Path,
    *,
    tasks: tuple[str, ...],
    seeds: list[int],
    mask_ratio: float,
    weights: Optional[Path],
    cache: Optional[Path],
    device: Optional[str],
    batch_size: Optional[int],
    workers: int,
    skip_existing: bool,
    template: str,
    families: Optional[list[str]] = None,
    targets: Optional[list[str]] = None,
    probe_tune_epochs: Optional[int] = None,
    probe_precision: str = "auto",
    probe_refits: int = 10,
    exif_orientation: str = "auto",
    encoder_precision: str = "autocast",
    offline: bool = False,
    revision: Optional[str] = None,
    splits: Optional[list[str]] = None,
    dataset_config: Optional[str] = None,
    vote_ties: str = "released",
    executor: str = "local",
    ray_address: Optional[str] = None,
    ray_workers: Optional[int] = None,
) -> None:
    from benchmark.extract import EmbeddingCache
    from benchmark.processing import FAMILIES
    from benchmark.ray_executor import executor_for
    from benchmark.runner import RunConfig, checked_dataset

    with reported_errors():
        config = RunConfig(
            seeds=tuple(seeds or [0]),
            mask_ratio=mask_ratio,
            tasks=tasks,
            skip_existing=skip_existing,
            probe=probe_config(probe_tune_epochs, probe_precision, device),
            families=tuple(families or FAMILIES),
            targets=tuple(targets) if targets else None,
            exif_orientation=exif_orientation,
            refits=probe_refits,
            vote_ties=vote_ties,
        )
        source = {"revision": revision, "splits": splits, "config": dataset_config}
        found = [checked_dataset(dataset, config, **source) for dataset in datasets]  # before any model loads
        names = expand_models(models)
        if weights is not None and len(names) > 1:
            raise ValueError(f"--weights FILE belongs to one --model, not to a sweep of {len(names)} encoders")
        executor_for(executor, ray_address, ray_workers)  # a bad choice or a missing ray: before any work
    sweep = len(names) > 1
    outcomes: list[Outcome] = []
    written: list[Path] = []
    cache_root = EmbeddingCache(cache or out / "cache")
    extract_options = {"batch_size": batch_size, "device": device, "workers": workers}
    if sweep and executor == "ray":  # one Ray task per (encoder, dataset), each extracting where it runs
        calls = [
            (name, dataset, source, out, template, config, cache_root.root, encoder_precision, extract_options, offline)
            for name in names
            for dataset in datasets
        ]
        with reported_errors(interrupted=INTERRUPTED):
            done = _fan_out(calls, ray_address)
        for files, outcome in done:
            written += [Path(f) for f in files]
            outcomes.append(outcome)
        print_results(written, out)
        _summarise(outcomes, out)
        return
    extract_options |= {"executor": executor, "ray_address": ray_address, "ray_workers": ray_workers}
    for name in names:
        encoder, error = _load(name, weights, device, offline, sweep)
        if encoder is None:
            outcomes += [Outcome(name, d.label, 0, error) for d in found]
            continue
        stderr.print(f"Encoder {encoder.spec.key} ({encoder.weights}), embedding dim {encoder.embed_dim}")
        for detected in found:
            files, error = _run_one(
                encoder, detected, out, template, config, cache_root, sweep, encoder_precision, extract_options
            )
            written += files
            outcomes.append(Outcome(encoder.spec.key, detected.label, len(files), error))
        del encoder
        _free_memory()
    print_results(written, out)
    if sweep:
        _summarise(outcomes, out)


def _fan_out(calls: list[tuple], address: Optional[str]) -> list[tuple[list[str], Outcome]]:
    import torch

    from benchmark.ray_executor import fan_out

    # a task's torch threads are the CPUs it reserves: as many as here, so its numbers are this run's
    threads = torch.get_num_threads()
    return fan_out(sweep_task, [(*call, threads) for call in calls], address=address, cpus_per_call=threads)


def sweep_task(
    name, dataset, source, out, template, config, cache, precision, extract_options, offline, threads
) -> tuple[list[str], Outcome]:
    """One (encoder, dataset) of a sweep on a Ray worker: load, check, run; failures come back recorded."""
    import torch

    from benchmark.extract import EmbeddingCache
    from benchmark.runner import checked_dataset, run
    from benchmark.tasks import ExtractOptions

    torch.set_num_threads(threads)  # the driver's: the same last bits as a local run

    found = checked_dataset(dataset, config, **source)
    encoder, error = _load(name, None, extract_options["device"], offline, sweep=True)
    if encoder is None:
        return [], Outcome(name, found.label, 0, error)
    options = ExtractOptions(cache=EmbeddingCache(cache), encoder_precision=precision, **extract_options)
    try:
        files = run(encoder, found, ResultStore(out, template), options, config)
    except Exception as error:
        if not _out_of_memory(error):
            raise
        return [], Outcome(encoder.spec.key, found.label, 0, f"out of memory: {error}")
    return [str(f) for f in files], Outcome(encoder.spec.key, found.label, len(files))


def _load(name: str, weights: Optional[Path], device: Optional[str], offline: bool, sweep: bool):
    """``(encoder, None)``, or in a sweep ``(None, why)`` for an encoder that cannot be loaded."""
    from benchmark.encoders import load_encoder

    if not sweep:
        with reported_errors():
            return load_encoder(name, weights=weights, device=device or "cpu", offline=offline), None
    try:
        return load_encoder(name, weights=weights, device=device or "cpu", offline=offline), None
    except Exception as error:  # noqa: BLE001 - reported ones are recorded, real bugs re-raised
        if lookup(error) is None and not _out_of_memory(error):
            raise
        why = (str(error) or type(error).__name__).splitlines()[0]
        stderr.print(f"[red]{escape(name)}: not run[/red] ({escape(why)})", highlight=False)
        return None, str(error) or type(error).__name__


def _run_one(
    encoder, detected, out, template, config, cache, sweep, precision, extract_options: dict[str, Any]
) -> tuple[list[Path], str | None]:
    """One encoder on one dataset; in a sweep an out-of-memory error is returned, not raised."""
    from benchmark.runner import run
    from benchmark.tasks import ExtractOptions

    with progress_bar() as bar:
        images = bar.add_task("images", total=None)
        options = ExtractOptions(
            cache=cache, on_batch=lambda n: bar.advance(images, n), encoder_precision=precision, **extract_options
        )
        with reported_errors(stop=bar.stop, interrupted=INTERRUPTED):
            try:
                files = run(
                    encoder,
                    detected,
                    ResultStore(out, template),
                    options,
                    config,
                    on_task=lambda name: bar.update(images, description=f"{detected.label}: {name}"),
                )
            except Exception as error:
                if not sweep or not _out_of_memory(error):
                    raise
                bar.stop()
                stderr.print(f"[red]{encoder.spec.key} on {detected.label}: out of memory[/red]")
                return [], f"out of memory: {(str(error) or type(error).__name__).splitlines()[0]}"
    return files, None


def _out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or "out of memory" in str(error).lower()


def _free_memory() -> None:
    """Let the next encoder of a sweep have the memory of the last one."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def _summarise(outcomes: list[Outcome], out: Path) -> None:
    """``OUT/sweep.json`` and a table: every (encoder, dataset), its result files or why it has none."""
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "outcomes": [asdict(outcome) for outcome in outcomes],
    }
    (out / SWEEP_FILE).write_text(json.dumps(record, indent=2) + "\n")
    rows = [{**asdict(o), "error": (o.error or "").splitlines()[0] if o.error else ""} for o in outcomes]
    columns = {"encoder": "encoder", "dataset": "dataset", "results": "results", "error": "not run because"}
    failed = sum(1 for o in outcomes if o.error)
    write_table(rows, columns, table_console(), title=f"Sweep: {len(outcomes) - failed} of {len(outcomes)} ran")
    if failed:
        stderr.print(f"{failed} (encoder, dataset) pairs did not run; see {out / SWEEP_FILE}")
        raise typer.Exit(code=EXIT_DATA)


def required(values: Optional[list[str]], option: str) -> list[str]:
    """``--model``/``--dataset`` of knn and probe, optional only because ``--embeddings`` replaces them."""
    if not values:
        with reported_errors():
            raise ValueError(
                f"missing {option} (or give --embeddings DIR, a folder of embeddings in the released layout)"
            )
    return values  # type: ignore[return-value]


def run_embeddings(
    embeddings: Path,
    out: Path,
    tasks: tuple[str, ...],
    models: Optional[list[str]],
    datasets: Optional[list[str]],
    seeds: list[int],
    families: Optional[list[str]],
    device: Optional[str],
    skip_existing: bool,
    template: str,
    probe_tune_epochs: Optional[int] = None,
    probe_precision: str = "auto",
    probe_refits: int = 10,
    vote_ties: str = "released",
) -> None:
    """``--embeddings DIR``: the tasks on a released-layout folder; no encoder, no images."""
    from benchmark.embedding_folder import run_folder
    from benchmark.runner import RunConfig

    with reported_errors():
        if models or datasets:
            raise ValueError("--embeddings DIR replaces --model and --dataset: give one or the other")
        probe = probe_config(probe_tune_epochs, probe_precision, device)
        with progress_bar() as bar:
            task = bar.add_task("embeddings", total=None)
            written = run_folder(
                embeddings,
                ResultStore(out, template),
                tasks=tasks,
                families=families,
                seeds=seeds or [0],
                ks=RunConfig().ks,
                probe=probe,
                refits=probe_refits,
                device=device,
                skip_existing=skip_existing,
                on_task=lambda name: bar.update(task, description=name),
                vote_ties=vote_ties,
            )
    print_results(written, out)
