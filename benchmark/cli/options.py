"""The options trace-bench commands share, declared once, and the option groups they build.

Each option is declared once (:data:`OPTIONS`).  A command names the groups it takes with
:func:`with_groups`; the decorator adds the groups' options to the command's own parameters (Typer
reads them from the signature, so ``--help`` lists them under the group's heading) and hands the
command one built, checked object per group instead of loose values: the library's
:class:`~benchmark.sources.kinds.SourceOptions`, :class:`~benchmark.encoders.factory.EncoderOptions`,
:class:`~benchmark.embeddings.extract.ExtractionOptions`, :class:`~benchmark.tasks.registry.TaskOptions`
and :class:`~benchmark.runs.results.ResultStore`.  What a user got wrong while building them is one
line and exit code 2, before any work.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from benchmark.choices import (
    EncoderPrecision,
    EraserMethod,
    Executor,
    ExifOrientation,
    Family,
    ProbePrecision,
    VoteTies,
)
from benchmark.cli.extra import require_bench_extra
from benchmark.cli.output import INTERRUPTED, reported
from benchmark.imaging.masking import DEFAULT_MASK_RATIO, RELEASED_CODE_MASK_RATIO
from benchmark.runs.results import DEFAULT_TEMPLATE

DATA, ENCODER, EXTRACTION, TASKS, OUTPUT = "Data", "Encoder", "Extraction", "Tasks", "Output"


@dataclass(frozen=True)
class Option:
    """One command-line option: the parameter name the command sees, its type, default, flags and help."""

    name: str
    kind: Any
    default: Any
    flags: tuple[str, ...]
    help: str
    panel: str
    metavar: str | None = None  # short, so the option names stay whole in an 80-column --help
    show_default: bool = True

    @property
    def annotation(self) -> Any:
        option = typer.Option(
            *self.flags,
            help=self.help,
            rich_help_panel=self.panel,
            metavar=self.metavar,
            show_default=self.show_default,
        )
        return Annotated[self.kind, option]

    def parameter(self) -> inspect.Parameter:
        kind = inspect.Parameter.KEYWORD_ONLY
        return inspect.Parameter(self.name, kind, default=self.default, annotation=self.annotation)


def _option(
    name: str, kind: Any, default: Any, *flags: str, help: str, panel: str, metavar: str | None = None
) -> Option:
    """An option; its metavar is the upper-case name unless given (a flag has none)."""
    return Option(name, kind, default, flags, help, panel, None if kind is bool else metavar or name.upper())


_MODELS_HELP = (
    "Encoder alias or key (see `trace-bench models`); repeat for a sweep, `paper` for the released code's 47, "
    "or a pattern such as 'siglip*'."
)
_DATASETS_HELP = (
    "Image folder, dataset folder (FlickrExif/PairCams release), Hub id, or `official:IMAGES:SPLITS`; "
    "repeat for several."
)

OPTIONS: dict[str, Option] = {
    option.name: option
    for option in (
        # Data
        _option("dataset", list[str], ..., "--dataset", "-d", help=_DATASETS_HELP, panel=DATA),
        _option(
            "revision",
            Optional[str],
            None,
            help="Hub dataset: the tag, branch or commit to load (e.g. v1.0.0).",
            panel=DATA,
            metavar="REV",
        ),
        _option(
            "split",
            Optional[list[str]],
            None,
            "--split",
            help="Hugging Face dataset: only these splits (repeat).",
            panel=DATA,
        ),
        _option(
            "config",
            Optional[str],
            None,
            "--config",
            help="Hugging Face dataset: its configuration (FlickrExif attributes: --target).",
            panel=DATA,
        ),
        _option(
            "label_column",
            Optional[str],
            None,
            help="Hugging Face dataset: the column holding the classes (default: a ClassLabel column 'label').",
            metavar="COLUMN",
            panel=DATA,
        ),
        _option(
            "exif_orientation",
            ExifOrientation,
            ExifOrientation.AUTO,
            help="Exif orientation when decoding: auto (as the released loader of the dataset's kind: applied for "
            "FlickrExif, PairCams and Hub datasets, not for image folders), apply, or ignore.",
            panel=DATA,
            metavar="MODE",
        ),
        # Encoder
        _option("model", list[str], ..., "--model", "-m", help=_MODELS_HELP, panel=ENCODER),
        _option(
            "weights",
            Optional[Path],
            None,
            help="Weights file (state dict / safetensors) for the model.",
            panel=ENCODER,
            metavar="FILE",
        ),
        _option(
            "encoder_precision",
            EncoderPrecision,
            EncoderPrecision.AUTOCAST,
            help="Encoder arithmetic on a GPU (CPU: always float32): autocast (CUDA mixed precision), float32, "
            "or released (float16 weights for OpenAI CLIP as the released code's clip.load, float32 otherwise).",
            panel=ENCODER,
            metavar="MODE",
        ),
        _option(
            "offline",
            bool,
            False,
            "--offline",
            help="Use only the weights already in the caches (as HF_HUB_OFFLINE=1); default: download on first use.",
            panel=ENCODER,
        ),
        _option("device", Optional[str], None, help="cuda, cpu, ... (default: cuda when available).", panel=ENCODER),
        # Extraction
        _option(
            "batch_size",
            Optional[int],
            None,
            help="Images per batch (default: 256 on GPU, 32 on CPU).",
            panel=EXTRACTION,
            metavar="N",
        ),
        _option(
            "workers",
            str,
            "auto",
            help="Data-loading processes, or auto: the cores the forward pass leaves (on a GPU all but one; on a "
            "CPU, or with fewer than 2 to spare, none: threads of trace-bench prepare the next batches).",
            panel=EXTRACTION,
            metavar="N|auto",
        ),
        _option(
            "cache",
            Optional[Path],
            None,
            help="Embedding cache folder (default: OUT/cache).",
            panel=EXTRACTION,
            metavar="DIR",
        ),
        _option(
            "executor",
            Executor,
            Executor.LOCAL,
            help="local, or ray: extraction on Ray actors holding the encoder (pip install '.[ray]'), same "
            "embeddings and cache; a sweep of several encoders runs one Ray task per (encoders of one input "
            "geometry, dataset).",
            panel=EXTRACTION,
        ),
        _option(
            "ray_address",
            Optional[str],
            None,
            help="Ray cluster to join (HOST:6379); default: a running or new local Ray.",
            panel=EXTRACTION,
            metavar="HOST:PORT",
        ),
        _option(
            "ray_workers",
            Optional[int],
            None,
            help="Ray actors holding the encoder (default: one per GPU, else per CPU set).",
            panel=EXTRACTION,
            metavar="N",
        ),
        # Tasks
        _option("seed", list[int], [0], "--seed", help="Seeds (repeat the option for several).", panel=TASKS),
        _option(
            "mask_ratio",
            float,
            DEFAULT_MASK_RATIO,
            help="Masked share of the image area for acquisition probes "
            f"(paper {DEFAULT_MASK_RATIO}; the released code {RELEASED_CODE_MASK_RATIO}).",
            panel=TASKS,
            metavar="RATIO",
        ),
        _option(
            "family",
            Optional[list[Family]],
            None,
            help="Processing families: jpeg, sharpening, resizing, interpolation (repeat; default: all).",
            panel=TASKS,
        ),
        _option("target", Optional[list[str]], None, help="FlickrExif attributes (repeat; default: all).", panel=TASKS),
        _option(
            "probe_tune_epochs",
            Optional[int],
            None,
            help="Probe: epochs of the lr x wd grid search (default: 100, as released). Shorter searches "
            "emulate each point's 100-epoch run (learning rate scaled by 100/N) and the chosen point is "
            "refit for 100 epochs; 10 is ~30x faster than the released sequential search on CPU and equal "
            "in accuracy on average (scripts/bench_probe.py, scripts/bench_probe_precision.py).",
            panel=TASKS,
            metavar="EPOCHS",
        ),
        _option(
            "probe_precision",
            ProbePrecision,
            ProbePrecision.AUTO,
            help="Probe matrix products: auto (bfloat16 where the device multiplies it natively: CUDA GPUs "
            "with bf16, CPUs with AVX512-BF16/AMX; else float32), float32, or bfloat16 (slow where emulated).",
            panel=TASKS,
            metavar="MODE",
        ),
        _option(
            "probe_refits",
            int,
            10,
            help="Probe on a train/ + val/ folder (ImageNet layout): refits of the chosen point over re-drawn "
            "processing classes, reported as mean and std (released: 10).",
            panel=TASKS,
            metavar="N",
        ),
        _option(
            "vote_ties",
            VoteTies,
            VoteTies.RELEASED,
            help="kNN: a tie in votes goes as in the released code (released: torch's sort, whose tie order "
            "depends on device and torch version), to the lower class index (lowest-class: the same on any "
            "device), or to the larger summed similarity (similarity).",
            panel=TASKS,
            metavar="RULE",
        ),
        _option(
            "method",
            EraserMethod,
            EraserMethod.LEACE,
            help="Eraser: leace (closed-form LEACE), paired (within-image differences), inlp.",
            panel=TASKS,
        ),
        _option(
            "rank",
            Optional[int],
            None,
            help="paired: directions projected out (default: classes - 1).",
            panel=TASKS,
            metavar="N",
        ),
        _option("iterations", int, 4, help="inlp: classifier-and-project rounds.", panel=TASKS, metavar="N"),
        _option(
            "templates",
            Optional[Path],
            None,
            help="Zero-shot class prompts: a JSON table in the format of benchmark/data/zeroshot_templates.json "
            "(default: that table); targets it has no entry for are not run zero-shot.",
            panel=TASKS,
            metavar="FILE",
        ),
        _option(
            "permutations",
            int,
            1000,
            help="Audit: class shufflings of each attribute's permutation test (p-values down to 1/(N+1)).",
            panel=TASKS,
            metavar="N",
        ),
        _option(
            "mitigate",
            bool,
            False,
            "--mitigate",
            help="Audit: erase each confounded attribute (--method leace or inlp) and measure kNN before and after.",
            panel=TASKS,
        ),
        # Output
        _option(
            "out", Path, ..., "--out", "-o", help="Results folder (one JSON per result).", panel=OUTPUT, metavar="DIR"
        ),
        _option(
            "skip_existing", bool, False, "--skip-existing", help="Keep result files that already exist.", panel=OUTPUT
        ),
        _option(
            "name_template",
            str,
            DEFAULT_TEMPLATE,
            help="Result file names under --out, from the fields {encoder} {dataset} {task} {target} {seed} "
            "(default: {encoder}/{dataset}/ then {task}-{target}-seed{seed}.json).",
            panel=OUTPUT,
            metavar="TEMPLATE",
        ),
    )
}


OPTIONS["name_template"] = replace(OPTIONS["name_template"], show_default=False)  # its help says it


def optional(name: str) -> Option:
    """``OPTIONS[name]`` made optional (default None): ``--model``/``--dataset`` where ``--embeddings``
    can replace them."""
    return replace(OPTIONS[name], kind=Optional[OPTIONS[name].kind], default=None)


def single(name: str, help: str) -> Option:
    """``OPTIONS[name]`` taking one value (``trace-bench extract``: one model, one dataset)."""
    return replace(OPTIONS[name], kind=str, help=help)


EMBEDDINGS = Option(
    "embeddings",
    Optional[Path],
    None,
    (),
    "Instead of --model/--dataset: a folder of embeddings in the released code's layout, "
    "DIR/PROCESSING/ holding model=M_variant=V_split=S.safetensors (S: train = database / probe "
    "training, val = queries / test); every encoder and complete family in it is run.",
    DATA,
)


PLAN = Option(
    "plan",
    bool,
    False,
    ("--plan",),
    "Print the sweep's work (encoders x datasets x tasks, input geometries, images to decode, inputs to "
    "process, forward passes, what the cache holds, the disk it needs) and its time estimated here, then stop.",
    OUTPUT,
)
PLAN_JSON = Option("plan_json", bool, False, ("--json",), "With --plan: the plan as one JSON object.", OUTPUT)


@dataclass(frozen=True)
class Group:
    """Options that build one library object; a command that takes the group receives the object.

    ``build`` gets the values of every option of the command (a group may read another's, as the
    probe reads ``--device``) and returns the object; it raises a UsageError for what cannot be.
    """

    options: tuple[Option, ...]
    build: Callable[[dict[str, Any]], Any] = field(repr=False)


def with_groups(**groups: Group) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the options of ``groups`` (keyword ``name=Group``); it is called with ``name=object``."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = inspect.signature(command, eval_str=True)
        kept = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own.parameters.values() if p.name not in groups]
        added = {option.name: option for group in groups.values() for option in group.options}
        clash = set(added) & {p.name for p in kept}
        assert not clash, f"{command.__name__}: options declared twice: {clash}"

        @functools.wraps(command)
        def wrapper(**values: Any) -> Any:
            shared = dict(values)
            own_values = {name: value for name, value in values.items() if name not in added}
            with reported(interrupted=INTERRUPTED):
                require_bench_extra()
                built = {name: group.build(shared) for name, group in groups.items()}
            return command(**own_values, **built)

        parameters = kept + [option.parameter() for option in added.values()]
        wrapper.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        del wrapper.__wrapped__  # Typer reads the signature above, not the command's own
        return wrapper

    return decorate


def group(options: Sequence[str | Option], build: Callable[[dict[str, Any]], Any]) -> Group:
    """A :class:`Group` of :data:`OPTIONS` (by name) or given :class:`Option` objects."""
    return Group(tuple(OPTIONS[o] if isinstance(o, str) else o for o in options), build)


def _tuple(value: Any) -> tuple:
    """A repeated option's values as a tuple (one value, several, or none)."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def source_group(dataset: Option = OPTIONS["dataset"]) -> Group:
    """``--dataset`` (several, optional or one: ``dataset``), ``--revision``, ``--split``, ``--config``,
    ``--label-column``, ``--exif-orientation``."""

    def build(values: dict[str, Any]):
        from benchmark.sources.kinds import SourceOptions

        splits = _tuple(values["split"]) or None
        orientation, label_column = values["exif_orientation"], values["label_column"]
        datasets = _tuple(values["dataset"])
        return SourceOptions(datasets, values["revision"], splits, values["config"], orientation, label_column)

    return group((dataset, "revision", "split", "config", "label_column", "exif_orientation"), build)


