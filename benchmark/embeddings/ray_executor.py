"""``--executor ray``: embedding extraction and sweeps on a Ray cluster, with the local run's numbers.

A convolution's output depends on the batch it is computed in, so Ray workers compute the very
chunks and batches of the local loop (:func:`benchmark.embeddings.batches.embed_chunk`) with the driver's
number of torch threads (a CPU convolution's sums depend on it too): the embeddings are equal bit
for bit on CPU.  Each worker is a Ray actor holding the encoders of the cohort (pickled once into the object store;
one actor per GPU when the cluster has GPUs, else one per that many CPUs); it decodes and processes
its chunk's images itself (with ``--workers`` loader processes) and runs the model.  The driver
writes each finished chunk into the cache's ``.partial`` folder as it arrives, so an interrupted
run resumes, a later local run reuses the cache, and the cache needs no filesystem shared with
the workers (the images do).  A worker that dies is restarted and its chunk retried.

Sweeps fan out with :func:`fan_out`: one Ray task per (cohort of encoders, dataset), each running its
tasks (and their probes, kNN and retrieval) where its embeddings are.

``ray`` is an optional extra, imported only when asked for.
"""

from __future__ import annotations

import os
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmark.embeddings.batches import EmbedSettings, dtype_of, embed_chunk, members
from benchmark.errors import UsageError

INSTALL_HINT = "pip install '.[ray]'"
# Test hook: a file path; the first chunk a worker gets while the file is missing creates it and kills
# the worker process, so tests can check that Ray's restart and retry give the same embeddings.
CRASH_ONCE_ENV = "TRACE_BENCH_RAY_CRASH_ONCE"
RETRIES = 3  # restarts of a dead worker, and retries of its chunk


