"""``trace-bench run|probe|knn|retrieval|zeroshot``: encoders × datasets into result files (:mod:`benchmark.runs`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.cli.options import (
    EMBEDDINGS,
    PLAN,
    PLAN_JSON,
    encoder_group,
    extraction_group,
    optional,
    results_group,
    source_group,
    tasks_group,
    with_groups,
)
from benchmark.cli.output import INTERRUPTED, ConsoleReporter, print_plan, print_results, print_sweep, reported
from benchmark.errors import UsageError

PROBES = ("probe-processing", "probe-acquisition")
RUN_TASKS = (*PROBES, "knn", "retrieval", "zeroshot")  # benchmark.tasks.registry.RUN_TASKS (tested), without torch
PROBE_OPTIONS = ("seed", "mask_ratio", "family", "target", "probe_tune_epochs", "probe_precision", "probe_refits")
EmbeddingsOption = EMBEDDINGS.annotation
PlanOption, PlanJsonOption = PLAN.annotation, PLAN_JSON.annotation


def sweep(source, encoder, extraction, tasks, results) -> None:
    """Run the sweep and print its results (and, for several encoders, its table and record)."""
    from benchmark.runs.sweep import Sweep, run_sweep, write_sweep_record

    if not encoder.models or not source.datasets:
        missing = "--model" if not encoder.models else "--dataset"
        raise UsageError(f"missing {missing} (or give --embeddings DIR, a folder of embeddings in the released layout)")
    reporter = ConsoleReporter()
    with reported(interrupted=INTERRUPTED, stop=reporter.stop):
        done = run_sweep(Sweep(source, encoder, extraction, tasks, results), reporter)
    print_results(done.written, results.root)
    if done.swept:
        print_sweep(done.outcomes, write_sweep_record(done.outcomes, results.root))


def measure(embeddings: Path | None, source, encoder, extraction, tasks, results) -> None:
    """The tasks on ``--embeddings DIR``, or else on ``--model`` x ``--dataset``."""
    with reported():
        if embeddings is not None:
            on_embeddings(embeddings, source, encoder, tasks, results)
        else:
            sweep(source, encoder, extraction, tasks, results)


def on_embeddings(embeddings: Path, source, encoder, tasks, results) -> None:
    """``--embeddings DIR``: the tasks on a released-layout folder; no encoder, no images."""
    from benchmark.runs.embedding_folder import run_folder
    from flickrexif.cli.options import progress_bar

    if encoder.models or source.datasets:
        raise UsageError("--embeddings DIR replaces --model and --dataset: give one or the other")
    with progress_bar() as bar, reported(stop=bar.stop):
        task = bar.add_task("embeddings", total=None)
        on_task: Any = lambda name: bar.update(task, description=name)  # noqa: E731
        written = run_folder(embeddings, results, tasks, device=encoder.device, on_task=on_task)
    print_results(written, results.root)


@with_groups(
    source=source_group(),
    encoder=encoder_group(),
    extraction=extraction_group(),
    tasks=tasks_group(RUN_TASKS, *PROBE_OPTIONS, "vote_ties", "templates"),
    results=results_group(),
)
def run_command(
    plan: PlanOption = False, plan_json: PlanJsonOption = False, *, source, encoder, extraction, tasks, results
) -> None:
    """Run every task that applies to the dataset.

    FlickrExif releases get masked acquisition probes per attribute, PairCams gets retrieval,
    other image sets get processing probes (and kNN influence when they have classes); encoders with
    a text tower also get zero-shot on the probes' targets.
    """
    with reported():
        if not planned(plan, plan_json, source, encoder, extraction, tasks, results):
            sweep(source, encoder, extraction, tasks, results)


def planned(plan: bool, plan_json: bool, source, encoder, extraction, tasks, results) -> bool:
    """``--plan`` (``--json``): print the sweep's plan instead of running it; whether it did."""
    if plan_json and not plan:
        raise UsageError("--json prints the plan: give it with --plan")
    if not plan:
        return False
    from benchmark.runs.planning import plan_sweep
    from benchmark.runs.sweep import Sweep

    print_plan(plan_sweep(Sweep(source, encoder, extraction, tasks, results)), as_json=plan_json)
    return True


@with_groups(
    source=source_group(optional("dataset")),
    encoder=encoder_group(optional("model")),
    extraction=extraction_group(),
    tasks=tasks_group(PROBES, *PROBE_OPTIONS),
    results=results_group(),
)
def probe_command(embeddings: EmbeddingsOption = None, *, source, encoder, extraction, tasks, results) -> None:
    """Linear probes only: processing labels, or acquisition labels on FlickrExif (masked)."""
    measure(embeddings, source, encoder, extraction, tasks, results)


@with_groups(
    source=source_group(optional("dataset")),
    encoder=encoder_group(optional("model")),
    extraction=extraction_group(),
    tasks=tasks_group(("knn",), "seed", "family", "vote_ties"),
    results=results_group(),
)
def knn_command(embeddings: EmbeddingsOption = None, *, source, encoder, extraction, tasks, results) -> None:
    """kNN processing influence: all-same, all-diff, pos-same, neg-same, uniform (k=10 and k=1)."""
    measure(embeddings, source, encoder, extraction, tasks, results)


@with_groups(
    source=source_group(),
    encoder=encoder_group(),
    extraction=extraction_group(),
    tasks=tasks_group(("retrieval",)),
    results=results_group(),
)
def retrieval_command(source, encoder, extraction, tasks, results) -> None:
    """PairCams recall@1 with distractors of the query's vs the target's camera type (SPD_a)."""
    with reported():
        sweep(source, encoder, extraction, tasks, results)


@with_groups(
    source=source_group(),
    encoder=encoder_group(),
    extraction=extraction_group(),
    tasks=tasks_group(("zeroshot",), *PROBE_OPTIONS, "templates"),
    results=results_group(),
)
def zeroshot_command(source, encoder, extraction, tasks, results) -> None:
    """Zero-shot with class prompts (vision-language encoders): accuracy beside the linear probe's MP.

    Per FlickrExif attribute, or per processing family on other image sets: the probes' images and test
    split, prompts from --templates; encoders without a text tower are skipped, with the reason.
    """
    with reported():
        sweep(source, encoder, extraction, tasks, results)
