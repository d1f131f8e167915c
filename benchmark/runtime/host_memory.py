"""Keep freed CPU tensor memory in the process: glibc otherwise unmaps it and faults it in again.

glibc's malloc gives every allocation above its mmap threshold (32 MiB at most by default) fresh
``mmap`` pages and unmaps them when freed.  A forward pass on the CPU frees and reallocates its large
activations at every batch, so the kernel maps and zeroes them again each time: with effnet-lite0 at
batch 32 on 2 cores, half of the forward pass was kernel time, and raising the thresholds took it
from 25 to 75 images/s; the kNN's similarity blocks gain about a quarter.  (PyTorch's performance
guide suggests jemalloc or tcmalloc for the same reason; glibc's own settings need no library.)
Results are unchanged: only where memory comes from differs.  The cost is that up to
``TRIM_THRESHOLD`` of freed memory stays with the process for its next batch.

A user who set glibc's malloc tunables (``MALLOC_*_`` or ``GLIBC_TUNABLES``) keeps them.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform

MMAP_THRESHOLD = 1 << 30  # allocations up to 1 GiB come from the heap and are reused
TRIM_THRESHOLD = 2**31 - 1  # up to 2 GiB of freed heap stays with the process (mallopt takes an int)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def user_chose_malloc_settings() -> bool:
    return any(name.startswith("MALLOC_") for name in os.environ) or "malloc" in os.environ.get("GLIBC_TUNABLES", "")


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds, once per process; False where not done (not glibc, or
    the user chose malloc settings)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or user_chose_malloc_settings():
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
