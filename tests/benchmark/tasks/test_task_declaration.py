"""Tasks declared once: the runner runs what the declaration names, the report shows its headline."""

from __future__ import annotations

import json
from dataclasses import replace

import benchmark.tasks.registry
from benchmark.cli.run import RUN_TASKS as CLI_RUN_TASKS
from benchmark.protocols.probe import ProbeConfig
from benchmark.reporting.report import headline_metrics, markdown_table, summarise
from benchmark.sources.imageset import ImageSet
from benchmark.tasks.registry import PAPER_TASKS, RUN_TASKS, TASK_NAMES, TASKS
from benchmark.tasks.task import TaskOptions, TaskResult

RESULTS = {
    "probe-processing": {"task": "probe-processing", "target": "jpeg", "metrics": {"accuracy": 0.5, "chance": 0.2}},
    "probe-acquisition": {"task": "probe-acquisition", "target": "Make", "metrics": {"accuracy": 0.3}},
    "knn": {
        "task": "knn",
        "target": "jpeg",
        "parameters": {"ks": [1, 10]},
        "metrics": {"all-same@k1": 0.7, "spd_p@k1": 0.1, "all-same@k10": 0.2, "spd_p@k10": 0.3},
    },
    "retrieval": {
        "task": "retrieval",
        "target": "paircams",
        "metrics": {"recall_same_as_query": 0.6, "recall_same_as_target": 0.4, "spd_a": 0.2},
    },
}


def test_the_tasks_in_run_order():
    assert TASK_NAMES == ("probe-processing", "probe-acquisition", "knn", "retrieval", "zeroshot", "mitigate")
    assert TASK_NAMES == tuple(TASKS)
    assert PAPER_TASKS == TASK_NAMES[:4] == TaskOptions().tasks, "the library runs the paper's four"
    assert RUN_TASKS == (*PAPER_TASKS, "zeroshot") == CLI_RUN_TASKS, "`run` runs them and zero-shot"
    assert [name for name, task in TASKS.items() if task.needs_text_tower] == ["zeroshot"]
    assert TASKS["mitigate"].file_task(TaskOptions()) == "mitigate-leace", "one result name per eraser method"


def test_headline_metrics_per_task():
    assert headline_metrics(RESULTS["probe-processing"]) == {"MP": 0.5}
    assert headline_metrics(RESULTS["probe-acquisition"]) == {"MP": 0.3}
    assert headline_metrics(RESULTS["knn"]) == {"SP": 0.7, "SPD_p": 0.1}  # the first k
    no_ks = {**RESULTS["knn"], "parameters": {}}
    assert headline_metrics(no_ks) == {"SP": 0.2, "SPD_p": 0.3}  # k=10 when a result does not say
    assert headline_metrics(RESULTS["retrieval"]) == {"R@1 query-type": 0.6, "R@1 target-type": 0.4, "SPD_a": 0.2}
    zeroshot = {
        "task": "zeroshot",
        "target": "Make",
        "metrics": {"accuracy": 0.2, "chance": 0.1, "probe_accuracy": 0.6},
    }
    assert headline_metrics(zeroshot) == {"ZS": 0.2, "MP": 0.6}
    assert headline_metrics({"task": "gone", "target": "x", "metrics": {"a": 1.0}}) == {}


def test_report_columns_come_from_the_declaration(tmp_path, monkeypatch):
    for name, result in RESULTS.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({**result, "encoder": "e", "encoder_group": "SUP"}))
    columns = summarise(tmp_path).columns
    assert columns == [
        "knn:jpeg SP",
        "knn:jpeg SPD_p",
        "probe-acquisition:Make MP",
        "probe-processing:jpeg MP",
        "retrieval:paircams R@1 query-type",
        "retrieval:paircams R@1 target-type",
        "retrieval:paircams SPD_a",
    ]
    monkeypatch.setitem(TASKS, "retrieval", replace(TASKS["retrieval"], headline=(("gap", "spd_a"),)))
    summary = summarise(tmp_path)
    assert [c for c in summary.columns if c.startswith("retrieval")] == ["retrieval:paircams gap"]
    assert "retrieval:paircams gap" in markdown_table(summary).splitlines()[0]


def test_runner_runs_the_declared_function(monkeypatch):
    seen = {}

    def acquisition(encoder, image_set, options, *, seed, mask_ratio, probe_config):
        seen.update(encoder=encoder, seed=seed, mask_ratio=mask_ratio, probe=probe_config)
        return TaskResult("probe-acquisition", image_set.target, {"accuracy": 1.0}, {})

    monkeypatch.setattr(benchmark.tasks.registry, "acquisition_probe", acquisition)
    image_set = ImageSet(name="x", items=(), class_names=("a",), target="Make")
    options = TaskOptions(mask_ratio=0.5, probe=ProbeConfig(epochs=3))
    result = TASKS["probe-acquisition"].run("encoder", image_set, "Make", None, 7, options)
    assert result.metrics == {"accuracy": 1.0}
    assert seen == {"encoder": "encoder", "seed": 7, "mask_ratio": 0.5, "probe": ProbeConfig(epochs=3)}
