"""``trace-bench``: measure what a visual encoder knows about how a photo was made (thin CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from benchmark.cli_options import (
    BatchOption,
    CacheOption,
    ConfigOption,
    DatasetOption,
    DatasetsOption,
    DeviceOption,
    EmbeddingsOption,
    EncoderPrecisionOption,
    ExecutorOption,
    FamilyOption,
    MaskOption,
    ModelOption,
    ModelsOption,
    OfflineOption,
    OptionalDatasetsOption,
    OptionalModelsOption,
    OrientationOption,
    OutOption,
    PrecisionOption,
    RayAddressOption,
    RayWorkersOption,
    RefitsOption,
    RevisionOption,
    SeedsOption,
    SkipOption,
    SplitOption,
    TargetOption,
    TemplateOption,
    TuneOption,
    VoteTiesOption,
    WeightsOption,
    WorkersOption,
)
from benchmark.cli_run import required, run_embeddings, run_sweep
from benchmark.masking import DEFAULT_MASK_RATIO
from benchmark.results import DEFAULT_TEMPLATE
from flickrexif.cli.errors import reported_errors
from flickrexif.cli.options import new_app, progress_bar, stderr, version_option
from flickrexif.cli.writers import table_console, write_table

app = new_app(
    "trace-bench: how much processing and acquisition information a visual encoder carries, and how "
    "much it distorts kNN classification and near-duplicate retrieval (FlickrExif, PairCams, any image set)."
)
VersionOption = version_option("trace-bench")


@app.callback()
def main(version: VersionOption = False) -> None:
    """trace-bench command line."""
    from benchmark.host_memory import keep_freed_memory

    keep_freed_memory()  # CPU forward passes and kNN blocks reuse their memory (benchmark.host_memory)


@app.command("models")
def models_command(
    pattern: Annotated[Optional[str], typer.Argument(help="Filter: substring or glob on alias or key.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (with the exact weights and the released name).")
    ] = False,
    paper: Annotated[
        bool, typer.Option("--paper", help="Only the paper's 47 encoders, as the released code loads them.")
    ] = False,
) -> None:
    """List the registered encoders (`family:name`, alias, group SUP/SSL/CVL, weights)."""
    from benchmark.encoders import list_encoders

    specs = [s for s in list_encoders(pattern) if s.paper or not paper]
    rows = [
        {
            "alias": s.alias or "",
            "key": s.key,
            "group": s.group or "",
            "paper": s.paper,
            "released": s.released,
            "weights": s.weights,
            "description": s.description,
        }
        for s in specs
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    which = (
        "paper encoders"
        if paper
        else "encoders (also: random:<timm model>, timm:<any>, open_clip:<any>, timm|open_clip:hf-hub:ORG/REPO, timm|open_clip:local-dir:FOLDER)"
    )
    write_table(
        [{**row, "paper": "yes" if row["paper"] else ""} for row in rows],
        {"alias": "alias", "key": "key", "group": "group", "paper": "paper", "weights": "weights"},
        table_console(),
        title=f"{len(rows)} {which}",
    )


def _load_encoder(model: str, weights: Optional[Path], device: Optional[str], offline: bool):
    from benchmark.encoders import load_encoder

    with reported_errors():
        return load_encoder(model, weights=weights, device=device or "cpu", offline=offline)


@app.command("extract")
def extract_command(
    model: ModelOption,
    dataset: DatasetOption,
    cache: Annotated[Path, typer.Option(help="Embedding cache folder.")],
    variant: Annotated[
        Optional[list[str]],
        typer.Option(
            help="FAMILY/CLASS (e.g. jpeg/q75-420), FAMILY/all, or source; repeat for several (default: source)."
        ),
    ] = None,
    split: Annotated[Optional[list[str]], typer.Option(help="Splits (default: every split).")] = None,
    mask_ratio: Annotated[float, typer.Option(help="Centre mask ratio applied to every variant (0 = none).")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the random processing draws.")] = 0,
    weights: WeightsOption = None,
    device: DeviceOption = None,
    batch_size: BatchOption = None,
    workers: WorkersOption = 0,
    exif_orientation: OrientationOption = "auto",
    encoder_precision: EncoderPrecisionOption = "autocast",
    offline: OfflineOption = False,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
    ray_workers: RayWorkersOption = None,
    layout: Annotated[
        str,
        typer.Option(
            help="cache: the embedding cache only; released: also write OUT/<PROCESSING>/model=<M>_variant=<V>_"
            "split=<train|val>.safetensors as the released code does (train -> train, test split -> val), "
            "which `trace-bench knn|probe --embeddings OUT` and the released scripts read."
        ),
    ] = "cache",
    out: Annotated[Optional[Path], typer.Option(help="Folder of the released layout (with --layout released).")] = None,
) -> None:
    """Compute (or find in the cache) embeddings of a dataset under processing variants."""
    from benchmark.device import encoder_precision as resolve_encoder_precision
    from benchmark.extract import EmbeddingCache, Variant, default_device, extract
    from benchmark.imagesets import with_exif_orientation
    from benchmark.processing import FAMILIES
    from benchmark.ray_executor import executor_for
    from benchmark.released_layout import layout_split, model_and_variant, released_name, write
    from benchmark.runner import open_image_set

    with reported_errors():
        if layout not in ("cache", "released"):
            raise ValueError(f"unknown --layout {layout!r}; choose cache or released")
        if (layout == "released") != (out is not None):
            raise ValueError("--layout released writes to --out DIR: give both or neither")
        if layout == "released" and mask_ratio:
            raise ValueError("the released layout names processings only: masked variants cannot be written to it")
        variants = []
        for text in variant or ["source"]:
            family, _, name = text.partition("/")
            if family == "source":
                variants.append(Variant(mask_ratio=mask_ratio))
            else:
                if family not in FAMILIES:
                    raise ValueError(f"unknown processing family {family!r}; choose from {tuple(FAMILIES)}")
                names = FAMILIES[family] if name in ("", "all") else (name,)
                variants += [Variant(family, n, mask_ratio=mask_ratio) for n in names]
        image_set = with_exif_orientation(open_image_set(dataset), exif_orientation)
    with reported_errors():  # before the model loads: a bad choice or a missing ray costs nothing
        chunks = executor_for(executor, ray_address, ray_workers)  # None: the local loop
    encoder = _load_encoder(model, weights, device, offline)
    store = EmbeddingCache(cache)
    # what extract resolves too, for the cache paths printed below
    precision = resolve_encoder_precision(encoder_precision, device or default_device(), encoder.spec.released)
    for split_name in split or image_set.splits:
        with progress_bar() as bar:
            task = bar.add_task(split_name, total=len(image_set.split(split_name)) * len(variants))
            found = extract(
                encoder,
                image_set,
                split_name,
                variants,
                store,
                seed=seed,
                batch_size=batch_size,
                device=device,
                workers=workers,
                on_batch=lambda n, task=task: bar.advance(task, n),
                precision=encoder_precision,
                executor=chunks,
            )
        labels = {item.id: -1 if item.label is None else item.label for item in image_set.split(split_name)}
        for item_variant, embeddings in found.items():
            path = store.path(store.key(encoder.describe(), image_set, split_name, item_variant, seed, precision))
            if layout == "released" and (to := layout_split(split_name, image_set.test_split)):
                processing = released_name(item_variant.family, item_variant.class_name)
                model_name, variant_name = model_and_variant(encoder.spec.released, encoder.spec.key)
                ordered = [labels[i] for i in embeddings.ids]
                path = write(out, processing, model_name, variant_name, to, embeddings.vectors, ordered)
            typer.echo(f"{split_name:10} {item_variant.name:28} {tuple(embeddings.vectors.shape)} {path}")


@app.command("run")
def run_command(
    model: ModelsOption,
    dataset: DatasetsOption,
    out: OutOption,
    seed: SeedsOption = [0],  # noqa: B006 - Typer reads the default
    mask_ratio: MaskOption = DEFAULT_MASK_RATIO,
    family: FamilyOption = None,
    target: TargetOption = None,
    weights: WeightsOption = None,
    cache: CacheOption = None,
    device: DeviceOption = None,
    batch_size: BatchOption = None,
    workers: WorkersOption = 0,
    skip_existing: SkipOption = False,
    name_template: TemplateOption = DEFAULT_TEMPLATE,
    exif_orientation: OrientationOption = "auto",
    encoder_precision: EncoderPrecisionOption = "autocast",
    offline: OfflineOption = False,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
    ray_workers: RayWorkersOption = None,
    revision: RevisionOption = None,
    split: SplitOption = None,
    config: ConfigOption = None,
    vote_ties: VoteTiesOption = "released",
    probe_tune_epochs: TuneOption = None,
    probe_precision: PrecisionOption = "auto",
    probe_refits: RefitsOption = 10,
) -> None:
    """Run every task that applies to the dataset.

    FlickrExif releases get masked acquisition probes per attribute, PairCams gets retrieval,
    other image sets get processing probes (and kNN influence when they have classes).
    """
    from benchmark.runner import TASK_NAMES

    run_sweep(
        model,
        dataset,
        out,
        tasks=TASK_NAMES,
        seeds=seed,
        mask_ratio=mask_ratio,
        weights=weights,
        cache=cache,
        device=device,
        batch_size=batch_size,
        workers=workers,
        skip_existing=skip_existing,
        template=name_template,
        exif_orientation=exif_orientation,
        encoder_precision=encoder_precision,
        offline=offline,
        executor=executor,
        ray_address=ray_address,
        ray_workers=ray_workers,
        revision=revision,
        splits=split,
        dataset_config=config,
        vote_ties=vote_ties,
        families=family,
        targets=target,
        probe_tune_epochs=probe_tune_epochs,
        probe_precision=probe_precision,
        probe_refits=probe_refits,
    )


@app.command("probe")
def probe_command(
    out: OutOption,
    model: OptionalModelsOption = None,
    dataset: OptionalDatasetsOption = None,
    embeddings: EmbeddingsOption = None,
    seed: SeedsOption = [0],  # noqa: B006
    mask_ratio: MaskOption = DEFAULT_MASK_RATIO,
    family: FamilyOption = None,
    target: TargetOption = None,
    weights: WeightsOption = None,
    cache: CacheOption = None,
    device: DeviceOption = None,
    batch_size: BatchOption = None,
    workers: WorkersOption = 0,
    skip_existing: SkipOption = False,
    name_template: TemplateOption = DEFAULT_TEMPLATE,
    exif_orientation: OrientationOption = "auto",
    encoder_precision: EncoderPrecisionOption = "autocast",
    offline: OfflineOption = False,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
    ray_workers: RayWorkersOption = None,
    revision: RevisionOption = None,
    split: SplitOption = None,
    config: ConfigOption = None,
    probe_tune_epochs: TuneOption = None,
    probe_precision: PrecisionOption = "auto",
    probe_refits: RefitsOption = 10,
) -> None:
    """Linear probes only: processing labels, or acquisition labels on FlickrExif (masked)."""
    probe = dict(probe_tune_epochs=probe_tune_epochs, probe_precision=probe_precision, probe_refits=probe_refits)
    if embeddings is not None:
        run_embeddings(
            embeddings,
            out,
            ("probe-processing",),
            model,
            dataset,
            seed,
            family,
            device,
            skip_existing,
            name_template,
            **probe,
        )
        return
    run_sweep(
        required(model, "--model"),
        required(dataset, "--dataset"),
        out,
        tasks=("probe-processing", "probe-acquisition"),
        seeds=seed,
        mask_ratio=mask_ratio,
        weights=weights,
        cache=cache,
        device=device,
        batch_size=batch_size,
        workers=workers,
        skip_existing=skip_existing,
        template=name_template,
        exif_orientation=exif_orientation,
        encoder_precision=encoder_precision,
        offline=offline,
        executor=executor,
        ray_address=ray_address,
        ray_workers=ray_workers,
        revision=revision,
        splits=split,
        dataset_config=config,
        families=family,
        targets=target,
        **probe,
    )


@app.command("knn")
def knn_command(
    out: OutOption,
    model: OptionalModelsOption = None,
    dataset: OptionalDatasetsOption = None,
    embeddings: EmbeddingsOption = None,
    seed: SeedsOption = [0],  # noqa: B006
    family: FamilyOption = None,
    weights: WeightsOption = None,
    cache: CacheOption = None,
    device: DeviceOption = None,
    batch_size: BatchOption = None,
    workers: WorkersOption = 0,
    skip_existing: SkipOption = False,
    name_template: TemplateOption = DEFAULT_TEMPLATE,
    exif_orientation: OrientationOption = "auto",
    encoder_precision: EncoderPrecisionOption = "autocast",
    offline: OfflineOption = False,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
    ray_workers: RayWorkersOption = None,
    revision: RevisionOption = None,
    split: SplitOption = None,
    config: ConfigOption = None,
    vote_ties: VoteTiesOption = "released",
) -> None:
    """kNN processing influence: all-same, all-diff, pos-same, neg-same, uniform (k=10 and k=1)."""
    if embeddings is not None:
        run_embeddings(
            embeddings,
            out,
            ("knn",),
            model,
            dataset,
            seed,
            family,
            device,
            skip_existing,
            name_template,
            vote_ties=vote_ties,
        )
        return
    run_sweep(
        required(model, "--model"),
        required(dataset, "--dataset"),
        out,
        tasks=("knn",),
        seeds=seed,
        mask_ratio=0.0,
        weights=weights,
        cache=cache,
        device=device,
        batch_size=batch_size,
        workers=workers,
        skip_existing=skip_existing,
        template=name_template,
        exif_orientation=exif_orientation,
        encoder_precision=encoder_precision,
        offline=offline,
        executor=executor,
        ray_address=ray_address,
        ray_workers=ray_workers,
        revision=revision,
        splits=split,
        dataset_config=config,
        vote_ties=vote_ties,
        families=family,
    )


@app.command("retrieval")
def retrieval_command(
    model: ModelsOption,
    dataset: DatasetsOption,
    out: OutOption,
    weights: WeightsOption = None,
    cache: CacheOption = None,
    device: DeviceOption = None,
    batch_size: BatchOption = None,
    workers: WorkersOption = 0,
    skip_existing: SkipOption = False,
    name_template: TemplateOption = DEFAULT_TEMPLATE,
    exif_orientation: OrientationOption = "auto",
    encoder_precision: EncoderPrecisionOption = "autocast",
    offline: OfflineOption = False,
    executor: ExecutorOption = "local",
    ray_address: RayAddressOption = None,
    ray_workers: RayWorkersOption = None,
    revision: RevisionOption = None,
    split: SplitOption = None,
    config: ConfigOption = None,
) -> None:
    """PairCams recall@1 with distractors of the query's vs the target's camera type (SPD_a)."""
    run_sweep(
        model,
        dataset,
        out,
        tasks=("retrieval",),
        seeds=[0],
        mask_ratio=0.0,
        weights=weights,
        cache=cache,
        device=device,
        batch_size=batch_size,
        workers=workers,
        skip_existing=skip_existing,
        template=name_template,
        exif_orientation=exif_orientation,
        encoder_precision=encoder_precision,
        offline=offline,
        executor=executor,
        ray_address=ray_address,
        ray_workers=ray_workers,
        revision=revision,
        splits=split,
        dataset_config=config,
    )


def _register_mitigate() -> None:
    """``trace-bench mitigate`` lives in its own module (benchmark.mitigate_command)."""
    from benchmark.mitigate_command import mitigate_command

    app.command("mitigate")(mitigate_command)


_register_mitigate()


@app.command("report")
def report_command(
    results: Annotated[Path, typer.Argument(help="Results folder written by `trace-bench run`.")],
    out: Annotated[Optional[Path], typer.Option(help="Report folder (default: RESULTS/report).")] = None,
) -> None:
    """Write CSV and Markdown tables and PNG plots, and print the summary table."""
    from benchmark.report import markdown_table, write_report

    with reported_errors():
        summary, files = write_report(results, out)
    typer.echo(markdown_table(summary))
    stderr.print("Wrote " + ", ".join(str(f) for f in files))
