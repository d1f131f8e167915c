"""kNN classification under processing setups: how much processing traces steer semantic kNN.

Paper protocol: every database (training) image and every query has an embedding under each of P
processing classes.  A query embedded under processing p is classified by its k nearest database
images (cosine similarity on L2-normalised embeddings; k=10 "ImageNet-like", k=1 "iNat-like"),
where each database image takes part under ONE processing chosen by the setup:

- ``all-same``: every database image has the query's processing p;
- ``all-diff``: every database image has a processing other than p;
- ``pos-same``: images of the query's class have p, the others a processing other than p;
- ``neg-same``: images of the query's class have a processing other than p, the others p;
- ``uniform``: every database image has a processing drawn uniformly among all P.

"Other than p" is drawn uniformly among the P-1 other classes, seeded, fixed per (database image, p)
and shared by all-diff, pos-same and neg-same; the uniform draw is fixed per database image.
Accuracy is averaged over all queries and all query processings.  SPD_p = pos-same - neg-same.

Rules shared by the matrix implementation and the per-query loop, so both give identical numbers:

- similarities in float64 on L2-normalised embeddings rounded to multiples of 2**-26 (at most
  7.5e-9 off): every product is then a multiple of 2**-52 and every partial sum of a dot product
  stays below 2, so float64 holds each similarity exactly whatever the summation order (BLAS kernel,
  block and chunk shapes, device).  Without it duplicated images would differ in the last bits;
- exact ties between database images are broken by the lower database index;
- vote: majority of the k neighbours' labels; a tie in votes goes to the class whose neighbours have
  the larger summed similarity (summed in database-index order), then to the lower class index.

The matrix implementation streams the database: it stays where the caller keeps it (a tensor, a
numpy array or an ``np.memmap``) and blocks of rows are normalised on the device, so device memory is
bounded whatever N_db (an ImageNet-scale database does not fit).  Each block is read once; every
(setup, query processing, query) keeps a running top-k (similarities and database indices), merged
block after block with the tie rule above, so any block size gives the same neighbours.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.device import resolve_device

# Setup name -> (view of database images of the query's class, view of the other database images).
# A view names where a database image's processing comes from: the query's own processing ("same"),
# the seeded draw among the other P-1 processings ("other"), or the seeded uniform draw ("uniform").
SETUPS: dict[str, tuple[str, str]] = {
    "all-same": ("same", "same"),
    "all-diff": ("other", "other"),
    "pos-same": ("same", "other"),
    "neg-same": ("other", "same"),
    "uniform": ("uniform", "uniform"),
}

# Database block: its rows under all P processings plus its gallery (rows under the needed views).
DB_BLOCK_BYTES = 2**30
# Query chunk size: chunk * views * block similarities take at most this much (peak about twice it).
SIMILARITY_BYTES = 256 * 2**20
# float64 embeddings are rounded to multiples of this, making similarities exact (module docstring).
GRID = 2.0**-26


@dataclass(frozen=True)
class ProcessingDraws:
    """Seeded per-database-image processing draws, shared by every implementation."""

    other: torch.Tensor  # (P, N_db): for query processing p, image j's processing, never p
    uniform: torch.Tensor  # (N_db,): image j's processing in the uniform setup

    def processing(self, view: str, p: int) -> torch.Tensor:
        """(N_db,) processing index of every database image under ``view`` for query processing p."""
        views = {
            "same": lambda: torch.full_like(self.uniform, p),
            "other": lambda: self.other[p],
            "uniform": lambda: self.uniform,
        }
        return views[view]()


def processing_draws(n_db: int, n_processings: int, seed: int = 0) -> ProcessingDraws:
    """Draw "other than p" (uniform over the P-1 others) per (p, image) and "uniform" per image."""
    gen = torch.Generator().manual_seed(seed)
    r = torch.randint(0, n_processings - 1, (n_processings, n_db), generator=gen)
    other = r + (r >= torch.arange(n_processings)[:, None]).long()  # skip p itself
    uniform = torch.randint(0, n_processings, (n_db,), generator=gen)
    return ProcessingDraws(other=other, uniform=uniform)


# --------------------------------------------------------------------------------------------------
# Inputs


def _tensor(a) -> torch.Tensor:
    return (a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))).detach()


def _embeddings(a, name: str) -> torch.Tensor | np.ndarray:
    """(N, P, D) embeddings, not copied: a database larger than memory (np.memmap) is read per block."""
    t = a.detach() if isinstance(a, torch.Tensor) else a if isinstance(a, np.ndarray) else np.asarray(a)
    if t.ndim != 3 or 0 in t.shape:
        raise ValueError(f"{name} must be a non-empty (N, P, D) array of embeddings, got shape {tuple(t.shape)}")
    return t


def _normalised(rows, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Embeddings L2-normalised in ``dtype`` on ``device`` (float64: on the GRID); raises on NaN or inf."""
    if isinstance(rows, np.ndarray):
        rows = np.array(rows)  # a copy: torch will not share read-only memory (np.memmap mode "r")
    t = _tensor(rows).to(device, dtype)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    t = F.normalize(t, dim=-1)
    return torch.round(t / GRID) * GRID if dtype == torch.float64 else t


