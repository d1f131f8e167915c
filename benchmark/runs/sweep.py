"""Encoders × datasets: what ``trace-bench run|probe|knn|retrieval|mitigate`` do once their options are read.

Every dataset is resolved and checked before any encoder loads, so a typo costs no model download.
Each encoder is then loaded once and run on every dataset.  With several encoders (a sweep, as in
CLIP_benchmark: ``--model a --model b``, ``--model paper`` for the released 47, or a pattern such as
``'siglip*'``) the encoders are held together in cohorts (:mod:`.cohort`) whose images are decoded and
processed once for all of them; an encoder that cannot be loaded or runs out of memory is recorded
(``OUT/sweep.json``) and the sweep goes on; a single encoder fails as it is, for the command line to
report.  A task an encoder cannot do (zero-shot without a text tower) is skipped and recorded with the
reason; an encoder that can do none of the run's tasks is not even loaded.  With ``--executor ray`` a
sweep runs one Ray task per (cohort of one input geometry, dataset), each extracting where it runs.

The command line sees the sweep through a :class:`SweepReporter` (its progress bars and messages);
nothing here prints.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from benchmark.choices import Executor
from benchmark.embeddings.executors import LocalExecutor
from benchmark.embeddings.extract import ExtractionOptions, Extractor
from benchmark.encoders.factory import EncoderOptions, encoder_shape
from benchmark.encoders.registry import resolve
from benchmark.errors import UsageError
from benchmark.runs.cohort import plan_cohorts, prepare
from benchmark.runs.results import ResultStore, now
from benchmark.runs.runner import cannot_do, checked_datasets, plan, planned_results, run
from benchmark.runtime.device import encoder_memory_budget
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
    _run_cohorts(sweep, names, found, executor, reporter, outcome)
    reasons = [why for one in outcome.outcomes for why in one.skipped.values()]
    if not outcome.swept and not outcome.written and reasons:
        raise UsageError(reasons[0])  # one encoder, and nothing of the run it can do
    return outcome


def sweep_cohorts(names: Sequence[str], device: str | None, by_geometry: bool = False) -> list[list[int]]:
    """The positions of ``names`` in the cohorts a sweep runs (:func:`.cohort.plan_cohorts`, within the
    device's :func:`~benchmark.runtime.device.encoder_memory_budget`); one encoder is a cohort of one."""
    if len(names) == 1:
        return [[0]]
    shapes = [encoder_shape(name) for name in names]
    return plan_cohorts(shapes, encoder_memory_budget(device), by_geometry)


def _run_cohorts(sweep: Sweep, names: list[str], found: list[Detected], executor, reporter, outcome) -> None:
    """The encoders in cohorts (:mod:`.cohort`): per dataset, what the cohort's tasks embed is prepared
    once for all of them, then each encoder's tasks run on it; an encoder that can do none of the tasks is
    not loaded; outcomes in the order of ``names``."""
    by_position: dict[int, list[Outcome]] = {}
    able = []  # the positions of the encoders that can do some task of the run
    for position, name in enumerate(names):
        if (never := cannot_do(resolve(name), sweep.tasks)) is None:
            able.append(position)
            continue
        if not outcome.swept:
            raise UsageError(never)
        reporter.skipped(name, never)
        skipped = {task: never for task in sweep.tasks.tasks}
        by_position[position] = [Outcome(name, d.label, 0, skipped=skipped) for d in found]
    for members in sweep_cohorts([names[p] for p in able], sweep.encoder.device):
        positions = [able[member] for member in members]
        cohort = []
        for position in positions:
            encoder, why = _load(sweep.encoder, names[position], reporter, outcome.swept)
            if encoder is None:
                by_position[position] = [Outcome(names[position], d.label, 0, why) for d in found]
                continue
            reporter.loaded(encoder)
            cohort.append((position, encoder))
        encoders = [encoder for _, encoder in cohort]
        for detected in found:
            if len(encoders) > 1:
                _prepare(encoders, detected, sweep, executor, reporter)
            for position, encoder in cohort:
                files, error, skipped = _run_one(encoder, detected, sweep, executor, reporter, outcome.swept)
                outcome.written += files
                by_position.setdefault(position, []).append(
                    Outcome(encoder.spec.key, detected.label, len(files), error, skipped)
                )
        del cohort, encoders
        _free_memory()
    outcome.outcomes += [one for position in sorted(by_position) for one in by_position[position]]


def _prepare(encoders: list[Any], detected: Detected, sweep: Sweep, executor, reporter) -> None:
    """What the cohort's tasks embed on ``detected``, prepared once for all (:func:`.cohort.prepare`); out of
    memory, each encoder prepares its own (:func:`_run_one`)."""
    with reporter.progress(f"{len(encoders)} encoders on {detected.label}") as progress:
        try:
            prepare(encoders, detected, sweep.tasks, sweep.results, sweep.extractor(progress, executor))
            return
        except Exception as error:
            if not out_of_memory(error):
                raise
            why = f"out of memory: {_first_line(error)}"
    reporter.not_run(f"{len(encoders)} encoders together on {detected.label}", f"{why}; each runs alone")


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
    """One encoder on one dataset (what its tasks embed prepared first, unless its cohort did): its files,
    why it has none (in a sweep an out-of-memory error is returned, not raised) and the tasks it skipped."""
    label = f"{encoder.spec.key} on {detected.label}"
    skipped: dict[str, str] = {}
    with reporter.progress(label) as progress:
        extractor = sweep.extractor(progress, executor)
        try:
            prepare([encoder], detected, sweep.tasks, sweep.results, extractor)
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
    """One Ray task per (cohort of one input geometry, dataset): every GPU of the cluster gets work, and the
    encoders of a geometry still share their preparation where they run."""
    import torch

    from benchmark.embeddings.ray_executor import fan_out

    # a task's torch threads are the CPUs it reserves: as many as here, so its numbers are this run's
    threads = torch.get_num_threads()
    groups = [[names[p] for p in cohort] for cohort in sweep_cohorts(names, sweep.encoder.device, by_geometry=True)]
    calls = [(group, detected.dataset, sweep, threads) for group in groups for detected in found]
    address = sweep.extraction.ray_address
    order = {name: position for position, name in enumerate(names)} | {resolve(n).key: p for p, n in enumerate(names)}
    labels = {detected.label: position for position, detected in enumerate(found)}
    done: list[Outcome] = []
    for files, outcomes in fan_out(sweep_task, calls, address=address, cpus_per_call=threads):
        outcome.written += [Path(f) for f in files]
        done += outcomes
    outcome.outcomes += sorted(done, key=lambda one: (order[one.encoder], labels[one.dataset]))
    return outcome


def sweep_task(names: list[str], dataset: str, sweep: Sweep, threads: int) -> tuple[list[str], list[Outcome]]:
    """A cohort of a sweep on one dataset on a Ray worker, as a local sweep runs it there (cohorts within
    the worker's device memory): load, prepare, run; failures come back recorded."""
    import torch

    torch.set_num_threads(threads)  # the driver's: the same last bits as a local run
    done = SweepResult(swept=True)
    _run_cohorts(sweep, names, [sweep.source.detect(dataset)], LocalExecutor(), SilentReporter(), done)
    return [str(f) for f in done.written], done.outcomes


def write_sweep_record(outcomes: list[Outcome], out: Path) -> Path:
    """``OUT/sweep.json``: every (encoder, dataset), its result files or why it has none."""
    out.mkdir(parents=True, exist_ok=True)
    record = {"created_at": now(), "outcomes": [asdict(outcome) for outcome in outcomes]}
    path = out / SWEEP_FILE
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
