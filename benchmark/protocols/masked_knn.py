"""kNN with one embedding per image and a database chosen per query, and the nearest-neighbour decision
between two pools: the audit's questions (natural metadata instead of processing slots), under the rules
of :mod:`benchmark.protocols.knn` (cosine similarity in float64 on the GRID, exact ties to the lower
database index, its vote tie rules)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch

from benchmark.choices import VoteTies, chosen
from benchmark.errors import UsageError
from benchmark.protocols.knn import SIMILARITY_BYTES, class_labels, normalised, to_tensor, top_k, vote
from benchmark.runtime.device import resolve_device

Allowed = Callable[[torch.Tensor], torch.Tensor]
"""(query indices [n]) -> bool [n, N_db]: which database rows each of those queries may use."""


def masked_knn(
    queries,
    db,
    db_labels,
    ks: Sequence[int],
    databases: Mapping[str, Allowed],
    device=None,
    *,
    vote_ties: str = VoteTies.RELEASED,
    chunk_size: int | None = None,
) -> dict[str, dict[int, torch.Tensor]]:
    """Predicted class of every query at every k, per named database: ``databases[name](rows)`` says
    which database rows each query may use (another query's own image left out, a metadata value kept
    or not).  Queries [N_q, D] and database [N_db, D] hold one embedding per image.

    The rules are :func:`benchmark.protocols.knn.knn_all_setups`'s: cosine similarity in float64 on the GRID, exact ties to the
    lower database index, the vote tie rule ``vote_ties``.  A query with fewer than k allowed rows is
    classified by those it has; one with none gets -1.  Returns ``{name: {k: predictions [N_q]}}``.
    """
    vote_ties = chosen(VoteTies, vote_ties, "vote tie rule")
    if any(isinstance(k, bool) or not 1 <= int(k) for k in ks):
        raise UsageError(f"k must be a positive integer, got {list(ks)}")
    with torch.no_grad():
        q, d, device = _pair(queries, db, device)
        classes, labels = torch.unique(class_labels(db_labels, "db_labels", len(d)), return_inverse=True)
        labels, n_classes = labels.to(device), len(classes)  # votes over the classes present, in label order
        found = {name: {int(k): torch.full((len(q),), -1, dtype=torch.long) for k in ks} for name in databases}
        for rows, sims in _similarity_chunks(q, d, len(databases), chunk_size):
            for name, allowed in databases.items():
                mask = allowed(rows).to(device)
                masked = sims.masked_fill(~mask, -math.inf)
                has = mask.any(1)
                for k in ks:
                    columns = top_k(masked, min(int(k), len(d)))
                    voting = mask.gather(1, columns)
                    predicted = vote(
                        masked.gather(1, columns), columns, labels, n_classes, vote_ties, n_classes, voting
                    )
                    found[name][int(k)][rows] = torch.where(has, classes.to(device)[predicted], -1).cpu()
    return found


def _pair(queries, db, device) -> tuple[torch.Tensor, torch.Tensor, torch.device]:
    """Queries [N_q, D] and database [N_db, D] L2-normalised in float64 on the GRID, on the device."""
    q_t, db_t = to_tensor(queries), to_tensor(db)
    if q_t.ndim != 2 or db_t.ndim != 2 or q_t.shape[1] != db_t.shape[1] or 0 in (*q_t.shape, *db_t.shape):
        raise UsageError(
            f"queries and database must be non-empty [N, D] with one D, got {tuple(q_t.shape)}, {tuple(db_t.shape)}"
        )
    device = resolve_device(device)
    return normalised(q_t, "queries", torch.float64, device), normalised(db_t, "db", torch.float64, device), device


def _similarity_chunks(q: torch.Tensor, d: torch.Tensor, copies: int, chunk_size: int | None):
    """(query indices, similarities [n, N_db]) per chunk of queries, sized for SIMILARITY_BYTES."""
    chunk = chunk_size or max(1, SIMILARITY_BYTES // (len(d) * 8 * (1 + copies)))
    for start in range(0, len(q), chunk):
        rows = torch.arange(start, min(start + chunk, len(q)))
        yield rows, q[rows.to(q.device)] @ d.T


def pairwise_nearest(
    queries, db, pairs: Mapping[str, tuple[Allowed, Allowed]], device=None, *, chunk_size: int | None = None
) -> dict[str, torch.Tensor]:
    """Per named pair of pools ``(first, second)`` (each like a :func:`masked_knn` database), the share of
    (a, b) pairs, a in the query's first pool and b in its second, where a is the more similar: what the
    nearest neighbour decides on a database of those two images, averaged exactly over every such pair
    (a Mann-Whitney statistic; exact ties count half).  NaN for a query whose pools are not both
    non-empty.  Similarities are :func:`masked_knn`'s.  Returns ``{name: shares [N_q]}``.
    """
    with torch.no_grad():
        q, d, device = _pair(queries, db, device)
        found = {name: torch.full((len(q),), math.nan, dtype=torch.float64) for name in pairs}
        for rows, sims in _similarity_chunks(q, d, 3, chunk_size):
            for name, (first, second) in pairs.items():
                a, b = first(rows).to(device), second(rows).to(device)
                n_a, n_b = a.sum(1).double(), b.sum(1).double()
                found[name][rows] = (_rank_sum(sims, a, b) - n_a * (n_a + 1) / 2) / (n_a * n_b)
                found[name][rows[(n_a * n_b == 0).cpu()]] = math.nan
    return found


def _rank_sum(sims: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per row, the sum of the ranks (1 = least similar, ties averaged) of the ``a`` members among ``a | b``."""
    inside = a | b
    values = torch.where(inside, sims, math.inf)  # outsiders sort last and take no rank of a member
    ordered, order = values.sort(1)
    position = torch.arange(1, values.shape[1] + 1, device=sims.device, dtype=torch.float64).expand_as(values)
    # ties share the mean of their positions: the first and last position of each run of equal values
    first = torch.searchsorted(ordered, ordered, side="left") + 1
    last = torch.searchsorted(ordered, ordered, side="right")
    shared = (first + last).double() / 2
    ranks = torch.empty_like(position).scatter_(1, order, torch.where(torch.isinf(ordered), position, shared))
    return (ranks * a).sum(1)
