"""kNN classification under processing setups: how much processing traces steer semantic kNN.

Released protocol (``processing_semantic_influence/`` of the paper's code): every database
(training) image and every query has an embedding under each of P processing classes.  A query
embedded under processing p is classified by its k nearest database images (cosine similarity on
L2-normalised embeddings; k=10 "ImageNet-like", k=1 "iNat-like").  One *run* gives every database
image one processing, the query's class ("positives") one and the other classes ("negatives") one:

- ``all-same``: positives and negatives in p (one run per p);
- ``all-diff``: positives and negatives in q, for every q != p (P-1 runs per p);
- ``pos-same``: positives in p, negatives in q, for every q != p;
- ``neg-same``: positives in q, negatives in p, for every q != p;
- ``uniform``: every database image in a processing drawn uniformly among all P, one draw per seed
  (``np.random.default_rng(seed).choice(P, N_db)``, seeds 0..9 as released), the same draw for
  every p.

A setup's accuracy is the mean over its runs and all queries, i.e. over the P(P-1) ordered pairs
(all-same: the P processings; uniform: P x seeds), as the released ``generate_results.py`` averages
its per-run files.  SPD_p = pos-same - neg-same.

Rules shared by the matrix implementation and the per-query loop, so both give identical numbers:

- similarities in float64 on L2-normalised embeddings rounded to multiples of 2**-26 (at most
  7.5e-9 off): every product is then a multiple of 2**-52 and every partial sum of a dot product
  stays below 2, so float64 holds each similarity exactly whatever the summation order (BLAS kernel,
  block and chunk shapes, device).  Without it duplicated images would differ in the last bits;
- float32 products (``dtype=torch.float32``) give the same neighbours: a float32 similarity is within
  :func:`float32_error_bound` of the exact one, so where the k-th and the (k+1)-th float32 similarities
  are further apart than twice that bound the top-k set is the exact one; where they are not, the
  candidates near the k-th are scored again in float64 (all of them: a few more than k are kept), and
  a query with more near-ties than that (duplicated images) is searched again in float64;
- exact ties between database images are broken by the lower database index;
- vote: majority of the k neighbours' labels, a tie in votes broken as the released code breaks it
  (``vote_ties="released"``): the first column of torch's descending sort of the float32 vote counts
  over the database's classes (``probs.sort(1, True)``), measured equal to the released scripts at
  k=10 and k=1 on the same machine (``scripts/bench_knn.py --released``).  torch's sort does not keep
  ties in order (on a CPU beyond 16 classes), so that order depends on the device and the torch
  version; ``vote_ties="lowest-class"`` gives a tie to the lower class index on any device (the same
  as "released" up to 16 classes on a CPU), and ``vote_ties="similarity"`` to the class whose
  neighbours have the larger summed similarity (summed in database-index order), then to the lower
  class index.

The matrix implementation streams the database: it stays where the caller keeps it (a tensor, a
numpy array or an ``np.memmap``) and blocks of rows are normalised on the device, so device memory is
bounded whatever N_db (an ImageNet-scale database does not fit).  Each block is read once; every
(setup, query processing, query) keeps a running top-k (similarities and database indices), merged
block after block with the tie rule above, so any block size gives the same neighbours.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.choices import VoteTies, chosen
from benchmark.errors import UsageError
from benchmark.protocols.labels import dense_labels
from benchmark.runtime.device import resolve_device

SETUPS = ("all-same", "all-diff", "pos-same", "neg-same", "uniform")
#: The released code averages the uniform setup over these draws.
UNIFORM_SEEDS = tuple(range(10))


# Database block: its rows under all P processings plus its gallery (rows under every slot).
DB_BLOCK_BYTES = 2**30
# Query chunk size: chunk * slots * block similarities take at most this much (peak about twice it).
SIMILARITY_BYTES = 256 * 2**20
# float32 products keep this many neighbours more than k: near-ties within them are scored again in float64.
NEAR_TIE_MARGIN = 8
# (run, query) rows scored again at once: RESCORE_CHUNK x (k + margin) database vectors.
RESCORE_CHUNK = 1024
# Queries voted on at once: their vote counts take VOTE_CHUNK x classes floats.
VOTE_CHUNK = 8192
# float64 embeddings are rounded to multiples of this, making similarities exact (module docstring).
GRID = 2.0**-26


@dataclass(frozen=True)
class Run:
    """One released-protocol run: queries under processing ``p``; database images of the query's
    class under gallery slot ``positives``, the others under ``negatives``.

    Slots 0..P-1 are the processings themselves; slot P+u is the u-th uniform draw.
    """

    setup: str
    p: int
    positives: int
    negatives: int


def knn_runs(setups, n_processings: int, n_uniform: int) -> list[Run]:
    """Every run of ``setups`` for P processings and ``n_uniform`` uniform draws (module docstring)."""
    if "uniform" in setups and n_uniform < 1:
        raise UsageError("the uniform kNN setup needs at least one seed (uniform_seeds)")
    runs = []
    for p in range(n_processings):
        others = [q for q in range(n_processings) if q != p]
        by_setup = {
            "all-same": [(p, p)],
            "all-diff": [(q, q) for q in others],
            "pos-same": [(p, q) for q in others],
            "neg-same": [(q, p) for q in others],
            "uniform": [(n_processings + u, n_processings + u) for u in range(n_uniform)],
        }
        runs += [Run(setup, p, pos, neg) for setup in setups for pos, neg in by_setup[setup]]
    return runs


def uniform_draws(n_db: int, n_processings: int, seeds=UNIFORM_SEEDS) -> torch.Tensor:
    """(len(seeds), N_db) processing index of every database image, as the released code draws it."""
    draws = [np.random.default_rng(seed).choice(n_processings, n_db, replace=True) for seed in seeds]
    return torch.as_tensor(np.stack(draws) if draws else np.zeros((0, n_db), dtype=np.int64)).long()


def slot_processing(slot: int, n_processings: int, uniform: torch.Tensor) -> torch.Tensor:
    """(N_db,) processing index of every database image in gallery ``slot``."""
    if slot < n_processings:
        return torch.full((uniform.shape[1],), slot, dtype=torch.long)
    return uniform[slot - n_processings]


# --------------------------------------------------------------------------------------------------
# Inputs


def to_tensor(a) -> torch.Tensor:
    return (a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))).detach()


def _embeddings(a, name: str) -> torch.Tensor | np.ndarray:
    """(N, P, D) embeddings, not copied: a database larger than memory (np.memmap) is read per block."""
    t = a.detach() if isinstance(a, torch.Tensor) else a if isinstance(a, np.ndarray) else np.asarray(a)
    if t.ndim != 3 or 0 in t.shape:
        raise UsageError(f"{name} must be a non-empty (N, P, D) array of embeddings, got shape {tuple(t.shape)}")
    return t


def normalised(rows, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Embeddings L2-normalised in ``dtype`` on ``device`` (float64: on the GRID); raises on NaN or inf."""
    if isinstance(rows, np.ndarray):
        rows = np.array(rows)  # a copy: torch will not share read-only memory (np.memmap mode "r")
    t = to_tensor(rows).to(device, dtype)
    if not torch.isfinite(t).all():
        raise UsageError(f"{name} contains NaN or infinite values")
    t = F.normalize(t, dim=-1)
    return torch.round(t / GRID) * GRID if dtype == torch.float64 else t