def _class_labels(a, name: str, n: int) -> torch.Tensor:
    t = _tensor(a)
    if t.ndim != 1 or t.is_floating_point() or t.dtype == torch.bool:
        raise ValueError(f"{name} must be a 1-D array of integer class indices, got {t.dtype} {tuple(t.shape)}")
    if len(t) != n:
        raise ValueError(f"{name} has {len(t)} labels for {n} images")
    if len(t) and int(t.min()) < 0:
        raise ValueError(f"{name} has negative class indices")
    return t.long()


@dataclass(frozen=True)
class _Inputs:
    db: torch.Tensor | np.ndarray  # (N_db, P, D) as given, read per block by ``db_rows``
    db_labels: torch.Tensor  # on the device
    queries: torch.Tensor  # (N_q, P, D) L2-normalised in the similarity dtype, on the device
    query_labels: torch.Tensor
    n_classes: int
    draws: ProcessingDraws  # on the host

    def db_rows(self, start: int, stop: int) -> torch.Tensor:
        """Database rows [start, stop) under every processing, normalised like the queries."""
        return _normalised(self.db[start:stop], "db", self.queries.dtype, self.queries.device)


def _inputs(db, db_labels, queries, query_labels, k: int, seed: int, dtype, device) -> _Inputs:
    """Validate, L2-normalise the queries in ``dtype`` on ``device``; draw the db processings."""
    db_t, q_t = _embeddings(db, "db"), _embeddings(queries, "queries")
    if db_t.shape[1:] != q_t.shape[1:]:
        raise ValueError(
            f"db is (N, P, D) = {tuple(db_t.shape)} but queries are {tuple(q_t.shape)}: P and D must match"
        )
    if db_t.shape[1] < 2:
        raise ValueError("kNN setups need at least 2 processing classes (P >= 2)")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(db_t):
        raise ValueError(f"k must be an integer in [1, {len(db_t)}] (the database size), got {k!r}")
    db_y = _class_labels(db_labels, "db_labels", len(db_t))
    q_y = _class_labels(query_labels, "query_labels", len(q_t))
    return _Inputs(
        db=db_t,
        db_labels=db_y.to(device),
        queries=_normalised(q_t, "queries", dtype, device),
        query_labels=q_y.to(device),
        n_classes=1 + max(int(db_y.max()), int(q_y.max())),
        draws=processing_draws(len(db_t), db_t.shape[1], seed),
    )


def _check_setups(setups) -> list[str]:
    unknown = [s for s in setups if s not in SETUPS]
    if unknown:
        raise ValueError(f"unknown kNN setup(s) {unknown}; choose from {list(SETUPS)}")
    return list(setups)


# --------------------------------------------------------------------------------------------------
# Matrix implementation