def encoder_group(model: Option = OPTIONS["model"]) -> Group:
    """``--model`` (several, optional or one: ``model``), ``--weights``, ``--encoder-precision``,
    ``--offline``, ``--device``."""

    def build(values: dict[str, Any]):
        from benchmark.encoders.factory import EncoderOptions

        return EncoderOptions(
            _tuple(values["model"]),
            values["weights"],
            values["encoder_precision"],
            values["offline"],
            values["device"],
        )

    return group((model, "weights", "encoder_precision", "offline", "device"), build)


def extraction_group() -> Group:
    """``--batch-size``, ``--workers``, ``--cache``, ``--executor``, ``--ray-address``, ``--ray-workers``."""

    def build(values: dict[str, Any]):
        from benchmark.embeddings.extract import ExtractionOptions

        names = ("batch_size", "workers", "cache", "executor", "ray_address", "ray_workers")
        return ExtractionOptions(**{name: values[name] for name in names})

    return group(("batch_size", "workers", "cache", "executor", "ray_address", "ray_workers"), build)


def tasks_group(tasks: Sequence[str], *names: str) -> Group:
    """The run's ``tasks`` and the task options ``names`` (the others keep their defaults)."""

    def build(values: dict[str, Any]):
        from benchmark.protocols.erasers import EraserOptions
        from benchmark.tasks.prompts import read_templates
        from benchmark.tasks.task import TaskOptions

        given = {name: values[name] for name in names}
        eraser = {
            key: given[name]
            for key, name in (("method", "method"), ("rank", "rank"), ("iterations", "iterations"))
            if name in given
        }
        settings = {
            "seeds": _tuple(given.get("seed")),
            "families": _tuple(given.get("family")) or None,
            "targets": _tuple(given.get("target")) or None,
            "mask_ratio": given.get("mask_ratio"),
            "refits": given.get("probe_refits"),
            "vote_ties": given.get("vote_ties"),
            "templates": read_templates(given["templates"]) if "templates" in given else None,
        }
        return TaskOptions(
            tasks=tuple(tasks),
            probe=probe_config(values.get("probe_tune_epochs"), values.get("probe_precision"), values.get("device")),
            eraser=EraserOptions(**eraser),
            **{key: value for key, value in settings.items() if value is not None},
        )

    return group(names, build)