def class_labels(a, name: str, n: int) -> torch.Tensor:
    t = to_tensor(a)
    if t.ndim != 1 or t.is_floating_point() or t.dtype == torch.bool:
        raise UsageError(f"{name} must be a 1-D array of integer class indices, got {t.dtype} {tuple(t.shape)}")
    if len(t) != n:
        raise UsageError(f"{name} has {len(t)} labels for {n} images")
    if len(t) and int(t.min()) < 0:
        raise UsageError(f"{name} has negative class indices")
    return t.long()


@dataclass(frozen=True)
class KnnInputs:
    db: torch.Tensor | np.ndarray  # (N_db, P, D) as given, read per block by ``db_rows``
    db_labels: torch.Tensor  # on the device
    queries: torch.Tensor  # (N_q, P, D) L2-normalised in float64 on the GRID, on the device
    query_labels: torch.Tensor
    n_classes: int  # over database and queries
    db_classes: int  # over the database only: the width of the released vote counts
    uniform: torch.Tensor  # (U, N_db) uniform draws, on the host
    products: torch.dtype  # of the similarity GEMMs: float64 exact, float32 checked (module notes)

    def db_rows(self, start: int, stop: int) -> torch.Tensor:
        """Database rows [start, stop) under every processing, normalised like the queries."""
        return normalised(self.db[start:stop], "db", torch.float64, self.queries.device)

    def subset(self, queries: torch.Tensor) -> KnnInputs:
        """The same search for the queries at the given indices only, in float64."""
        return replace(
            self, queries=self.queries[queries], query_labels=self.query_labels[queries], products=torch.float64
        )


