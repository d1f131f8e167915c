"""From images to embeddings, batch by batch: decode each source once for all variants, and for all the
encoders of a cohort, prepare the next batches beside the forward pass, and run the models
(:func:`embed_chunk`, the unit that the local loop and Ray workers both run, so their numbers are equal).

A sweep holds several encoders together (a cohort): each source is decoded and each of its processings
(JPEG re-encodes, sharpening, resizing of the full image) made once for all of them, each uint8 crop once
per input geometry (:attr:`~benchmark.imaging.preprocess.Preprocess.geometry`), and every encoder of that
geometry gets the same batch of it; only the normalisation and the forward pass are per encoder."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmark.choices import Workers
from benchmark.embeddings.variants import Variant
from benchmark.imaging.preprocess import Preprocess
from benchmark.imaging.processing import UnreadableImage, open_rgb, process_many
from benchmark.runtime.device import usable_cores
from benchmark.runtime.host_memory import keep_freed_memory
from benchmark.sources.imageset import ImageItem

BATCHES_AHEAD = 2  # batches of images prepared ahead of the forward pass (without loader processes)


class VariantImages(torch.utils.data.Dataset):
    """Item i → {input number: uint8 crop} for every ``(preprocess, variant)`` of ``inputs``, decoding the
    source once and making each processing once for all of them (the crop is the preprocess's geometry's).

    Pillow and numpy work only (no torch), so threads can prepare items beside the forward pass.
    """

    def __init__(
        self,
        items: Sequence[ImageItem],
        inputs: Sequence[tuple[Preprocess, Variant]],
        seed: int,
        exif_transpose: bool = False,
    ):
        self.items, self.inputs, self.seed = list(items), list(inputs), seed
        self.exif_transpose = exif_transpose  # the image set's decoding rule (ImageSet.exif_orientation)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Prepared:
        item = self.items[index]
        try:
            source = open_rgb(item.read(), exif_transpose=self.exif_transpose)
            classes = {variant: variant.class_for(item.id, self.seed) for _, variant in self.inputs}
            processed = process_many(
                source, {(v.family, c) for v, c in classes.items() if v.family}, rng_key=(self.seed, item.id)
            )
            pixels = {
                number: variant.encoder_pixels(
                    processed[(variant.family, classes[variant])] if variant.family else source, preprocess
                )
                for number, (preprocess, variant) in enumerate(self.inputs)
            }
        except Exception as error:  # one image that cannot be read or processed is recorded, not fatal
            return Prepared(index, None, failure(error))
        return Prepared(index, pixels)


@dataclass(frozen=True)
class Prepared:
    """Item ``index`` ready for the encoders (``pixels``: input -> uint8 crop), or why it is not."""

    index: int
    pixels: dict[Any, np.ndarray] | None
    error: str | None = None


def failure(error: BaseException) -> str:
    """Why an image was skipped, in a line: the reason of an unreadable image, else the error's type too."""
    message = (str(error) or type(error).__name__).splitlines()[0]
    if isinstance(error, UnreadableImage):
        return message
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return f"{type(error).__name__}: {message}"


@dataclass(frozen=True)
class Batch:
    """Items of a batch: the crops of those that could be prepared (``kept``, item indices in order)
    and why the others could not (``failed``: item index -> reason)."""

    pixels: dict[Any, torch.Tensor]
    kept: list[int]
    failed: dict[int, str]


def collate(prepared: Sequence[Prepared]) -> Batch:
    kept = [p for p in prepared if p.pixels is not None]
    pixels = torch.utils.data.default_collate([p.pixels for p in kept]) if kept else {}
    return Batch(pixels, [p.index for p in kept], {p.index: p.error for p in prepared if p.pixels is None})


MIN_LOADER_PROCESSES = 2  # fewer spare cores than this: threads of this process prepare (see loader_processes)


def loader_processes(workers: int | str, device: str) -> int:
    """The data-loading processes of ``--workers``: a number as given; ``auto``, the cores this process may
    use beyond those its forward pass keeps busy: on a GPU all but the one that drives it, on a CPU those
    beyond torch's threads.  Fewer than :data:`MIN_LOADER_PROCESSES` spare cores (a CPU run with torch's
    default threads, a small GPU machine) gives none: the threads of :func:`batches` then prepare on every
    core, where one process would prepare on one."""
    if workers != Workers.AUTO:
        return int(workers)
    busy = 1 if device.startswith("cuda") else torch.get_num_threads()
    spare = usable_cores() - busy
    return spare if spare >= MIN_LOADER_PROCESSES else 0


