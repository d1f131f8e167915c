"""kNN with a database chosen per query (:func:`masked_knn`) and the pairwise nearest decision between
two pools (:func:`pairwise_nearest`), against plain per-query loops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from benchmark.errors import UsageError
from benchmark.protocols.masked_knn import masked_knn, pairwise_nearest


def planted(n=60, dim=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = rng.normal(0, 1, (classes, dim))
    return torch.as_tensor(centres[labels] + rng.normal(0, 1.2, (n, dim))), labels


def loop_predictions(x, labels, allowed, k):
    """Each query's k most similar allowed rows (ties to the lower row), majority vote (ties to the lower class)."""
    unit = torch.nn.functional.normalize(x.double(), dim=1)
    sims = (unit @ unit.T).numpy()
    found = []
    for i in range(len(x)):
        rows = sorted((j for j in range(len(x)) if allowed[i][j]), key=lambda j: (-sims[i, j], j))[:k]
        votes = np.bincount(labels[rows], minlength=labels.max() + 1)
        found.append(int(np.argmax(votes)) if rows else -1)
    return np.array(found)


def test_masked_knn_equals_a_loop_on_every_database():
    x, labels = planted()
    n = len(labels)
    rng = np.random.default_rng(1)
    random_mask = rng.random((n, n)) < 0.3
    databases = {
        "others": lambda rows: torch.arange(n)[None, :] != rows[:, None],
        "random": lambda rows: torch.as_tensor(random_mask[rows.numpy()]),
        "nothing": lambda rows: torch.zeros(len(rows), n, dtype=torch.bool),
    }
    found = masked_knn(x, x, labels, (1, 5), databases, vote_ties="lowest-class", chunk_size=7)
    for name, k in itertools.product(("others", "random"), (1, 5)):
        allowed = np.stack([databases[name](torch.tensor([i]))[0].numpy() for i in range(n)])
        assert np.array_equal(found[name][k].numpy(), loop_predictions(x, labels, allowed, k)), (name, k)
    assert (found["nothing"][1] == -1).all()


def test_masked_knn_with_fewer_allowed_rows_than_k_votes_with_those():
    x, labels = planted(n=20)
    one = {"one": lambda rows: torch.nn.functional.one_hot((rows + 1) % 20, 20).bool()}
    found = masked_knn(x, x, labels, (10,), one, vote_ties="lowest-class")
    assert np.array_equal(found["one"][10].numpy(), labels[(np.arange(20) + 1) % 20])


def test_masked_knn_refuses_mismatched_shapes():
    with pytest.raises(UsageError, match="one D"):
        masked_knn(torch.zeros(3, 4), torch.zeros(5, 3), [0] * 5, (1,), {})


def test_pairwise_nearest_counts_every_pair():
    x, labels = planted(n=40)
    n = len(labels)
    unit = torch.nn.functional.normalize(x.double(), dim=1)
    sims = (unit @ unit.T).numpy()
    y = torch.as_tensor(labels)

    def own(rows):
        return (y[rows, None] == y[None, :]) & (torch.arange(n)[None, :] != rows[:, None])

    def other(rows):
        return y[rows, None] != y[None, :]

    found = pairwise_nearest(x, x, {"classes": (own, other)}, chunk_size=9)["classes"].numpy()
    for i in range(n):
        a = [j for j in range(n) if j != i and labels[j] == labels[i]]
        b = [j for j in range(n) if labels[j] != labels[i]]
        wins = sum((sims[i, p] > sims[i, q]) + 0.5 * (sims[i, p] == sims[i, q]) for p in a for q in b)
        assert found[i] == pytest.approx(wins / (len(a) * len(b)), abs=1e-12)


def test_pairwise_nearest_counts_ties_half_and_is_nan_for_an_empty_pool():
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])

    def pool(*members):
        return lambda rows: torch.tensor([[i in members for i in range(4)]]).expand(len(rows), 4)

    first, tied, none = pool(1), pool(2, 3), pool()
    found = pairwise_nearest(x[:1], x, {"tied": (first, tied), "empty": (first, none)})
    assert found["tied"].item() == pytest.approx(0.75)  # one tie (half) and one win over the two pairs
    assert found["empty"].isnan().all()