def probe_config(tune_epochs: int | None, precision: str | None, device: str | None):
    """The probe's settings; an explicit ``bfloat16`` where the device only emulates it is said once, as
    it is several times slower than float32 there (``auto`` would pick float32)."""
    from benchmark.cli.output import stderr
    from benchmark.protocols.probe import ProbeConfig
    from benchmark.runtime.device import has_fast_bfloat16, resolve_device

    config = ProbeConfig(tune_epochs=tune_epochs, precision=precision or ProbePrecision.AUTO, device=device)
    if config.precision == ProbePrecision.BFLOAT16 and not has_fast_bfloat16(resolve_device(device)):
        stderr.print(
            "[yellow]--probe-precision bfloat16 is emulated on this device (no native bfloat16): several "
            "times slower than float32, which --probe-precision auto picks here.[/yellow]"
        )
    return config


def results_group() -> Group:
    """``--out``, ``--skip-existing``, ``--name-template``."""

    def build(values: dict[str, Any]):
        from benchmark.runs.results import ResultStore

        return ResultStore(values["out"], values["name_template"], values["skip_existing"])

    return group(("out", "skip_existing", "name_template"), build)


AUDIT_SEED = replace(
    OPTIONS["seed"], kind=int, default=0, help="Seed of the permutation tests, the folds and the eraser's half."
)
AUDIT_FAMILY = replace(
    OPTIONS["family"],
    help="Processing families the queries are re-processed with (repeat; default: jpeg, sharpening, resizing).",
)


def audit_group() -> Group:
    """``--seed`` (one), ``--permutations``, ``--family``, ``--mitigate``, ``--method``, ``--iterations``."""

    def build(values: dict[str, Any]):
        from benchmark.audit.audit import AuditOptions
        from benchmark.protocols.erasers import EraserOptions

        eraser = EraserOptions(method=values["method"], iterations=values["iterations"])
        families = _tuple(values["family"])
        return AuditOptions(
            seed=values["seed"],
            permutations=values["permutations"],
            mitigate=values["mitigate"],
            eraser=eraser,
            **({"families": families} if families else {}),
        )

    return group((AUDIT_SEED, "permutations", AUDIT_FAMILY, "mitigate", "method", "iterations"), build)
