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

- similarities in float64 (the two implementations sum in different orders; float64 keeps
  near-ties from flipping), exact ties between database images broken by the lower database index;
- vote: majority of the k neighbours' labels; a tie in votes goes to the class whose neighbours have
  the larger summed similarity (summed in database-index order), then to the lower class index.
"""

from __future__ import annotations

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

# Query chunk size: chunk * views * N_db similarities take at most this much (peak about twice it).
SIMILARITY_BYTES = 256 * 2**20


@dataclass(frozen=True)
class ProcessingDraws:
    """Seeded per-database-image processing draws, shared by every implementation."""

    other: torch.Tensor  # (P, N_db): for query processing p, image j's processing, never p
    uniform: torch.Tensor  # (N_db,): image j's processing in the uniform setup

    def processing(self, view: str, p: int) -> torch.Tensor:
        """(N_db,) processing index of every database image under ``view`` for query processing p."""
        views = {"same": lambda: torch.full_like(self.uniform, p), "other": lambda: self.other[p],
                 "uniform": lambda: self.uniform}
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


def _embeddings(a, name: str) -> torch.Tensor:
    t = _tensor(a)
    if t.ndim != 3 or 0 in t.shape:
        raise ValueError(f"{name} must be a non-empty (N, P, D) array of embeddings, got shape {tuple(t.shape)}")
    if not torch.isfinite(t.double()).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return t


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
    db: torch.Tensor  # (N_db, P, D) L2-normalised, float64 (or the requested dtype)
    db_labels: torch.Tensor
    queries: torch.Tensor  # (N_q, P, D) L2-normalised
    query_labels: torch.Tensor
    n_classes: int
    draws: ProcessingDraws


def _inputs(db, db_labels, queries, query_labels, k: int, seed: int, dtype, device) -> _Inputs:
    """Validate, L2-normalise in ``dtype`` and move to ``device``; draw the db processings."""
    db_t, q_t = _embeddings(db, "db"), _embeddings(queries, "queries")
    if db_t.shape[1:] != q_t.shape[1:]:
        raise ValueError(f"db is (N, P, D) = {tuple(db_t.shape)} but queries are {tuple(q_t.shape)}: "
                         "P and D must match")
    if db_t.shape[1] < 2:
        raise ValueError("kNN setups need at least 2 processing classes (P >= 2)")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(db_t):
        raise ValueError(f"k must be an integer in [1, {len(db_t)}] (the database size), got {k!r}")
    db_y = _class_labels(db_labels, "db_labels", len(db_t))
    q_y = _class_labels(query_labels, "query_labels", len(q_t))
    return _Inputs(
        db=F.normalize(db_t.to(device, dtype), dim=-1),
        db_labels=db_y.to(device),
        queries=F.normalize(q_t.to(device, dtype), dim=-1),
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


def _predict(sims: torch.Tensor, db_labels: torch.Tensor, k: int, n_classes: int) -> torch.Tensor:
    """kNN predictions for rows of similarities (n, N_db), with the module's tie rules."""
    kth = sims.topk(k, dim=1).values[:, -1:]
    above = sims > kth
    at = sims == kth  # exact ties at the k-th place: keep the lowest database indices
    chosen = above | (at & (at.cumsum(1) <= k - above.sum(1, keepdim=True)))
    neighbours = chosen.nonzero()[:, 1].view(len(sims), k)  # ascending database index per row
    labels = db_labels[neighbours]
    votes = torch.zeros(len(sims), n_classes, dtype=sims.dtype, device=sims.device)
    votes.scatter_add_(1, labels, torch.ones_like(labels, dtype=sims.dtype))
    summed = torch.zeros_like(votes).scatter_add_(1, labels, sims.gather(1, neighbours))
    summed[votes < votes.max(1, keepdim=True).values] = -math.inf
    return summed.argmax(1)  # first maximum: the lower class index


