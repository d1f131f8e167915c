"""kNN influence one query at a time: the references :func:`benchmark.protocols.knn.knn_all_setups` is
tested against: :func:`knn_accuracy_loop` (same tie rules, same numbers, slow and plain) and
:func:`released_protocol` (the released scripts' summary in plain numpy)."""

from __future__ import annotations

import numpy as np
import torch

from benchmark.choices import VoteTies, chosen
from benchmark.protocols.knn import UNIFORM_SEEDS, checked_setups, knn_inputs, knn_runs, slot_processing


def _vote_loop(labels: list[int], sims: list[float], ties: str, db_classes: int) -> int:
    if ties == "released":
        counts = torch.zeros(1, db_classes)
        counts[0].index_add_(0, torch.tensor(labels), torch.ones(len(labels)))
        return int(counts.sort(1, True)[1][0, 0])
    votes: dict[int, int] = {}
    summed: dict[int, float] = {}
    for label, sim in zip(labels, sims):
        votes[label] = votes.get(label, 0) + 1
        summed[label] = summed.get(label, 0.0) + sim
    if ties == "lowest-class":
        return max(votes, key=lambda c: (votes[c], -c))
    return max(votes, key=lambda c: (votes[c], summed[c], -c))


def knn_accuracy_loop(
    db,
    db_labels,
    queries,
    query_labels,
    setup: str,
    k: int,
    *,
    uniform_seeds=UNIFORM_SEEDS,
    vote_ties: str = VoteTies.RELEASED,
    dtype: torch.dtype = torch.float64,
) -> float:
    """Per-query reference for ``knn_accuracy`` (CPU): one run at a time, same ties, same numbers."""
    checked_setups([setup])
    vote_ties = chosen(VoteTies, vote_ties, "vote tie rule")
    inp = knn_inputs(db, db_labels, queries, query_labels, k, uniform_seeds, dtype, torch.device("cpu"))
    db_rows = inp.db_rows(0, len(inp.db))
    n_db, n_proc, _ = db_rows.shape
    runs = knn_runs([setup], n_proc, len(inp.uniform))
    correct = 0
    for run in runs:
        positives = slot_processing(run.positives, n_proc, inp.uniform)
        negatives = slot_processing(run.negatives, n_proc, inp.uniform)
        for query, label in zip(inp.queries[:, run.p], inp.query_labels.tolist()):
            processing = torch.where(inp.db_labels == label, positives, negatives)
            sims = db_rows[torch.arange(n_db), processing] @ query
            top = torch.argsort(sims, descending=True, stable=True)[: int(k)].sort().values
            voted = _vote_loop(inp.db_labels[top].tolist(), sims[top].tolist(), vote_ties, inp.db_classes)
            correct += voted == label
    return correct / (len(inp.queries) * len(runs))


def released_protocol(db, db_y, q, q_y, k, seeds=tuple(range(10))):
    """The released scripts' summary, written from their description in plain numpy.

    One run per (test processing, positives' processing, negatives' processing); baseline = (p, p, p),
    all-diff = (p, q, q), pos-same = (p, p, q), neg-same = (p, q, p) for q != p; uniform: per seed one
    numpy draw of every database image's processing.  The k most similar database images vote; a tie
    in votes goes to the lower class index (what the released ``probs.sort(1, True)`` gives on a CPU up
    to 16 classes, as in these planted sets; see ``benchmark.protocols.knn``).  Each
    summary value is the mean of its runs.
    """
    db = db.numpy() / np.linalg.norm(db.numpy(), axis=-1, keepdims=True)
    q = q.numpy() / np.linalg.norm(q.numpy(), axis=-1, keepdims=True)
    db_y, q_y = db_y.numpy(), q_y.numpy()
    n_db, n_proc, _ = db.shape

    def accuracy(test_p, positives, negatives):
        correct = 0
        for query, label in zip(q[:, test_p], q_y):
            rows = np.where((db_y == label)[:, None], db[np.arange(n_db), positives], db[np.arange(n_db), negatives])
            neighbours = np.argsort(-(rows @ query), kind="stable")[:k]
            correct += np.argmax(np.bincount(db_y[neighbours])) == label
        return correct / len(q_y)

    def fixed(processing):
        return np.full(n_db, processing)

    runs = {"all-same": [], "all-diff": [], "pos-same": [], "neg-same": [], "uniform": []}
    for p in range(n_proc):
        for other in range(n_proc):
            if other == p:
                runs["all-same"].append(accuracy(p, fixed(p), fixed(p)))
            else:
                runs["all-diff"].append(accuracy(p, fixed(other), fixed(other)))
                runs["pos-same"].append(accuracy(p, fixed(p), fixed(other)))
                runs["neg-same"].append(accuracy(p, fixed(other), fixed(p)))
        for seed in seeds:
            draw = np.random.default_rng(seed).choice(n_proc, n_db, replace=True)
            runs["uniform"].append(accuracy(p, draw, draw))
    return {setup: float(np.mean(values)) for setup, values in runs.items()}
