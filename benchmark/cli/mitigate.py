"""``trace-bench mitigate``: erase a trace and measure before and after (:mod:`benchmark.tasks.mitigation`).

Sources: ``--embeddings DIR`` (the released layout: every encoder and complete processing family in
it) or ``--model`` and ``--dataset`` (embeddings from the cache, computed when missing, as ``trace-bench
knn`` gets them): an image set with classes gets one result per processing family, PairCams one for
the camera type.  Every option of ``run`` applies.
"""

from __future__ import annotations

from benchmark.cli.options import (
    encoder_group,
    extraction_group,
    optional,
    results_group,
    source_group,
    tasks_group,
    with_groups,
)
from benchmark.cli.output import reported
from benchmark.cli.run import EmbeddingsOption, PlanJsonOption, PlanOption, measure, planned
from benchmark.errors import UsageError

MITIGATE_OPTIONS = (
    "seed",
    "family",
    "probe_tune_epochs",
    "probe_precision",
    "probe_refits",
    "method",
    "rank",
    "iterations",
)


@with_groups(
    source=source_group(optional("dataset")),
    encoder=encoder_group(optional("model")),
    extraction=extraction_group(),
    tasks=tasks_group(("mitigate",), *MITIGATE_OPTIONS),
    results=results_group(),
)
def mitigate_command(
    embeddings: EmbeddingsOption = None,
    plan: PlanOption = False,
    plan_json: PlanJsonOption = False,
    *,
    source,
    encoder,
    extraction,
    tasks,
    results,
) -> None:
    """Erase the processing (or PairCams camera-type) trace, then measure how much trace and semantics remain."""
    if plan or plan_json:
        with reported():
            if embeddings is not None:
                raise UsageError("--plan counts a sweep of --model x --dataset; --embeddings DIR embeds nothing")
            planned(plan, plan_json, source, encoder, extraction, tasks, results)
        return
    measure(embeddings, source, encoder, extraction, tasks, results)