def knn_inputs(db, db_labels, queries, query_labels, k: int, uniform_seeds, dtype, device) -> KnnInputs:
    """Validate, L2-normalise the queries on ``device``; draw the uniform db processings.  ``dtype``: of the
    similarity products (float64, or float32 with the near-ties re-checked)."""
    if dtype not in (torch.float64, torch.float32):
        raise UsageError(f"kNN similarities are float64 or float32 (near-ties re-checked), not {dtype}")
    db_t, q_t = _embeddings(db, "db"), _embeddings(queries, "queries")
    if db_t.shape[1:] != q_t.shape[1:]:
        raise UsageError(
            f"db is (N, P, D) = {tuple(db_t.shape)} but queries are {tuple(q_t.shape)}: P and D must match"
        )
    if db_t.shape[1] < 2:
        raise UsageError("kNN setups need at least 2 processing classes (P >= 2)")
    knn_inputs_k_check(k, len(db_t))
    db_y, q_y = dense_labels(
        class_labels(db_labels, "db_labels", len(db_t)), class_labels(query_labels, "query_labels", len(q_t))
    )
    return KnnInputs(
        db=db_t,
        db_labels=db_y.to(device),
        queries=normalised(q_t, "queries", torch.float64, device),
        query_labels=q_y.to(device),
        n_classes=1 + max(int(db_y.max()), int(q_y.max())),
        db_classes=1 + int(db_y.max()),
        uniform=uniform_draws(len(db_t), db_t.shape[1], tuple(uniform_seeds)),
        products=dtype,
    )


def knn_inputs_k_check(k, n_db: int) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_db:
        raise UsageError(f"k must be an integer in [1, {n_db}] (the database size), got {k!r}")


def checked_setups(setups) -> list[str]:
    unknown = [s for s in setups if s not in SETUPS]
    if unknown:
        raise UsageError(f"unknown kNN setup(s) {unknown}; choose from {list(SETUPS)}")
    return list(setups)


# --------------------------------------------------------------------------------------------------
# Matrix implementation


def top_k(values: torch.Tensor, k: int) -> torch.Tensor:
    """Columns of the k largest values per row (n, k), ascending; exact ties keep the leftmost.

    With columns in database-index order, that is the module's tie rule.  ``topk`` alone picks any
    of tied columns, so rows whose k-th value is shared beyond the k chosen (rare) are redone with
    the leftmost rule; the others need no more than one comparison.
    """
    top = values.topk(k, dim=1)
    columns = top.indices
    tied = ((values >= top.values[:, -1:]).sum(1) > k).nonzero()[:, 0]
    if len(tied):
        columns[tied] = _leftmost_top_k(values[tied], top.values[tied, -1:], k)
    return columns.sort(1).values


def _leftmost_top_k(values: torch.Tensor, kth: torch.Tensor, k: int) -> torch.Tensor:
    """Columns of the k largest values per row, of those equal to the k-th the leftmost ones."""
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
    cols = top_k(sims, min(k, sims.shape[1]))
    merged, merged_idx = torch.cat([kept, sims.gather(1, cols)], 1), torch.cat([kept_idx, cols + start], 1)
    cols = top_k(merged, k)
    return merged.gather(1, cols), merged_idx.gather(1, cols)


def vote(
    sims: torch.Tensor,
    neighbours: torch.Tensor,
    db_labels: torch.Tensor,
    n_classes: int,
    ties: str,
    db_classes: int,
    voting: torch.Tensor | None = None,
) -> torch.Tensor:
    """Predicted class per row of k neighbours (similarities, database indices in ascending order);
    ``voting`` (bool, like ``neighbours``) leaves out neighbours that may not vote (a masked database)."""
    labels = db_labels[neighbours]
    ones = torch.ones(labels.shape, device=sims.device) if voting is None else voting.float()
    if ties == "released":  # float32 counts over the database's classes, sorted descending, first column
        counts = torch.zeros(len(sims), db_classes, device=sims.device)
        counts.scatter_add_(1, labels, ones)
        return counts.sort(1, True)[1][:, 0]
    votes = torch.zeros(len(sims), n_classes, dtype=sims.dtype, device=sims.device)
    votes.scatter_add_(1, labels, ones.to(sims.dtype))
    if ties == "lowest-class":
        return votes.argmax(1)  # first maximum: the lower class index
    sims = sims if voting is None else torch.where(voting, sims, torch.zeros_like(sims))
    summed = torch.zeros_like(votes).scatter_add_(1, labels, sims)
    summed[votes < votes.max(1, keepdim=True).values] = -math.inf
    return summed.argmax(1)  # first maximum: the lower class index


