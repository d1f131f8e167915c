"""Planted kNN embeddings and the released scripts' kNN summary in plain numpy, shared by the kNN tests."""

from __future__ import annotations

import numpy as np
import torch


def random_embeddings(n_db=90, n_q=25, n_proc=3, dim=8, classes=4, seed=0):
    """Class signal plus processing signal plus noise: every setup gives a different accuracy."""
    gen = torch.Generator().manual_seed(seed)
    class_vec, proc_vec = torch.randn(classes, dim, generator=gen), torch.randn(n_proc, dim, generator=gen)
    db_y = torch.randint(0, classes, (n_db,), generator=gen)
    q_y = torch.randint(0, classes, (n_q,), generator=gen)
    db = class_vec[db_y, None] + 0.7 * proc_vec + torch.randn(n_db, n_proc, dim, generator=gen)
    q = class_vec[q_y, None] + 0.7 * proc_vec + torch.randn(n_q, n_proc, dim, generator=gen)
    return db, db_y, q, q_y


def released_protocol(db, db_y, q, q_y, k, seeds=tuple(range(10))):
    """The released scripts' summary, written from their description in plain numpy.

    One run per (test processing, positives' processing, negatives' processing); baseline = (p, p, p),
    all-diff = (p, q, q), pos-same = (p, p, q), neg-same = (p, q, p) for q != p; uniform: per seed one
    numpy draw of every database image's processing.  The k most similar database images vote; a tie
    in votes goes to the lower class index (what the released ``probs.sort(1, True)`` gives on a CPU up
    to 16 classes, as in these planted sets; see ``benchmark.knn``).  Each
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
