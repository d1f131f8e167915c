"""The options `trace-bench` commands share, declared once (Typer needs each spelled out per command)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from benchmark.masking import DEFAULT_MASK_RATIO, RELEASED_CODE_MASK_RATIO

if TYPE_CHECKING:
    from benchmark.probe import ProbeConfig

ModelOption = Annotated[str, typer.Option("--model", "-m", help="Encoder alias or key (see `trace-bench models`).")]
DatasetOption = Annotated[
    str,
    typer.Option(
        "--dataset",
        "-d",
        help="Image folder, dataset folder (FlickrExif/PairCams release), cached Hub id, "
        "or official:IMAGES_DIR:SPLITS_DIR.",
    ),
]
_MODELS_HELP = (
    "Encoder alias or key (see `trace-bench models`); repeat for a sweep, `paper` for the released code's 47, "
    "or a pattern such as 'siglip*'."
)
_DATASETS_HELP = (
    "Image folder, dataset folder (FlickrExif/PairCams release), Hub id, or official:IMAGES_DIR:SPLITS_DIR; "
    "repeat for several."
)
ModelsOption = Annotated[list[str], typer.Option("--model", "-m", help=_MODELS_HELP)]
DatasetsOption = Annotated[list[str], typer.Option("--dataset", "-d", help=_DATASETS_HELP)]
OptionalModelsOption = Annotated[Optional[list[str]], typer.Option("--model", "-m", help=_MODELS_HELP)]
OptionalDatasetsOption = Annotated[Optional[list[str]], typer.Option("--dataset", "-d", help=_DATASETS_HELP)]
EmbeddingsOption = Annotated[
    Optional[Path],
    typer.Option(
        help="Instead of --model/--dataset: a folder of embeddings in the released code's layout, "
        "DIR/<PROCESSING>/model=<M>_variant=<V>_split=<train|val>.safetensors (train = database / probe "
        "training, val = queries / test); every encoder and complete family in it is run."
    ),
]
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Results folder (one JSON per result).")]
WeightsOption = Annotated[Optional[Path], typer.Option(help="Weights file (state dict / safetensors) for the model.")]
CacheOption = Annotated[Optional[Path], typer.Option(help="Embedding cache folder (default: OUT/cache).")]
SeedsOption = Annotated[list[int], typer.Option("--seed", help="Seeds (repeat the option for several).")]
MaskOption = Annotated[
    float,
    typer.Option(
        help="Masked share of the image area for acquisition probes "
        f"(paper {DEFAULT_MASK_RATIO}; the released code {RELEASED_CODE_MASK_RATIO})."
    ),
]
DeviceOption = Annotated[Optional[str], typer.Option(help="cuda, cpu, ... (default: cuda when available).")]
BatchOption = Annotated[Optional[int], typer.Option(help="Images per batch (default: 256 on GPU, 32 on CPU).")]
WorkersOption = Annotated[int, typer.Option(help="Data-loading worker processes.")]
SkipOption = Annotated[bool, typer.Option(help="Keep result files that already exist.")]
TuneOption = Annotated[
    Optional[int],
    typer.Option(
        help="Probe: epochs of the lr x wd grid search (default: 100, as released). Shorter searches "
        "emulate each point's 100-epoch run (learning rate scaled by 100/N) and the chosen point is "
        "refit for 100 epochs; 10 is ~30x faster than the released sequential search on CPU and equal "
        "in accuracy on average (scripts/bench_probe.py, scripts/bench_probe_precision.py)."
    ),
]
EncoderPrecisionOption = Annotated[
    str,
    typer.Option(
        help="Encoder arithmetic on a GPU (CPU: always float32): autocast (CUDA mixed precision), float32, "
        "or released (float16 weights for OpenAI CLIP as the released code's clip.load, float32 otherwise)."
    ),
]
PrecisionOption = Annotated[
    str,
    typer.Option(
        help="Probe matrix products: auto (bfloat16 where the device multiplies it natively: CUDA GPUs "
        "with bf16, CPUs with AVX512-BF16/AMX; else float32), float32, or bfloat16 (slow where emulated)."
    ),
]
RefitsOption = Annotated[
    int,
    typer.Option(
        help="Probe on a train/ + val/ folder (ImageNet layout): refits of the chosen point over re-drawn "
        "processing classes, reported as mean and std (released: 10)."
    ),
]
FamilyOption = Annotated[Optional[list[str]], typer.Option(help="Processing families (repeat; default: all).")]
TargetOption = Annotated[Optional[list[str]], typer.Option(help="FlickrExif attributes (repeat; default: all).")]
OrientationOption = Annotated[
    str,
    typer.Option(
        help="Exif orientation when decoding: auto (as the released loader of the dataset's kind: applied for "
        "FlickrExif, PairCams and Hub datasets, not for image folders), apply, or ignore."
    ),
]
TemplateOption = Annotated[
    str, typer.Option(help="Result file name template (fields: encoder, dataset, task, target, seed).")
]
OfflineOption = Annotated[
    bool,
    typer.Option(
        help="Use only the weights already in the caches (as HF_HUB_OFFLINE=1); default: download on first use."
    ),
]
RevisionOption = Annotated[
    Optional[str], typer.Option(help="Hub dataset: the tag, branch or commit to load (e.g. v1.0.0).")
]
SplitOption = Annotated[
    Optional[list[str]], typer.Option("--split", help="Hugging Face dataset: only these splits (repeat).")
]
ConfigOption = Annotated[
    Optional[str],
    typer.Option("--config", help="Hugging Face dataset: its configuration (FlickrExif attributes: --target)."),
]
VoteTiesOption = Annotated[
    str,
    typer.Option(
        help="kNN: a tie in votes goes as in the released code (released: torch's sort, whose tie order "
        "depends on device and torch version), to the lower class index (lowest-class: the same on any "
        "device), or to the larger summed similarity (similarity)."
    ),
]
ExecutorOption = Annotated[
    str,
    typer.Option(
        help="local, or ray: extraction on Ray actors holding the encoder (pip install '.[ray]'), same "
        "embeddings and cache; a sweep of several encoders runs one Ray task per (encoder, dataset)."
    ),
]
RayAddressOption = Annotated[
    Optional[str], typer.Option(help="Ray cluster to join (HOST:6379); default: a running or new local Ray.")
]
RayWorkersOption = Annotated[
    Optional[int], typer.Option(help="Ray actors holding the encoder (default: one per GPU, else per CPU set).")
]


def probe_config(tune_epochs: Optional[int], precision: str, device: Optional[str]) -> ProbeConfig:
    """The probe options; an explicit ``bfloat16`` where the device only emulates it is said once, as it
    is several times slower than float32 there (``auto`` would pick float32)."""
    from benchmark.device import has_fast_bfloat16, resolve_device
    from benchmark.probe import ProbeConfig
    from flickrexif.cli.options import stderr

    config = ProbeConfig(tune_epochs=tune_epochs, precision=precision, device=device)
    if precision == "bfloat16" and not has_fast_bfloat16(resolve_device(device)):
        stderr.print(
            "[yellow]--probe-precision bfloat16 is emulated on this device (no native bfloat16): several "
            "times slower than float32, which --probe-precision auto picks here.[/yellow]"
        )
    return config