def _correct_counts(
    inp: KnnInputs, runs: list[Run], ks: Sequence[int], chunk_size: int | None, db_block_size: int | None, ties: str
) -> dict[int, torch.Tensor]:
    """Whether each run's prediction of each query is right, (runs, N_q) bool, for every k of ``ks``.

    float64 products: one search.  float32 products: one search that keeps NEAR_TIE_MARGIN neighbours
    more than the largest k.  Where float32 cannot decide a top-k set (a gap of at most twice
    :func:`float32_error_bound` between a k-th and a (k+1)-th similarity, for some k) the kept candidates
    are scored again in float64 when they hold every database image within that band of the k-th; a
    query with more near-ties than the margin (duplicated images) is searched again in float64.
    """
    if any(n is not None and n < 1 for n in (chunk_size, db_block_size)):
        raise ValueError(f"chunk_size and db_block_size must be positive, got {chunk_size}, {db_block_size}")
    k, n_db = max(ks), len(inp.db)
    if inp.products == torch.float64 or ties == VoteTies.SIMILARITY:  # that rule sums the similarities themselves
        exact = replace(inp, products=torch.float64)
        return _decide(exact, runs, ks, *_search(exact, runs, k, chunk_size, db_block_size), ties)
    kept, kept_idx = _search(inp, runs, min(k + NEAR_TIE_MARGIN, n_db), chunk_size, db_block_size)
    ordered = kept.sort(-1, descending=True).values
    band = 2 * float32_error_bound(inp.queries.shape[-1])
    undecided = torch.zeros(kept.shape[:2], dtype=torch.bool, device=kept.device)
    for each in ks:
        if each < kept.shape[-1]:
            undecided |= ordered[..., each - 1].double() - ordered[..., each].double() <= band
    # every image within the band of the k-th is kept (those not kept are at most the last kept)
    within = (ordered[..., -1].double() < ordered[..., k - 1].double() - band) | (kept.shape[-1] == n_db)
    del ordered
    rescored = (undecided & within).nonzero()
    if len(rescored):  # their exact similarities' ranks: they order and tie as the similarities, in float32
        kept[rescored[:, 0], rescored[:, 1]] = _ranks(_exact_similarities(inp, runs, rescored, kept_idx))
    if kept.shape[-1] > k:
        columns = top_k(kept.flatten(0, 1), k).view(*kept.shape[:2], k)
        kept, kept_idx = kept.gather(-1, columns), kept_idx.gather(-1, columns)
    correct = _decide(inp, runs, ks, kept, kept_idx, ties)
    redo = (undecided & ~within).any(0).nonzero()[:, 0]
    if len(redo):
        exact = inp.subset(redo)
        again = _decide(exact, runs, ks, *_search(exact, runs, k, chunk_size, db_block_size), ties)
        for each in ks:
            correct[each][:, redo] = again[each]
    return correct


