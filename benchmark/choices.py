"""The choices a trace-bench user makes, as str Enums: Typer lists their values in ``--help`` and
refuses others at the command line; :func:`chosen` checks what library callers pass, once, where the
choice enters.  Kept free of torch so ``--help`` and ``trace-bench models`` stay instant."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from benchmark.errors import UsageError


class EncoderPrecision(StrEnum):
    """How the encoder runs on a GPU (on a CPU it is always float32, as in the released code):
    :func:`benchmark.runtime.device.encoder_precision`."""

    AUTOCAST = "autocast"  # CUDA mixed precision (ours)
    FLOAT32 = "float32"
    # float16 weights for OpenAI CLIP (what the released code's ``clip.load`` gives on CUDA), float32 for
    # every other encoder
    RELEASED = "released"


class ProbePrecision(StrEnum):
    """The probe's training GEMM inputs (:mod:`benchmark.protocols.probe`): ``auto`` is bfloat16 where
    the device multiplies it natively, else float32."""

    AUTO = "auto"
    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"


class ExifOrientation(StrEnum):
    """Whether decoding applies the Exif orientation (:func:`benchmark.sources.imageset.with_exif_orientation`)."""

    AUTO = "auto"  # as the released loader of the dataset's kind
    APPLY = "apply"
    IGNORE = "ignore"


class Executor(StrEnum):
    """Where extraction chunks run (:mod:`benchmark.embeddings.executors`)."""

    LOCAL = "local"
    RAY = "ray"


class Workers(StrEnum):
    """``--workers``: a number of data-loading processes, or ``auto``: as many as the cores the forward pass
    leaves (:func:`benchmark.embeddings.batches.loader_processes`)."""

    AUTO = "auto"


class VoteTies(StrEnum):
    """How a tie in kNN votes is broken (:mod:`benchmark.protocols.knn`); the released rule is the default."""

    RELEASED = "released"
    LOWEST_CLASS = "lowest-class"
    SIMILARITY = "similarity"


class EraserMethod(StrEnum):
    """The erasers of ``trace-bench mitigate`` (:mod:`benchmark.protocols.erasers`)."""

    LEACE = "leace"
    PAIRED = "paired"
    INLP = "inlp"


class Family(StrEnum):
    """The processing families (:data:`benchmark.imaging.processing.FAMILIES`)."""

    JPEG = "jpeg"
    SHARPENING = "sharpening"
    RESIZING = "resizing"
    INTERPOLATION = "interpolation"


E = TypeVar("E", bound=StrEnum)


def chosen(choices: type[E], value: object, option: str) -> E:
    """``value`` as a member of the str Enum ``choices``; else a UsageError naming ``option``'s choices."""
    try:
        return choices(value)
    except ValueError:
        valid = ", ".join(member.value for member in choices)
        raise UsageError(f"unknown {option} {value!r}; choose from {valid}") from None
