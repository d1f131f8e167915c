"""Where the benchmark computes: the GPU when there is one, so the same code runs on both.

Also which precision pays off there: ``auto`` precision is bfloat16 only on hardware that multiplies
bfloat16 natively (it is emulated, hence slower than float32, elsewhere), so it is never a trap.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import torch

from benchmark.choices import EncoderPrecision, ProbePrecision, chosen

# CPU flags (as /proc/cpuinfo spells them) of native bfloat16 dot products: AVX-512-BF16, AMX.
CPU_BFLOAT16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` → ``cuda`` when available, else ``cpu``; anything else as given."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def encoder_precision(choice: str, device: str | torch.device, released: str | None) -> str:
    """The arithmetic the encoder gets: ``float32``, ``autocast`` or ``float16``.

    ``choice`` is an :class:`EncoderPrecision`; ``released`` is the registry's released ``model,variant``
    (``clip,...`` is OpenAI CLIP).
    """
    choice = chosen(EncoderPrecision, choice, "encoder precision")
    if torch.device(device).type != "cuda" or choice == EncoderPrecision.FLOAT32:
        return "float32"
    if choice == EncoderPrecision.RELEASED:
        return "float16" if (released or "").startswith("clip,") else "float32"
    return "autocast"


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (Linux); empty where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


@functools.cache
def cpu_has_fast_bfloat16() -> bool:
    """AVX-512-BF16 or AMX: oneDNN then runs bfloat16 GEMMs ~2x faster than float32 (checked once).

    /proc/cpuinfo first; where it is missing, PyTorch's own probe of the same CPUID bits.
    """
    flags = cpu_flags()
    if flags:
        return bool(flags & CPU_BFLOAT16_FLAGS)
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


@functools.cache
def cuda_has_fast_bfloat16(index: int) -> bool:
    """Native bfloat16 on that GPU (Ampere and later, ROCm), not the emulation (checked once)."""
    with torch.cuda.device(index):
        return torch.cuda.is_bf16_supported(including_emulation=False)


def has_fast_bfloat16(device: str | torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 natively: CUDA with bf16 support, CPUs with the flags."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and cuda_has_fast_bfloat16(
            torch.cuda.current_device() if device.index is None else device.index
        )
    if device.type == "cpu":
        return cpu_has_fast_bfloat16()
    return False  # mps, xpu, ...: not measured here, float32 is the safe choice


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``auto`` → ``bfloat16`` where ``device`` runs it fast, else ``float32``; others as given."""
    precision = chosen(ProbePrecision, precision, "probe precision")
    if precision != ProbePrecision.AUTO:
        return precision.value
    return "bfloat16" if has_fast_bfloat16(device) else "float32"


COHORT_MEMORY_SHARE = 0.5  # of the device's memory, for the parameters of the encoders a sweep holds together


def encoder_memory_budget(device: str | torch.device | None = None) -> int:
    """Bytes of encoder parameters a sweep may hold at once: half of the GPU's memory (and of the host's free
    memory, where the encoders load first), or on a CPU half of the free host memory; the rest is for
    activations, the prepared batches and the tasks."""
    device = resolve_device(device)
    free_host = available_host_memory()
    if device.type == "cuda":
        index = torch.cuda.current_device() if device.index is None else device.index
        return int(COHORT_MEMORY_SHARE * min(torch.cuda.get_device_properties(index).total_memory, free_host))
    return int(COHORT_MEMORY_SHARE * free_host)


def available_host_memory() -> int:
    """Bytes of host memory available to a new allocation (Linux's MemAvailable: free plus reclaimable cache)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def usable_cores() -> int:
    """CPU cores this process may use: those Ray reserved for it (in a Ray task or actor), else its affinity."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        try:
            reserved = ray.get_runtime_context().get_assigned_resources().get("CPU")
        except Exception:  # the driver: no reservation of its own
            reserved = None
        if reserved:
            return max(1, int(reserved))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