def _top_k(values: torch.Tensor, k: int) -> torch.Tensor:
    """Columns of the k largest values per row (n, k), ascending; exact ties keep the leftmost.

    With columns in database-index order, that is the module's tie rule.
    """
    kth = values.topk(k, dim=1).values[:, -1:]
    above = values > kth
    at = values == kth
    chosen = above | (at & (at.cumsum(1) <= k - above.sum(1, keepdim=True)))
    return chosen.nonzero()[:, 1].view(len(values), k)


def _merge(kept: torch.Tensor, kept_idx: torch.Tensor, sims: torch.Tensor, start: int):
    """Running top-k (similarities, database indices) updated with a block's similarities (n, B).

    The block holds database rows start, start + 1, ...; blocks come in database order, so the
    [kept, block's top k] columns are in database-index order and the tie rule holds across blocks.
    """
    k = kept.shape[1]
    cols = _top_k(sims, min(k, sims.shape[1]))
    merged, merged_idx = torch.cat([kept, sims.gather(1, cols)], 1), torch.cat([kept_idx, cols + start], 1)
    cols = _top_k(merged, k)
    return merged.gather(1, cols), merged_idx.gather(1, cols)


def _vote(sims: torch.Tensor, neighbours: torch.Tensor, db_labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Predicted class per row of k neighbours (similarities, database indices in ascending order)."""
    labels = db_labels[neighbours]
    votes = torch.zeros(len(sims), n_classes, dtype=sims.dtype, device=sims.device)
    votes.scatter_add_(1, labels, torch.ones_like(sims))
    summed = torch.zeros_like(votes).scatter_add_(1, labels, sims)
    summed[votes < votes.max(1, keepdim=True).values] = -math.inf
    return summed.argmax(1)  # first maximum: the lower class index


def _correct_counts(
    inp: _Inputs, setups: list[str], k: int, chunk_size: int | None, db_block_size: int | None
) -> dict[str, int]:
    """Correct predictions per setup, over all queries and query processings.

    Each database block is read once.  Device memory: one block, one similarity chunk, the queries
    and the running top-k of every (setup, processing, query), which starts as -inf placeholders
    (index -1) that the first k database images replace.
    """
    if any(n is not None and n < 1 for n in (chunk_size, db_block_size)):
        raise ValueError(f"chunk_size and db_block_size must be positive, got {chunk_size}, {db_block_size}")
    n_db, n_proc, dim = inp.db.shape
    n_q, device, size = len(inp.queries), inp.queries.device, inp.queries.element_size()
    views = sorted({v for s in setups for v in SETUPS[s]})
    block = db_block_size or max(1, DB_BLOCK_BYTES // ((n_proc + len(views)) * dim * size))
    chunk = chunk_size or max(1, SIMILARITY_BYTES // (len(views) * min(block, n_db) * size))
    chunks = [slice(start, start + chunk) for start in range(0, n_q, chunk)]
    kept = torch.full((len(setups), n_proc, n_q, k), -math.inf, dtype=inp.queries.dtype, device=device)
    kept_idx = torch.full(kept.shape, -1, device=device)
    for start in range(0, n_db, block):
        rows = inp.db_rows(start, start + block)
        stop, row_range = start + len(rows), torch.arange(len(rows), device=device)
        for p in range(n_proc):
            processings = [inp.draws.processing(v, p)[start:stop].to(device) for v in views]
            gallery = torch.cat([rows[row_range, processing] for processing in processings])
            for q in chunks:
                sims = (inp.queries[q, p] @ gallery.T).view(-1, len(views), len(rows))
                same_class = inp.query_labels[q, None] == inp.db_labels[None, start:stop]
                for i, setup in enumerate(setups):
                    pos, neg = (views.index(v) for v in SETUPS[setup])
                    s = torch.where(same_class, sims[:, pos], sims[:, neg])
                    kept[i, p, q], kept_idx[i, p, q] = _merge(kept[i, p, q], kept_idx[i, p, q], s, start)
    correct = dict.fromkeys(setups, 0)
    for (i, setup), p, q in itertools.product(enumerate(setups), range(n_proc), chunks):
        predicted = _vote(kept[i, p, q], kept_idx[i, p, q], inp.db_labels, inp.n_classes)
        correct[setup] += int((predicted == inp.query_labels[q]).sum())
    return correct


def knn_accuracy(
    db,
    db_labels,
    queries,
    query_labels,
    setup: str,
    k: int,
    seed: int = 0,
    device=None,
    *,
    chunk_size: int | None = None,
    db_block_size: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> float:
    """kNN accuracy of one setup, averaged over queries and query processings.

    db: (N_db, P, D) embeddings with labels (N_db,); queries: (N_q, P, D) with labels (N_q,).
    Raises ValueError on unknown setups, k outside [1, N_db], shape or label problems.
    """
    return knn_all_setups(
        db,
        db_labels,
        queries,
        query_labels,
        k,
        seed,
        device,
        setups=(setup,),
        chunk_size=chunk_size,
        db_block_size=db_block_size,
        dtype=dtype,
    )[setup]


def knn_all_setups(
    db,
    db_labels,
    queries,
    query_labels,
    k: int,
    seed: int = 0,
    device=None,
    *,
    setups=tuple(SETUPS),
    chunk_size: int | None = None,
    db_block_size: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> dict[str, float]:
    """Accuracy per setup plus ``spd_p`` (pos-same - neg-same) when both are computed.

    The similarities of a query chunk to a database block under every needed view are one GEMM,
    shared by all setups.  ``db`` may stay on the host (tensor, numpy array, ``np.memmap``): only
    blocks of ``db_block_size`` rows (default: what fits DB_BLOCK_BYTES) go to ``device``.
    ``dtype=torch.float32`` halves time and memory but is not exact: near-ties and duplicated
    images may then depend on block and chunk sizes and differ from ``knn_accuracy_loop``.
    """
    setups = _check_setups(setups)
    with torch.no_grad():
        inp = _inputs(db, db_labels, queries, query_labels, k, seed, dtype, resolve_device(device))
        correct = _correct_counts(inp, setups, int(k), chunk_size, db_block_size)
    total = inp.queries.shape[0] * inp.queries.shape[1]
    result = {setup: correct[setup] / total for setup in setups}
    if "pos-same" in result and "neg-same" in result:
        result["spd_p"] = result["pos-same"] - result["neg-same"]
    return result


# --------------------------------------------------------------------------------------------------
# Reference: one query at a time


def _vote_loop(labels: list[int], sims: list[float]) -> int:
    votes: dict[int, int] = {}
    summed: dict[int, float] = {}
    for label, sim in zip(labels, sims):
        votes[label] = votes.get(label, 0) + 1
        summed[label] = summed.get(label, 0.0) + sim
    return max(votes, key=lambda c: (votes[c], summed[c], -c))


def knn_accuracy_loop(
    db, db_labels, queries, query_labels, setup: str, k: int, seed: int = 0, *, dtype: torch.dtype = torch.float64
) -> float:
    """Per-query reference for ``knn_accuracy`` (CPU): same draws, same ties, same numbers."""
    _check_setups([setup])
    inp = _inputs(db, db_labels, queries, query_labels, k, seed, dtype, torch.device("cpu"))
    db_rows = inp.db_rows(0, len(inp.db))
    n_db, n_proc, _ = db_rows.shape
    pos_view, neg_view = SETUPS[setup]
    correct = 0
    for p in range(n_proc):
        pos_proc = inp.draws.processing(pos_view, p)
        neg_proc = inp.draws.processing(neg_view, p)
        for query, label in zip(inp.queries[:, p], inp.query_labels.tolist()):
            processing = torch.where(inp.db_labels == label, pos_proc, neg_proc)
            sims = db_rows[torch.arange(n_db), processing] @ query
            top = torch.argsort(sims, descending=True, stable=True)[: int(k)].sort().values
            correct += _vote_loop(inp.db_labels[top].tolist(), sims[top].tolist()) == label
    return correct / (len(inp.queries) * n_proc)