def import_ray() -> Any:
    """The ``ray`` module, or a UsageError (exit code 2) saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"--executor ray needs Ray: {INSTALL_HINT} (or pip install 'ray[data]')") from None
    return ray


def connect(address: str | None = None) -> Any:
    """Ray, initialised: the running session if there is one, else a cluster at ``address``, else a local Ray."""
    ray = import_ray()
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(address=address, include_dashboard=False, logging_level="WARNING")
    return ray


def cluster(address: str | None = None) -> dict[str, int]:
    """The nodes, CPUs and GPUs of the Ray cluster (alive nodes)."""
    nodes = _nodes(address)
    return {
        "nodes": len(nodes),
        "cpus": sum(int(node.get("CPU", 0)) for node in nodes),
        "gpus": sum(int(node.get("GPU", 0)) for node in nodes),
    }


def _nodes(address: str | None) -> list[dict[str, float]]:
    return [node["Resources"] for node in connect(address).nodes() if node.get("Alive")]


def cpus_per_gpu(address: str | None = None) -> int:
    """The CPUs a GPU's worker reserves: its node's CPUs shared among the node's GPUs (on the node with the
    fewest per GPU), so that its loader processes (``--workers auto``) have cores of their own."""
    shares = [int(node.get("CPU", 0)) // int(node["GPU"]) for node in _nodes(address) if node.get("GPU")]
    return max(1, min(shares)) if shares else 1


@dataclass(frozen=True)
class RayExecutor:
    """Chunks on a pool of Ray actors holding the cohort's encoders.

    ``workers``: the pool size (default and most: what the cluster fits).  ``threads``: torch threads
    of a worker, and CPUs it reserves on a CPU cluster (default: this process's, as a local run).
    """

    address: str | None = None
    workers: int | None = None
    threads: int | None = None
    name: str = "ray"

    def default_device(self) -> str:
        return "cuda" if cluster(self.address)["gpus"] else "cpu"

    def worker_threads(self) -> int:
        import torch

        return self.threads or torch.get_num_threads()

    def pool_size(self, device: str | None = None) -> int:
        """Workers the cluster fits: one per GPU, else one per ``threads`` CPUs of a node."""
        nodes = _nodes(self.address)
        gpu = (device or self.default_device()).startswith("cuda")
        per_node = [int(n.get("GPU", 0)) if gpu else int(n.get("CPU", 0)) // self.worker_threads() for n in nodes]
        capacity = max(1, sum(per_node))
        return min(self.workers or capacity, capacity)

    def worker_resources(self, device: str) -> dict[str, float]:
        gpu = device.startswith("cuda")
        return {"num_cpus": cpus_per_gpu(self.address) if gpu else self.worker_threads(), "num_gpus": 1 if gpu else 0}

    def record(self, data_workers: int = 0) -> dict[str, Any]:
        device = self.default_device()
        return {
            "executor": "ray",
            "address": self.address or "local",
            "cluster": cluster(self.address),
            "workers": self.pool_size(device),
            "worker_resources": self.worker_resources(device),
            "threads_per_worker": self.worker_threads(),
            "data_workers": data_workers,
        }

    def __call__(self, encoders, items, chunks, settings, write, on_batch) -> None:
        ray = connect(self.address)
        actors = _pool(ray, tuple(encoders), self, settings.device, min(self.pool_size(settings.device), len(chunks)))
        queue, running = deque(chunks), {}

        def submit(actor) -> None:
            chunk = queue.popleft()
            running[actor.embed.remote(list(items[chunk.start : chunk.stop]), chunk.variants, settings)] = (
                chunk,
                actor,
            )

        for actor in actors:
            if queue:
                submit(actor)
        while running:
            (done,), _ = ray.wait(list(running), num_returns=1)
            chunk, actor = running.pop(done)
            write(chunk, ray.get(done))
            if on_batch:
                on_batch(chunk.stop - chunk.start)
            if queue:
                submit(actor)


class _Worker:
    """A Ray actor: the cohort's encoders, loaded once, embedding chunk after chunk."""

    def __init__(self, encoders: tuple, threads: int, crash_marker: str | None = None):
        import torch

        torch.set_num_threads(threads)  # as the driver: the same sums, so the same bits
        self.encoders, self.crash_marker = encoders, crash_marker
        self.cohort, self.cohort_for = None, None

    def embed(self, items, variants, settings: EmbedSettings):
        if self.crash_marker and not Path(self.crash_marker).exists():
            Path(self.crash_marker).touch()
            os._exit(1)  # a dying worker, as a test asks (see CRASH_ONCE_ENV)
        if settings.device.startswith("cuda"):
            settings = replace(settings, device="cuda")  # the GPU Ray gave this actor
        wanted = (settings.device, tuple(dtype_of(precision) for precision in settings.precisions))
        if self.cohort_for != wanted:
            self.cohort, self.cohort_for = members(self.encoders, settings), wanted
        return embed_chunk(self.cohort, items, variants, settings)


@dataclass
class _Pool:
    owners: tuple[weakref.ref, ...]  # the cohort's encoders
    job: str
    device: str
    threads: int
    actors: list
    shared: list  # the encoders in the object store, kept while their actors live (a restart reads them again)

    def holds(self, encoders: tuple) -> bool:
        return len(self.owners) == len(encoders) and all(o() is e for o, e in zip(self.owners, encoders))


_POOL: _Pool | None = None  # the actors of the last cohort; a run calls extract once per split and task


def _pool(ray, encoders: tuple, executor: RayExecutor, device: str, size: int) -> list:
    """At least ``size`` actors holding ``encoders``: kept across calls, replaced for another cohort."""
    global _POOL
    job = ray.get_runtime_context().get_job_id()
    threads = executor.worker_threads()
    if _POOL is not None and (
        not _POOL.holds(encoders) or (_POOL.job, _POOL.device, _POOL.threads) != (job, device, threads)
    ):
        shutdown_pool()
    if _POOL is None:
        _POOL = _Pool(tuple(weakref.ref(e) for e in encoders), job, device, threads, [], [])
    missing = size - len(_POOL.actors)
    if missing > 0:
        for encoder in encoders:
            encoder.model.to("cpu")  # pickled for the workers, which move it to their device
        shared = ray.put(encoders)
        _POOL.shared.append(shared)
        actor_class = ray.remote(_Worker).options(
            **executor.worker_resources(device), max_restarts=RETRIES, max_task_retries=RETRIES
        )
        _POOL.actors += [actor_class.remote(shared, threads, os.environ.get(CRASH_ONCE_ENV)) for _ in range(missing)]
    return _POOL.actors[:size]


def shutdown_pool() -> None:
    """Free the workers (and their copies of the encoders); the next Ray extraction starts new ones."""
    global _POOL
    if _POOL is None:
        return
    try:
        import ray

        if ray.is_initialized():
            for actor in _POOL.actors:
                ray.kill(actor)
    finally:
        _POOL = None


def fan_out(
    function: Callable[..., Any],
    calls: Sequence[tuple],
    *,
    address: str | None = None,
    gpus_per_call: float | None = None,
    cpus_per_call: float = 1,
    on_result: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """``function(*args)`` for every ``args`` in ``calls``, each as a Ray task; results in call order.

    A sweep's unit: one call per (cohort, dataset), writing its own result files (the output folder
    must be shared by the nodes).  ``function`` must be importable on the workers (a module-level
    function of an installed module).  Default ``gpus_per_call``: 1 when the cluster has GPUs.
    A task whose worker dies is retried; an exception ``function`` raises is raised here.
    """
    ray = connect(address)
    shutdown_pool()  # the extraction workers' CPUs and GPUs go to the sweep's tasks
    gpus = gpus_per_call if gpus_per_call is not None else (1 if cluster(address)["gpus"] else 0)
    if gpus:  # a GPU's task also reserves its share of the node's CPUs, for its loader processes
        cpus_per_call = max(cpus_per_call, cpus_per_gpu(address))
    remote = ray.remote(function).options(num_cpus=cpus_per_call, num_gpus=gpus, max_retries=RETRIES)
    refs = [remote.remote(*args) for args in calls]
    index = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(refs)
    pending = list(refs)
    while pending:
        (done,), pending = ray.wait(pending, num_returns=1)
        results[index[done]] = ray.get(done)
        if on_result:
            on_result(index[done], results[index[done]])
    return results