def _exact_similarities(inp: KnnInputs, runs: list[Run], rows: torch.Tensor, kept_idx: torch.Tensor) -> torch.Tensor:
    """float64 similarities (n, K) of the kept database images of the given (run, query) ``rows`` (n, 2):
    each image under the processing its run gives it, read once (runs share them) and normalised as the
    search normalises it."""
    n_proc, device = inp.db.shape[1], kept_idx.device
    p = torch.tensor([run.p for run in runs], device=device)[rows[:, 0]]
    positives = torch.tensor([run.positives for run in runs], device=device)[rows[:, 0], None]
    negatives = torch.tensor([run.negatives for run in runs], device=device)[rows[:, 0], None]
    images = kept_idx[rows[:, 0], rows[:, 1]]  # (n, K)
    slot = torch.where(inp.db_labels[images] == inp.query_labels[rows[:, 1], None], positives, negatives)
    uniform = inp.uniform.to(device)[(slot - n_proc).clamp(min=0), images] if len(inp.uniform) else slot
    needed, where = torch.unique(images * n_proc + torch.where(slot < n_proc, slot, uniform), return_inverse=True)
    needed = needed.cpu().numpy()
    vectors = normalised(inp.db[needed // n_proc, needed % n_proc], "db", torch.float64, device)
    queries = inp.queries[rows[:, 1], p]  # (n, D)
    return torch.cat(
        [
            (vectors[where[part]] * queries[part, None]).sum(-1)
            for part in torch.arange(len(rows), device=device).split(RESCORE_CHUNK)
        ]
    )


def _ranks(values: torch.Tensor) -> torch.Tensor:
    """Per row, each value's dense rank (1 = smallest; equal values share one) as float32."""
    ordered, order = values.sort(-1)
    new = torch.ones_like(ordered, dtype=torch.bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return torch.empty_like(order).scatter_(-1, order, new.cumsum(-1)).float()


def float32_error_bound(dim: int) -> float:
    """Largest difference between a float32 and the exact similarity of two unit vectors of ``dim``.

    Rounding each coordinate to float32 moves the product by at most 2u + u^2 (u = 2^-24) of
    sum |x_i y_i| <= 1, and a float32 dot product of ``dim`` terms is within gamma_dim = dim u / (1 - dim u)
    of its sum in any summation order (Higham, Accuracy and Stability, 3.1); 1% covers the GRID's
    norms and the rest.  TF32 GEMMs break it: :func:`_search` runs its products at float32's full precision.
    """
    u = 2.0**-24
    return 1.01 * (dim * u / (1 - dim * u) + 2 * u + u * u)


def _search(inp: KnnInputs, runs: list[Run], k: int, chunk_size: int | None, db_block_size: int | None):
    """The running top-k of every (run, query): similarities (runs, N_q, k) in ``inp.products`` and their
    database indices in ascending order.  Each database block is read once.  Device memory: one block and
    its gallery (the block's rows in every slot the runs use), one similarity chunk, the queries and the
    running top-k, which starts as -inf placeholders (index -1) that the first k database images replace."""
    n_db, n_proc, dim = inp.db.shape
    n_q, device, size = len(inp.queries), inp.queries.device, inp.queries.element_size()
    queries = inp.queries.to(inp.products)
    slots = sorted({slot for run in runs for slot in (run.positives, run.negatives)})
    block = db_block_size or max(1, DB_BLOCK_BYTES // ((n_proc + len(slots)) * dim * size))
    chunk = chunk_size or max(1, SIMILARITY_BYTES // (len(slots) * min(block, n_db) * size))
    chunks = [slice(start, start + chunk) for start in range(0, n_q, chunk)]
    kept = torch.full((len(runs), n_q, k), -math.inf, dtype=inp.products, device=device)
    kept_idx = torch.full(kept.shape, -1, device=device)
    processings = {slot: slot_processing(slot, n_proc, inp.uniform) for slot in slots}
    precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")  # no TF32: float32_error_bound holds
    try:
        for start in range(0, n_db, block):
            rows = inp.db_rows(start, start + block)
            stop, row_range = start + len(rows), torch.arange(len(rows), device=device)
            gallery = torch.cat([rows[row_range, processings[slot][start:stop].to(device)] for slot in slots])
            gallery = gallery.to(inp.products)
            for p in range(n_proc):
                of_p = [(i, run) for i, run in enumerate(runs) if run.p == p]
                for q in chunks:
                    sims = (queries[q, p] @ gallery.T).view(-1, len(slots), len(rows))
                    same_class = inp.query_labels[q, None] == inp.db_labels[None, start:stop]
                    for i, run in of_p:
                        pos, neg = slots.index(run.positives), slots.index(run.negatives)
                        s = torch.where(same_class, sims[:, pos], sims[:, neg])
                        kept[i, q], kept_idx[i, q] = _merge(kept[i, q], kept_idx[i, q], s, start)
    finally:
        torch.set_float32_matmul_precision(precision)
    return kept, kept_idx


def _decide(inp: KnnInputs, runs: list[Run], ks: Sequence[int], kept, kept_idx, ties: str) -> dict[int, torch.Tensor]:
    """Right or wrong, (runs, N_q) bool per k, from the k = max(ks) nearest: under the tie rule (similarity,
    then the lower database index) the k' nearest of the K nearest are the k' nearest."""
    k = max(ks)
    correct = {each: torch.zeros(kept.shape[:2], dtype=torch.bool, device=kept.device) for each in ks}
    for i, start in itertools.product(range(len(runs)), range(0, kept.shape[1], VOTE_CHUNK)):
        q = slice(start, start + VOTE_CHUNK)
        for each in ks:
            sims, neighbours = kept[i, q], kept_idx[i, q]
            if each < k:
                columns = top_k(sims, each)
                sims, neighbours = sims.gather(1, columns), neighbours.gather(1, columns)
            predicted = vote(sims, neighbours, inp.db_labels, inp.n_classes, ties, inp.db_classes)
            correct[each][i, q] = predicted == inp.query_labels[q]
    return correct


def knn_accuracy(
    db,
    db_labels,
    queries,
    query_labels,
    setup: str,
    k: int,
    device=None,
    *,
    uniform_seeds=UNIFORM_SEEDS,
    vote_ties: str = VoteTies.RELEASED,
    chunk_size: int | None = None,
    db_block_size: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> float:
    """kNN accuracy of one setup, averaged over its runs and all queries (module docstring).

    db: (N_db, P, D) embeddings with labels (N_db,); queries: (N_q, P, D) with labels (N_q,).
    Raises a UsageError on unknown setups, k outside [1, N_db], shape or label problems.
    """
    return knn_all_setups(
        db,
        db_labels,
        queries,
        query_labels,
        k,
        device,
        setups=(setup,),
        uniform_seeds=uniform_seeds,
        vote_ties=vote_ties,
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
    device=None,
    *,
    setups=SETUPS,
    uniform_seeds=UNIFORM_SEEDS,
    vote_ties: str = VoteTies.RELEASED,
    chunk_size: int | None = None,
    db_block_size: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Accuracy per setup plus ``spd_p`` (pos-same - neg-same) when both are computed.

    The similarities of a query chunk to a database block in every gallery slot are one GEMM, shared
    by all runs.  ``uniform_seeds``: the uniform setup's draws (the released 0..9 by default);
    ``vote_ties``: a :class:`VoteTies` (the released rule by default).  ``db`` may stay on the host (tensor, numpy array, ``np.memmap``): only
    blocks of ``db_block_size`` rows (default: what fits DB_BLOCK_BYTES) go to ``device``.
    ``dtype``: of the similarity GEMMs.  float32 (the default) gives the float64 numbers: what float32 cannot
    decide is scored again in float64 (:func:`_correct_counts`); float32 runs at 32-64x float64's rate on
    GPUs other than H100/A100-class and took 0.7x float64's time on a 2-core CPU.
    """
    return knn_all_ks(
        db,
        db_labels,
        queries,
        query_labels,
        [k],
        device,
        setups=setups,
        uniform_seeds=uniform_seeds,
        vote_ties=vote_ties,
        chunk_size=chunk_size,
        db_block_size=db_block_size,
        dtype=dtype,
    )[k]


def knn_all_ks(
    db,
    db_labels,
    queries,
    query_labels,
    ks: Sequence[int],
    device=None,
    *,
    setups=SETUPS,
    uniform_seeds=UNIFORM_SEEDS,
    vote_ties: str = VoteTies.RELEASED,
    chunk_size: int | None = None,
    db_block_size: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[int, dict[str, float]]:
    """:func:`knn_all_setups` for every k of ``ks`` from one search (the neighbours of the largest k):
    each k's numbers are those :func:`knn_all_setups` gives for it alone."""
    setups = checked_setups(setups)
    vote_ties = chosen(VoteTies, vote_ties, "vote tie rule")
    ks = sorted(set(ks), reverse=True)
    with torch.no_grad():
        inp = knn_inputs(db, db_labels, queries, query_labels, ks[0], uniform_seeds, dtype, resolve_device(device))
        for k in ks:  # every k checked as the largest is
            knn_inputs_k_check(k, len(inp.db))
        ks = [int(k) for k in ks]
        runs = knn_runs(setups, inp.queries.shape[1], len(inp.uniform))
        correct = _correct_counts(inp, runs, ks, chunk_size, db_block_size, vote_ties)
    found = {}
    for k in ks:
        result = {}
        for setup in setups:
            counts = [int(n) for run, n in zip(runs, correct[k].sum(1)) if run.setup == setup]
            result[setup] = sum(counts) / (len(counts) * len(inp.queries))
        if "pos-same" in result and "neg-same" in result:
            result["spd_p"] = result["pos-same"] - result["neg-same"]
        found[k] = result
    return found
