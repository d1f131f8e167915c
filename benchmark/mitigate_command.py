"""``trace-bench mitigate``: fit an eraser on the training split, apply it, measure before and after.

Sources: ``--embeddings DIR`` (the released layout: every encoder and complete processing family in
it) or ``--model`` and ``--dataset`` (embeddings from the cache, computed when missing, as
``trace-bench knn`` does): an image set with classes gets one result per processing family, PairCams
one for the camera type.  Each result JSON holds ``before`` and ``after`` metric sets (``metrics`` is
``after``, so ``trace-bench report`` reads it as any result) and the eraser is saved next to it
(``.safetensors``, :func:`benchmark.mitigate.load_eraser`).  :mod:`benchmark.cli` registers it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    import torch

from benchmark.cli_options import (
    BatchOption,
    CacheOption,
    DeviceOption,
    EmbeddingsOption,
    EncoderPrecisionOption,
    FamilyOption,
    OrientationOption,
    PrecisionOption,
    RefitsOption,
    SeedsOption,
    SkipOption,
    TemplateOption,
    TuneOption,
    WeightsOption,
    WorkersOption,
    probe_config,
)
from benchmark.results import DEFAULT_TEMPLATE
from flickrexif.cli.errors import reported_errors
from flickrexif.cli.options import progress_bar, stderr

KS = (10, 1)


@dataclass(frozen=True)
class Job:
    """One (encoder, dataset, target) to mitigate; ``load`` gives its arrays when it runs."""

    encoder: str
    group: str | None
    dataset: str
    target: str  # a processing family, or "paircams"
    common: dict[str, Any]  # what the result records about its inputs
    load: Callable[[], tuple[str, Any]]  # -> ("processing", (train, val)) or ("acquisition", (cameras, phones))


def mitigate_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Results folder (one JSON and one eraser per result).")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Encoder alias or key.")] = None,
    dataset: Annotated[
        Optional[str],
        typer.Option("--dataset", "-d", help="Image folder with classes, Hub dataset, or PairCams release."),
    ] = None,
    embeddings: EmbeddingsOption = None,
    method: Annotated[
        str, typer.Option(help="Eraser: leace (closed-form LEACE), paired (within-image differences), inlp.")
    ] = "leace",
    rank: Annotated[
        Optional[int], typer.Option(help="paired: directions projected out (default: classes - 1).")
    ] = None,
    iterations: Annotated[int, typer.Option(help="inlp: classifier-and-project rounds.")] = 4,
    family: FamilyOption = None,
    seed: SeedsOption = [0],  # noqa: B006 - Typer reads the default
    weights: WeightsOption = None,
    cache: CacheOption = None,
    device: DeviceOption = None,
    batch_size: BatchOption = None,
    workers: WorkersOption = 0,
    skip_existing: SkipOption = False,
    name_template: TemplateOption = DEFAULT_TEMPLATE,
    exif_orientation: OrientationOption = "auto",
    encoder_precision: EncoderPrecisionOption = "autocast",
    probe_tune_epochs: TuneOption = None,
    probe_precision: PrecisionOption = "auto",
    probe_refits: RefitsOption = 10,
) -> None:
    """Erase the processing (or PairCams camera-type) trace, then measure how much trace and semantics remain."""
    from benchmark.mitigate import METHODS
    from benchmark.results import ResultStore

    with reported_errors():
        if method not in METHODS:
            raise ValueError(f"unknown --method {method!r}; choose from {', '.join(METHODS)}")
        if probe_refits < 1:
            raise ValueError(f"--probe-refits must be >= 1, got {probe_refits}")
        probe = probe_config(probe_tune_epochs, probe_precision, device)
        settings = dict(method=method, rank=rank, iterations=iterations, probe=probe, refits=probe_refits)
        if embeddings is not None:
            if model is not None or dataset is not None:
                raise ValueError("--embeddings DIR replaces --model and --dataset: give one or the other")
            jobs = list(folder_jobs(embeddings, family))
        elif model is None or dataset is None:
            raise ValueError("give --model and --dataset, or --embeddings DIR (a folder in the released layout)")
        else:
            extraction = dict(cache=cache or out / "cache", batch_size=batch_size, device=device, workers=workers)
            extraction.update(weights=weights, exif_orientation=exif_orientation, precision=encoder_precision)
            jobs = list(model_jobs(model, dataset, family, **extraction))
        store = ResultStore(out, name_template)
        written = []
        with progress_bar() as bar:
            task = bar.add_task("mitigate", total=len(jobs) * len(seed or [0]))
            for job in jobs:
                loaded = None
                for one_seed in seed or [0]:
                    path = store.path(
                        encoder=job.encoder,
                        dataset=job.dataset,
                        task=f"mitigate-{method}",
                        target=job.target,
                        seed=one_seed,
                    )
                    if not (skip_existing and path.is_file()):
                        bar.update(task, description=f"{job.encoder} {method} {job.target} (seed {one_seed})")
                        loaded = loaded or job.load()
                        store.write(path, run_job(job, loaded, path, one_seed, device, **settings))
                    written.append(path)
                    bar.advance(task)
    _print(written, out)


def run_job(job: Job, loaded, path: Path, seed: int, device, *, method, rank, iterations, probe, refits) -> dict:
    """Fit, apply, measure; returns the result JSON and writes the eraser next to ``path``."""
    from benchmark.mitigate import mitigate_acquisition, mitigate_processing, save_eraser
    from benchmark.processing import FAMILIES

    start = time.perf_counter()
    kind, arrays = loaded
    probe_record = {
        **{k: v for k, v in asdict(probe).items() if k != "device"},
        "precision_used": probe.precision_used(),
    }
    record = {**job.common, "seed": seed, "probe": probe_record}
    record.update(rank_asked=rank, inlp_iterations=iterations if method == "inlp" else None)
    if kind == "processing":
        train, val = arrays
        mitigation = mitigate_processing(
            job.target, train, val, method, rank=rank, iterations=iterations, ks=KS, probe=probe, refits=refits,
            device=device, seed=seed,
        )  # fmt: skip
        record.update(concept="processing class", classes=list(FAMILIES[job.target]), ks=list(KS), refits=refits)
        record.update(n_fit=int(train[0].shape[0] * train[0].shape[1]))
    else:
        cameras, phones = arrays
        mitigation, fitted = mitigate_acquisition(
            cameras, phones, method, rank=rank, iterations=iterations, probe=probe, device=device, seed=seed
        )
        record.update(concept="camera type", classes=["camera", "smartphone"], n_subjects=len(cameras))
        record.update(
            fitted_subjects=int(fitted.sum()),
            measured_subjects=int((~fitted).sum()),
            subject_split="numpy default_rng(seed).permutation, first half fits the eraser and the probe",
        )
    eraser_path = path.with_suffix(".safetensors")
    save_eraser(
        mitigation.eraser,
        eraser_path,
        {"encoder": job.encoder, "dataset": job.dataset, "target": job.target, "concept": record["concept"],
         "classes": record["classes"], "fitted_on": "train", "seed": seed},
    )  # fmt: skip
    result = mitigation.result(job.target, {**record, "eraser_file": str(eraser_path)})
    result.update(
        encoder=job.encoder,
        encoder_group=job.group,
        dataset=job.dataset,
        seed=seed,
        seconds=round(time.perf_counter() - start, 2),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    return result


def folder_jobs(root: Path, families: Optional[list[str]]) -> Iterator[Job]:
    """Every encoder x complete family of a released-layout folder."""
    from benchmark.embedding_folder import LAYOUT, folder_fingerprint, registry_match
    from benchmark.released_layout import scan

    root = Path(root)
    for encoder in scan(root):
        key, group = registry_match(encoder)
        complete = encoder.families()
        chosen = list(families) if families else complete
        missing = [f for f in chosen if f not in complete]
        if missing or not chosen:
            raise ValueError(
                f"{encoder.name} in {root} lacks files for {(missing or ['every family'])[0]}: "
                + ", ".join(encoder.missing((missing or ["jpeg"])[0])[:4])
            )
        common = {
            "encoder": {"released": encoder.name, "key": key, "embeddings": str(root)},
            "dataset": root.name,
            "fingerprint": folder_fingerprint(encoder),
            "layout": LAYOUT,
            "database_split": "train",
            "query_split": "val",
        }
        for family in chosen:

            def load(encoder=encoder, family=family):
                return "processing", tuple(encoder.load(family, split) for split in ("train", "val"))

            yield Job(key, group, root.name, family, common, load)


def model_jobs(model: str, dataset: str, families, *, weights, device, exif_orientation, **extraction) -> Iterator[Job]:
    """An encoder on an image set with classes (one job per family) or on PairCams (camera type)."""
    from benchmark.encoders import load_encoder
    from benchmark.imagesets import with_exif_orientation
    from benchmark.kinds import detect
    from benchmark.processing import FAMILIES

    found = detect(dataset)
    if found.kind.name not in ("paircams", "image-folder", "hf-dataset"):
        raise ValueError(
            f"{dataset} is a {found.kind.name} dataset: mitigate erases processing on image sets with classes "
            "and the camera type on PairCams"
        )
    image_set = with_exif_orientation(found.open(), exif_orientation)
    encoder = load_encoder(model, weights=weights, device=device or "cpu")
    stderr.print(f"Encoder {encoder.spec.key} ({encoder.weights}), embedding dim {encoder.embed_dim}")
    common = {
        "encoder": encoder.describe(),
        "dataset": image_set.name,
        "fingerprint": image_set.fingerprint,
        "layout": image_set.layout,
    }
    embed = _Embedder(encoder, image_set, {"device": device, **extraction})
    job = dict(encoder=encoder.spec.key, group=encoder.spec.group, dataset=found.label, common=common)
    if found.kind.name == "paircams":
        yield Job(target="paircams", load=lambda: ("acquisition", embed.pairs()), **job)
        return
    if not image_set.has_labels:
        raise ValueError(f"{dataset} has no classes: the semantic kNN before and after needs labelled images")
    splits = ("train", image_set.test_split)
    job["common"] = {**common, "database_split": "train", "query_split": image_set.test_split}
    for family in families or FAMILIES:
        if family not in FAMILIES:
            raise ValueError(f"unknown processing family {family!r}; choose from {tuple(FAMILIES)}")
        yield Job(
            target=family,
            load=lambda family=family: ("processing", tuple(embed.labelled(s, family) for s in splits)),
            **job,
        )


@dataclass(frozen=True)
class _Embedder:
    """Embeddings of the image set from the cache (computed when missing), as ``trace-bench knn`` gets them."""

    encoder: Any
    image_set: Any
    options: dict[str, Any]

    def stacked(self, split: str, family: str | None) -> tuple[torch.Tensor, list[str]]:
        """``([N, P, D], ids)``: a split under every class of ``family`` (``None``: the source only)."""
        from benchmark.extract import EmbeddingCache, Variant, extract
        from benchmark.processing import FAMILIES

        options = dict(self.options)
        cache = EmbeddingCache(options.pop("cache"))
        variants = [Variant(family, c) for c in FAMILIES[family]] if family else [Variant()]
        found = extract(self.encoder, self.image_set, split, variants, cache, **options)
        import torch

        return torch.stack([found[v].vectors for v in variants], dim=1), found[variants[0]].ids

    def labelled(self, split: str, family: str) -> tuple[torch.Tensor, torch.Tensor]:
        stacked, ids = self.stacked(split, family)
        import torch

        labels = {item.id: item.label for item in self.image_set.split(split)}
        return stacked, torch.tensor([labels[i] for i in ids])

    def pairs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cameras [S, D], phones [S, D])`` of the PairCams subjects with one photo of each."""
        import torch

        from benchmark.tasks import paircams_pairs

        pairs = paircams_pairs(self.image_set)
        if len(pairs.subjects) < 4:
            raise ValueError(
                f"{self.image_set.name}: {len(pairs.subjects)} subjects with one smartphone and one camera photo; "
                "mitigation needs at least 4"
            )
        vectors: dict[str, torch.Tensor] = {}
        for split in self.image_set.splits:
            stacked, ids = self.stacked(split, None)
            vectors.update(zip(ids, stacked[:, 0]))
        return torch.stack([vectors[i] for i in pairs.cameras]), torch.stack([vectors[i] for i in pairs.phones])


def _print(written: list[Path], out: Path) -> None:
    import json

    for path in written:
        result = json.loads(path.read_text())
        before, after = result["before"], result["after"]
        shown = ["probe_accuracy", "spd_p@k10", "all-same@k10", "spd_a", "recall_same_as_query"]
        numbers = ", ".join(f"{m} {before[m]:.3f} -> {after[m]:.3f}" for m in shown if m in after)
        typer.echo(
            f"mitigate {result['method']:6} {result['target']:14} seed {result['seed']} "
            f"rank {result['parameters']['rank']}: {numbers} (chance {after['chance']:.3f})"
        )
    stderr.print(f"{len(written)} result files (and erasers) in {out}")
