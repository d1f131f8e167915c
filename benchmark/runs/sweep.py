"""Encoders × datasets: what ``trace-bench run|probe|knn|retrieval|mitigate`` do once their options are read.

Every dataset is resolved and checked before any encoder loads, so a typo costs no model download.
Each encoder is then loaded once and run on every dataset.  With several encoders (a sweep, as in
CLIP_benchmark: ``--model a --model b``, ``--model paper`` for the released 47, or a pattern such as
``'siglip*'``) an encoder that cannot be loaded or runs out of memory is recorded (``OUT/sweep.json``)
and the sweep goes on; a single encoder fails as it is, for the command line to report.  A task an
encoder cannot do (zero-shot without a text tower) is skipped and recorded with the reason; an
encoder that can do none of the run's tasks is not even loaded.  With
``--executor ray`` a sweep runs one Ray task per (encoder, dataset), each extracting where it runs.

The command line sees the sweep through a :class:`SweepReporter` (its progress bars and messages);
nothing here prints.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from benchmark.choices import Executor
from benchmark.embeddings.extract import ExtractionOptions, Extractor
from benchmark.encoders.factory import EncoderOptions
from benchmark.encoders.registry import resolve
from benchmark.errors import UsageError
from benchmark.runs.results import ResultStore, now
from benchmark.runs.runner import cannot_do, checked_datasets, plan, planned_results, run
from benchmark.runtime.files import writable_folder
from benchmark.sources.imageset import ImageSet
from benchmark.sources.kinds import Detected, SourceOptions
from benchmark.tasks.task import TaskOptions

PAPER = "paper"  # --model paper: the registry's encoders of the released code
SWEEP_FILE = "sweep.json"


@dataclass(frozen=True)
class Sweep:
    """Everything a run was asked for, as its option groups (what Ray workers receive too)."""

    source: SourceOptions
    encoder: EncoderOptions
    extraction: ExtractionOptions
    tasks: TaskOptions
    results: ResultStore

    def extractor(self, progress: Progress | None = None, executor=None) -> Extractor:
        """The run's :class:`Extractor` (default cache: ``OUT/cache``; default executor: this process)."""
        progress = progress or Progress()
        return self.extraction.extractor(
            device=self.encoder.device,
            precision=self.encoder.precision,
            default_cache=self.results.root / "cache",
            executor=executor,
            on_batch=progress.on_batch,
            on_step=progress.on_step,
        )


@dataclass(frozen=True)
class Outcome:
    """One (encoder, dataset) of a sweep: the result files it wrote, or why it has none."""

    encoder: str
    dataset: str
    results: int
    error: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # task and target -> why it was not run


@dataclass(frozen=True)
class Progress:
    """What a run of one (encoder, dataset) reports as it goes."""

    on_batch: Callable[[int], None] | None = None  # images embedded
    on_task: Callable[[str], None] | None = None  # the task starting
    on_step: Callable[[str, int | None], None] | None = None  # a step of it (embedding a split ...), its images


class SweepReporter(Protocol):
    """How a sweep shows itself (the command line's progress bars and messages)."""

    def loaded(self, encoder: Any) -> None: ...

    def not_run(self, name: str, why: str) -> None: ...

    def skipped(self, name: str, why: str) -> None: ...

    def datasets(self, found: list[tuple[Detected, ImageSet]]) -> None: ...

    def progress(self, label: str) -> contextlib.AbstractContextManager[Progress]: ...


class SilentReporter:
    """A reporter that shows nothing (library use, Ray workers)."""

    def loaded(self, encoder: Any) -> None:
        pass

    def datasets(self, found: list[tuple[Detected, ImageSet]]) -> None:
        pass

    def not_run(self, name: str, why: str) -> None:
        pass

    def skipped(self, name: str, why: str) -> None:
        pass

    @contextlib.contextmanager
    def progress(self, label: str) -> Iterator[Progress]:
        yield Progress()


@dataclass
class SweepResult:
    written: list[Path] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    swept: bool = False  # several encoders: outcomes are recorded in OUT/sweep.json

    @property
    def failed(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.error]


def expand_models(models: tuple[str, ...] | list[str]) -> list[str]:
    """``paper`` → the released encoders; a glob (``*?[``) → the registry's matches; else as given.

    Every name must resolve (a typo stops the run before any work); an encoder named twice runs once.
    """
    from benchmark.encoders.registry import list_encoders

    names: list[str] = []
    seen: set[str] = set()
    for model in models:
        if model == PAPER:
            found = [spec.alias or spec.key for spec in list_encoders() if spec.paper]
        elif any(c in model for c in "*?["):
            found = [spec.alias or spec.key for spec in list_encoders(model)]
            if not found:
                raise UsageError(f"no registered encoder matches {model!r} (see `trace-bench models`)")
        else:
            found = [model]
        for name in found:
            key = resolve(name).key  # an unknown name stops the sweep before any work; alias = its key
            if key not in seen:
                seen.add(key)
                names.append(name)
    return names


def out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or "out of memory" in str(error).lower()


def _recorded(error: BaseException) -> bool:
    """What a sweep records and goes past: what the user can mend (a UsageError, a file) and memory."""
    return isinstance(error, UsageError | OSError) or out_of_memory(error)


def _first_line(error: BaseException) -> str:
    return (str(error) or type(error).__name__).splitlines()[0]