def batches(dataset: VariantImages, settings: EmbedSettings) -> Iterator[Batch]:
    """The dataset's items in batches, in order: each a :class:`Batch` of uint8 crops (B, H, W, 3) per
    input.

    From data-loading processes (:func:`loader_processes`), or else from threads of this process that
    prepare the next batches while the current one runs through the model: decoding, processing and
    resizing are Pillow work that releases the GIL, and a CPU forward pass leaves cores idle between
    its parallel regions.
    """
    if workers := loader_processes(settings.workers, settings.device):
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=settings.batch_size, num_workers=workers, collate_fn=collate
        )
        yield from loader
        return
    starts = iter(range(0, len(dataset), settings.batch_size))
    pool = ThreadPoolExecutor(max(1, torch.get_num_threads()), thread_name_prefix="trace-bench-images")
    pending: deque[list[Future]] = deque()

    def submit(start: int) -> None:
        stop = min(start + settings.batch_size, len(dataset))
        pending.append([pool.submit(dataset.__getitem__, index) for index in range(start, stop)])

    try:
        for start in itertools.islice(starts, BATCHES_AHEAD):
            submit(start)
        while pending:
            items = [future.result() for future in pending.popleft()]
            if (start := next(starts, None)) is not None:
                submit(start)
            yield collate(items)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class EmbedSettings:
    """How a chunk is embedded, resolved once by :func:`~benchmark.embeddings.extract.extract`: the same for
    the local loop and a Ray worker."""

    seed: int
    batch_size: int
    device: str
    workers: int | str  # data-loading processes, or "auto" (loader_processes)
    precisions: tuple[str, ...]  # per encoder of the cohort, resolved for the device (runtime.device.encoder_precision)
    exif_transpose: bool


def dtype_of(precision: str) -> torch.dtype:
    return torch.float16 if precision == "float16" else torch.float32  # float16: as clip.load


@dataclass(frozen=True)
class Member:
    """An encoder of a cohort ready to embed: its model on the device in its dtype, its eval transform."""

    model: torch.nn.Module
    preprocess: Preprocess
    precision: str  # float32, autocast or float16


def members(encoders: Sequence[Any], settings: EmbedSettings) -> list[Member]:
    """The encoders' models on the device in their dtypes, in eval mode."""
    return [
        Member(encoder.model.to(settings.device, dtype_of(precision)).eval(), encoder.preprocess, precision)
        for encoder, precision in zip(encoders, settings.precisions, strict=True)
    ]


@dataclass(frozen=True)
class ChunkEmbeddings:
    """What :func:`embed_chunk` gives an encoder: embeddings of the chunk's items that could be read, per
    variant name (rows in the order of ``kept``, chunk positions), and why the others could not (``failed``)."""

    vectors: dict[str, torch.Tensor]
    kept: list[int]
    failed: dict[int, str]


def embed_chunk(
    cohort: Sequence[Member],
    items: Sequence[ImageItem],
    variants: Sequence[Sequence[Variant]],
    settings: EmbedSettings,
    on_batch: Callable[[int], None] | None = None,
) -> list[ChunkEmbeddings]:
    """The embeddings of one chunk of images under ``variants[i]`` for encoder ``cohort[i]``.

    Each distinct input (geometry, pixels) is prepared once and its batch given to every encoder that
    needs it; an encoder embeds each distinct input of its variants once (a family's ``none`` is
    ``jpeg/q95-444``).  Local and Ray runs both call this, with the same chunks and batches, so their
    numbers are equal bit for bit on CPU (a convolution's result depends on the batch it is computed in),
    and equal to each encoder's run alone.  An image that cannot be read or processed is left out of
    every variant and its reason kept.
    """
    keep_freed_memory()  # a Ray worker has no CLI to do it; 3x the CPU forward pass (benchmark.runtime.host_memory)
    numbers: dict[tuple, int] = {}  # (geometry, input key) -> input number
    inputs: list[tuple[Preprocess, Variant]] = []  # what each input number is made with
    uses: list[dict[int, list[str]]] = []  # per encoder: input number -> the names of the variants it embeds
    for member, wanted in zip(cohort, variants, strict=True):
        own: dict[int, list[str]] = {}
        for variant in wanted:
            key = (member.preprocess.geometry, variant.input_key())
            if key not in numbers:
                numbers[key] = len(inputs)
                inputs.append((member.preprocess, variant))
            own.setdefault(numbers[key], []).append(variant.name)
        uses.append(own)
    dataset = VariantImages(items, inputs, settings.seed, settings.exif_transpose)
    outputs: list[dict[int, list[torch.Tensor]]] = [{number: [] for number in own} for own in uses]
    kept: list[int] = []
    failed: dict[int, str] = {}
    with torch.inference_mode():
        for batch in batches(dataset, settings):
            for number, pixels in batch.pixels.items():
                pixels = pixels.to(settings.device, non_blocking=True)  # uint8 travels, once for every encoder
                for member, own, out in zip(cohort, uses, outputs):
                    if number in own:
                        out[number].append(forward_batch(member, pixels, settings.device))
            kept += batch.kept
            failed |= batch.failed
            if on_batch:
                on_batch(len(batch.kept) + len(batch.failed))
    return [
        ChunkEmbeddings(
            {
                name: torch.cat(out[number]) if out[number] else torch.zeros(0, 0)
                for number in own
                for name in own[number]
            },
            kept,
            failed,
        )
        for own, out in zip(uses, outputs)
    ]


def forward_batch(member: Member, pixels: torch.Tensor, device: str) -> torch.Tensor:
    """One encoder on a batch of uint8 crops: normalised on the device, embedded, float32 on the CPU."""
    with torch.autocast(device_type="cuda", enabled=member.precision == "autocast"):
        inputs = member.preprocess.normalise_batch(pixels)
        return member.model(inputs.to(dtype_of(member.precision))).float().cpu()