def _correct_counts(inp: _Inputs, setups: list[str], k: int, chunk_size: int | None) -> dict[str, int]:
    """Correct predictions per setup, over all queries and query processings."""
    n_db, n_proc, _ = inp.db.shape
    views = sorted({v for s in setups for v in SETUPS[s]})
    rows = torch.arange(n_db, device=inp.db.device)
    chunk = chunk_size or max(1, SIMILARITY_BYTES // (len(views) * n_db * inp.db.element_size()))
    correct = dict.fromkeys(setups, 0)
    for p in range(n_proc):
        gallery = torch.cat([inp.db[rows, inp.draws.processing(v, p).to(rows.device)] for v in views])
        for start in range(0, len(inp.queries), chunk):
            q_y = inp.query_labels[start : start + chunk]
            sims = (inp.queries[start : start + chunk, p] @ gallery.T).view(len(q_y), len(views), n_db)
            same_class = q_y[:, None] == inp.db_labels[None, :]
            for setup in setups:
                pos, neg = (views.index(v) for v in SETUPS[setup])
                s = torch.where(same_class, sims[:, pos], sims[:, neg])
                correct[setup] += int((_predict(s, inp.db_labels, k, inp.n_classes) == q_y).sum())
    return correct


def knn_accuracy(db, db_labels, queries, query_labels, setup: str, k: int, seed: int = 0, device=None,
                 *, chunk_size: int | None = None, dtype: torch.dtype = torch.float64) -> float:
    """kNN accuracy of one setup, averaged over queries and query processings.

    db: (N_db, P, D) embeddings with labels (N_db,); queries: (N_q, P, D) with labels (N_q,).
    Raises ValueError on unknown setups, k outside [1, N_db], shape or label problems.
    """
    return knn_all_setups(db, db_labels, queries, query_labels, k, seed, device, setups=(setup,),
                          chunk_size=chunk_size, dtype=dtype)[setup]


def knn_all_setups(db, db_labels, queries, query_labels, k: int, seed: int = 0, device=None, *,
                   setups=tuple(SETUPS), chunk_size: int | None = None,
                   dtype: torch.dtype = torch.float64) -> dict[str, float]:
    """Accuracy per setup plus ``spd_p`` (pos-same - neg-same) when both are computed.

    The similarities of a query chunk to the database under every needed view are one GEMM, shared
    by all setups.  ``dtype=torch.float32`` halves time and memory but may break exact agreement
    with ``knn_accuracy_loop`` on near-ties.
    """
    setups = _check_setups(setups)
    with torch.no_grad():
        inp = _inputs(db, db_labels, queries, query_labels, k, seed, dtype, resolve_device(device))
        correct = _correct_counts(inp, setups, int(k), chunk_size)
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


def knn_accuracy_loop(db, db_labels, queries, query_labels, setup: str, k: int, seed: int = 0,
                      *, dtype: torch.dtype = torch.float64) -> float:
    """Per-query reference for ``knn_accuracy`` (CPU): same draws, same ties, same numbers."""
    _check_setups([setup])
    inp = _inputs(db, db_labels, queries, query_labels, k, seed, dtype, torch.device("cpu"))
    n_db, n_proc, _ = inp.db.shape
    pos_view, neg_view = SETUPS[setup]
    correct = 0
    for p in range(n_proc):
        pos_proc = inp.draws.processing(pos_view, p)
        neg_proc = inp.draws.processing(neg_view, p)
        for query, label in zip(inp.queries[:, p], inp.query_labels.tolist()):
            processing = torch.where(inp.db_labels == label, pos_proc, neg_proc)
            sims = inp.db[torch.arange(n_db), processing] @ query
            top = torch.argsort(sims, descending=True, stable=True)[: int(k)].sort().values
            correct += _vote_loop(inp.db_labels[top].tolist(), sims[top].tolist()) == label
    return correct / (len(inp.queries) * n_proc)