def run_sweep(sweep: Sweep, reporter: SweepReporter | None = None) -> SweepResult:
    """Every encoder of ``sweep`` on every dataset; see the module notes."""
    reporter = reporter or SilentReporter()
    found = checked_datasets(sweep.source, sweep.tasks)  # before any model loads
    reporter.datasets([(detected, plan(detected, sweep.tasks)[0].load()) for detected in found])
    names = expand_models(sweep.encoder.models)
    if sweep.encoder.weights is not None and len(names) > 1:
        raise UsageError(f"--weights FILE belongs to one --model, not to a sweep of {len(names)} encoders")
    sweep.results.check_distinct(planned_results([resolve(name).key for name in names], found, sweep.tasks))
    executor = sweep.extraction.chunk_executor()  # a bad choice or a missing Ray: before any work
    writable_folder(sweep.results.root, "--out")
    writable_folder(sweep.extraction.cache or sweep.results.root / "cache", "--cache")
    outcome = SweepResult(swept=len(names) > 1)
    if outcome.swept and sweep.extraction.executor == Executor.RAY:
        return _fan_out(sweep, names, found, outcome)
    for name in names:
        if (never := cannot_do(resolve(name), sweep.tasks)) is not None:
            if not outcome.swept:
                raise UsageError(never)
            reporter.skipped(name, never)
            outcome.outcomes += [
                Outcome(name, d.label, 0, skipped={task: never for task in sweep.tasks.tasks}) for d in found
            ]
            continue
        encoder, why = _load(sweep.encoder, name, reporter, outcome.swept)
        if encoder is None:
            outcome.outcomes += [Outcome(name, d.label, 0, why) for d in found]
            continue
        reporter.loaded(encoder)
        for detected in found:
            files, error, skipped = _run_one(encoder, detected, sweep, executor, reporter, outcome.swept)
            outcome.written += files
            outcome.outcomes.append(Outcome(encoder.spec.key, detected.label, len(files), error, skipped))
        del encoder
        _free_memory()
    reasons = [why for one in outcome.outcomes for why in one.skipped.values()]
    if not outcome.swept and not outcome.written and reasons:
        raise UsageError(reasons[0])  # one encoder, and nothing of the run it can do
    return outcome


def _load(options: EncoderOptions, name: str, reporter: SweepReporter, swept: bool) -> tuple[Any, str | None]:
    """``(encoder, None)``, or in a sweep ``(None, why)`` for an encoder that cannot be loaded (reported)."""
    if not swept:
        return options.load(name), None
    try:
        return options.load(name), None
    except Exception as error:
        if not _recorded(error):
            raise
        reporter.not_run(name, _first_line(error))
        return None, str(error) or type(error).__name__


def _run_one(
    encoder, detected: Detected, sweep: Sweep, executor, reporter, swept: bool
) -> tuple[list[Path], str | None, dict[str, str]]:
    """One encoder on one dataset: its files, why it has none (in a sweep an out-of-memory error is
    returned, not raised) and the tasks it skipped."""
    label = f"{encoder.spec.key} on {detected.label}"
    skipped: dict[str, str] = {}
    with reporter.progress(label) as progress:
        extractor = sweep.extractor(progress, executor)
        try:
            files = run(
                encoder, detected, extractor, sweep.tasks, sweep.results, progress.on_task, on_skip=skipped.__setitem__
            )
        except Exception as error:
            if not swept or not out_of_memory(error):
                raise
            why = f"out of memory: {_first_line(error)}"
        else:
            why = None
    by_reason: dict[str, list[str]] = {}
    for task, reason in skipped.items():
        by_reason.setdefault(reason, []).append(task)
    for reason, tasks in by_reason.items():  # one line per reason, naming every task and target it stopped
        reporter.skipped(f"{label}: {', '.join(tasks)}", reason)
    if why is not None:
        reporter.not_run(label, "out of memory")
        return [], why, skipped
    return files, None, skipped


def _free_memory() -> None:
    """Let the next encoder of a sweep have the memory of the last one."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _fan_out(sweep: Sweep, names: list[str], found: list[Detected], outcome: SweepResult) -> SweepResult:
    import torch

    from benchmark.embeddings.ray_executor import fan_out

    # a task's torch threads are the CPUs it reserves: as many as here, so its numbers are this run's
    threads = torch.get_num_threads()
    calls = [(name, detected.dataset, sweep, threads) for name in names for detected in found]
    address = sweep.extraction.ray_address
    for files, one in fan_out(sweep_task, calls, address=address, cpus_per_call=threads):
        outcome.written += [Path(f) for f in files]
        outcome.outcomes.append(one)
    return outcome


def sweep_task(name: str, dataset: str, sweep: Sweep, threads: int) -> tuple[list[str], Outcome]:
    """One (encoder, dataset) of a sweep on a Ray worker: load, check, run; failures come back recorded."""
    import torch

    torch.set_num_threads(threads)  # the driver's: the same last bits as a local run
    detected = sweep.source.detect(dataset)
    if (never := cannot_do(resolve(name), sweep.tasks)) is not None:
        return [], Outcome(name, detected.label, 0, skipped={task: never for task in sweep.tasks.tasks})
    try:
        encoder = sweep.encoder.load(name)
    except Exception as error:
        if not _recorded(error):
            raise
        return [], Outcome(name, detected.label, 0, str(error) or type(error).__name__)
    skipped: dict[str, str] = {}
    try:
        files = run(encoder, detected, sweep.extractor(), sweep.tasks, sweep.results, on_skip=skipped.__setitem__)
    except Exception as error:
        if not out_of_memory(error):
            raise
        return [], Outcome(encoder.spec.key, detected.label, 0, f"out of memory: {error}", skipped)
    return [str(f) for f in files], Outcome(encoder.spec.key, detected.label, len(files), skipped=skipped)


def write_sweep_record(outcomes: list[Outcome], out: Path) -> Path:
    """``OUT/sweep.json``: every (encoder, dataset), its result files or why it has none."""
    out.mkdir(parents=True, exist_ok=True)
    record = {"created_at": now(), "outcomes": [asdict(outcome) for outcome in outcomes]}
    path = out / SWEEP_FILE
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
