"""Freed CPU tensor memory is reused, not unmapped and faulted in again at every batch."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from benchmark.runtime.host_memory import user_chose_malloc_settings

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc settings only"
)

# Page faults of allocating, filling and freeing a 64 MiB tensor 20 times, with or without the setting.
FAULTS = """
import json, resource, sys
import torch
from benchmark.runtime.host_memory import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
for _ in range(5):  # the heap grows to its working size in the first few either way
    torch.ones(1 << 24).sum()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    torch.ones(1 << 24).sum()
print(json.dumps({"applied": applied, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}))
"""
PAGES_PER_TENSOR = (1 << 26) // 4096


def faults(mode: str, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout)


def test_repeated_large_allocations_reuse_memory_once_applied(monkeypatch):
    for name in [n for n in os.environ if n.startswith("MALLOC_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    default, kept = faults("default"), faults("keep")
    assert default["faults"] > 15 * PAGES_PER_TENSOR  # glibc maps each 64 MiB afresh: why the setting exists
    assert kept["applied"] is True
    assert kept["faults"] < 4 * PAGES_PER_TENSOR  # of 20 allocations, at most a few still grow the heap


def test_a_users_own_malloc_settings_are_kept(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert user_chose_malloc_settings()
    assert faults("keep", env=dict(os.environ))["applied"] is False
