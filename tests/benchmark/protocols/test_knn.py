"""kNN processing setups: matrix implementation == per-query loop, known answers, errors."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import torch

from benchmark.choices import VoteTies
from benchmark.protocols import knn
from benchmark.protocols.knn import SETUPS, knn_accuracy, knn_all_setups, knn_runs, uniform_draws
from benchmark.testing.embeddings import random_embeddings
from benchmark.testing.knn import knn_accuracy_loop, released_protocol


def rotated_classes(n_db=60, n_q=20, n_proc=3, dim=16, classes=4, seed=0):
    """Each processing applies its own random rotation to the class vectors.

    Same processing: the class geometry is intact (same class ~1, other classes ~0.5).
    Different processings: similarities are scrambled, unrelated to the class.
    """
    gen = torch.Generator().manual_seed(seed)
    rotations = torch.linalg.qr(torch.randn(n_proc, dim, dim, generator=gen)).Q
    common = torch.randn(dim, generator=gen)
    class_vec = common + torch.randn(classes, dim, generator=gen)

    def embed(labels):
        base = class_vec[labels] + 0.05 * torch.randn(len(labels), dim, generator=gen)
        return torch.einsum("pde,ne->npd", rotations, base)

    db_y = torch.arange(n_db) % classes
    q_y = torch.arange(n_q) % classes
    return embed(db_y), db_y, embed(q_y), q_y


@pytest.mark.parametrize("k", [1, 10])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("ties", list(VoteTies))
def test_matrix_equals_loop_for_every_setup(k, seed, ties):
    data = random_embeddings(seed=seed)
    options = {"uniform_seeds": (seed, seed + 3), "vote_ties": ties}
    fast = knn_all_setups(*data, k, device="cpu", chunk_size=7, **options)
    for setup in SETUPS:
        assert fast[setup] == knn_accuracy_loop(*data, setup, k, **options), setup
        assert knn_accuracy(*data, setup, k, device="cpu", **options) == fast[setup]
    assert fast["spd_p"] == fast["pos-same"] - fast["neg-same"]


@pytest.mark.parametrize("k", [1, 4])
def test_exact_ties_are_broken_the_same_way(k):
    """Integer embeddings from a tiny alphabet: many database images are exact duplicates."""
    gen = torch.Generator().manual_seed(3)
    alphabet = torch.tensor([[1.0, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    db = alphabet[torch.randint(0, 4, (40, 3), generator=gen)]
    q = alphabet[torch.randint(0, 4, (12, 3), generator=gen)]
    db_y, q_y = torch.randint(0, 3, (40,), generator=gen), torch.randint(0, 3, (12,), generator=gen)
    fast = knn_all_setups(db, db_y, q, q_y, k, device="cpu")
    for setup in SETUPS:
        assert fast[setup] == knn_accuracy_loop(db, db_y, q, q_y, setup, k), setup


def duplicated_rows(n_distinct=12, n_db=50, seed=4):
    """Random embeddings where every database row has exact copies elsewhere, with other labels:
    ties at the k-th place are common and decide the vote."""
    db, _, q, q_y = random_embeddings(n_db=n_distinct, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    db = db[torch.randint(0, n_distinct, (n_db,), generator=gen)]
    return db, torch.randint(0, 4, (n_db,), generator=gen), q, q_y


@functools.cache
def loop_accuracies(k: int) -> dict[str, float]:
    return {setup: knn_accuracy_loop(*duplicated_rows(), setup, k) for setup in SETUPS}


def test_duplicated_rows_tie_at_the_kth_place():
    """The data above exercises the tie rule: the k-th and (k+1)-th neighbours often tie exactly."""
    db, _, q, _ = duplicated_rows()
    q_unit, db_unit = (knn.normalised(x[:, 0], "x", torch.float64, "cpu") for x in (q, db))
    top = (q_unit @ db_unit.T).topk(5).values
    assert (top[:, 0] == top[:, 1]).float().mean() > 0.5 and (top[:, 3] == top[:, 4]).float().mean() > 0.5


@pytest.mark.parametrize("k", [1, 4, 50])
@pytest.mark.parametrize("block", [1, 2, 3, 7, 49, 50, 51, None])
def test_any_database_block_size_gives_the_loop_result(k, block):
    """Blocks of 1..N_db+1 rows, k=1 to k=N_db: ties split across blocks are broken as in the loop."""
    fast = knn_all_setups(*duplicated_rows(), k, device="cpu", chunk_size=10, db_block_size=block)
    assert {s: fast[s] for s in SETUPS} == loop_accuracies(k)


@pytest.mark.parametrize("ties", list(VoteTies))
@pytest.mark.parametrize("block", [3, None])
def test_one_search_serves_every_k_with_the_numbers_of_each_k_alone(ties, block):
    """The k' nearest of the K nearest are the k' nearest (the tie rule included): one search, every k."""
    data = duplicated_rows()  # ties at the k-th neighbour are frequent here
    together = knn.knn_all_ks(*data, [1, 4, 10, 50], device="cpu", vote_ties=ties, db_block_size=block, chunk_size=9)
    for k in (1, 4, 10, 50):
        alone = knn_all_setups(*data, k, device="cpu", vote_ties=ties, db_block_size=block, chunk_size=9)
        assert together[k] == alone, k


def test_a_small_byte_budget_streams_the_database_in_blocks(monkeypatch):
    data = duplicated_rows()
    read, db_rows = [], knn.KnnInputs.db_rows

    def spy(inp, start, stop):
        read.append((start, stop))
        return db_rows(inp, start, stop)

    monkeypatch.setattr(knn.KnnInputs, "db_rows", spy)
    row_bytes = (3 + 3 + 10) * 8 * 8  # P=3 processings + gallery slots (3 processings, 10 uniform draws), D=8, float64
    monkeypatch.setattr(knn, "DB_BLOCK_BYTES", 2 * row_bytes)
    fast = knn_all_setups(*data, 4, device="cpu")
    assert read == [(start, start + 2) for start in range(0, 50, 2)]
    assert {s: fast[s] for s in SETUPS} == loop_accuracies(4)


def test_memory_mapped_database_is_read_in_blocks(tmp_path):
    db, db_y, q, q_y = duplicated_rows()
    mapped = np.memmap(tmp_path / "db.f32", dtype=np.float32, mode="w+", shape=tuple(db.shape))
    mapped[:] = db.numpy()
    mapped.flush()
    mapped = np.memmap(tmp_path / "db.f32", dtype=np.float32, mode="r", shape=tuple(db.shape))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's warning on read-only memory
        fast = knn_all_setups(mapped, db_y, q, q_y, 4, device="cpu", db_block_size=7)
    assert fast == knn_all_setups(db, db_y, q, q_y, 4, device="cpu")


def near_ties(n_db=60, n_q=16, dim=24, seed=6):
    """Database rows in pairs a few float32 ulps apart with different labels: float32 similarities
    order many pairs wrongly, so the votes of float32 alone differ from the exact ones."""
    db, db_y, q, q_y = random_embeddings(n_db=n_db // 2, n_q=n_q, dim=dim, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    twins = db.double() * (1 + 3e-7 * torch.randn(db.shape, generator=gen, dtype=torch.float64))
    return torch.cat([db.double(), twins]), torch.cat([db_y, (db_y + 1) % 4]), q.double(), q_y


def many_copies():
    """Three distinct database rows, each copied ~17 times: more ties at the k-th than NEAR_TIE_MARGIN."""
    return duplicated_rows(n_distinct=3)


@pytest.mark.parametrize(
    "data",
    [random_embeddings, duplicated_rows, many_copies, near_ties],
    ids=["random", "duplicates", "many-copies", "near-ties"],
)
@pytest.mark.parametrize("ties", list(VoteTies))
@pytest.mark.parametrize("block", [7, None])
def test_float32_products_give_the_float64_numbers(data, ties, block):
    """Every setup and k, on data without near-ties, with exact duplicates and with near-ties."""
    data = data()
    options = {"device": "cpu", "vote_ties": ties, "db_block_size": block, "chunk_size": 5}
    exact = knn.knn_all_ks(*data, [1, 4, 10], **options)
    assert knn.knn_all_ks(*data, [1, 4, 10], dtype=torch.float32, **options) == exact
    for setup in SETUPS:
        assert exact[4][setup] == knn_accuracy_loop(*data, setup, 4, vote_ties=ties), setup


def searches(monkeypatch) -> tuple[list[tuple[torch.dtype, int]], list[int]]:
    """(products, queries) of every database search the kNN makes from now on, and the (run, query)
    rows it scores again in float64 each time it does."""
    made, rescored = [], []
    search, exact = knn._search, knn._exact_similarities

    def spy(inp, *args, **kwargs):
        made.append((inp.products, len(inp.queries)))
        return search(inp, *args, **kwargs)

    def counting(inp, runs, rows, kept_idx):
        rescored.append(len(rows))
        return exact(inp, runs, rows, kept_idx)

    monkeypatch.setattr(knn, "_search", spy)
    monkeypatch.setattr(knn, "_exact_similarities", counting)
    return made, rescored


def test_float32_checks_again_in_float64_only_what_it_cannot_decide(monkeypatch):
    made, rescored = searches(monkeypatch)
    knn.knn_all_ks(*random_embeddings(), [1, 10], device="cpu", dtype=torch.float32)
    assert made == [(torch.float32, 25)] and rescored == []  # no near-tie: one float32 search
    made.clear()
    knn.knn_all_ks(*near_ties(), [1, 10], device="cpu", dtype=torch.float32)
    assert made == [(torch.float32, 16)] and rescored and 0 < rescored[0]  # near twins: their candidates re-scored
    made.clear()
    knn.knn_all_ks(*many_copies(), [1, 10], device="cpu", dtype=torch.float32)
    (first, again) = made  # more exact ties than the margin keeps: those queries searched again
    assert first == (torch.float32, 25) and again[0] == torch.float64 and 0 < again[1] <= 25


def test_without_the_recheck_float32_would_change_the_numbers(monkeypatch):
    """The near-ties above decide votes: float32 alone (no gap counted as undecided) gets other numbers."""
    data = near_ties()
    exact = knn.knn_all_ks(*data, [1, 10], device="cpu")
    monkeypatch.setattr(knn, "float32_error_bound", lambda dim: -1.0)
    assert knn.knn_all_ks(*data, [1, 10], device="cpu", dtype=torch.float32) != exact


def test_float32_error_bound_holds_for_unit_vectors_in_any_summation_order():
    gen = torch.Generator().manual_seed(0)
    for dim in (8, 512, 4096):
        a, b = (knn.normalised(torch.randn(200, 1, dim, generator=gen), "x", torch.float64, "cpu")[:, 0] for _ in "ab")
        exact = (a * b).sum(1)
        forward = (a.float() * b.float()).sum(1).double()
        serial = torch.zeros(200, dtype=torch.float32)
        for i in range(dim):  # the worst order: one term after another
            serial += a[:, i].float() * b[:, i].float()
        bound = knn.float32_error_bound(dim)
        assert (forward - exact).abs().max() <= bound and (serial.double() - exact).abs().max() <= bound
        assert bound < 1.1 * (dim + 2) * 2.0**-24  # and no looser than needed


def test_other_similarity_dtypes_are_refused():
    with pytest.raises(ValueError, match="float64 or float32"):
        knn.knn_all_ks(*random_embeddings(), [1], device="cpu", dtype=torch.float16)


def test_processing_dominated_embeddings_give_the_expected_ordering():
    data = rotated_classes()
    acc = knn_all_setups(*data, k=1, device="cpu")
    assert acc["all-same"] == 1.0
    assert acc["pos-same"] == 1.0
    assert acc["neg-same"] == 0.0
    assert acc["all-diff"] < 0.6
    assert acc["spd_p"] == 1.0
    acc10 = knn_all_setups(*data, k=10, device="cpu")
    assert acc10["all-same"] == 1.0 and acc10["neg-same"] == 0.0


def test_processing_free_embeddings_make_setups_agree():
    data = rotated_classes(n_proc=1)
    db, db_y, q, q_y = (t.repeat(1, 3, 1) if t.ndim == 3 else t for t in data)  # same embedding under 3 labels
    acc = knn_all_setups(db, db_y, q, q_y, k=1, device="cpu")
    assert len({acc[s] for s in SETUPS}) == 1 and acc["spd_p"] == 0.0


def test_runs_are_the_released_ordered_pairs():
    runs = knn_runs(SETUPS, 3, 2)
    count = {setup: sum(run.setup == setup for run in runs) for setup in SETUPS}
    assert count == {"all-same": 3, "all-diff": 6, "pos-same": 6, "neg-same": 6, "uniform": 6}
    for run in runs:
        if run.setup == "all-same":
            assert run.positives == run.negatives == run.p
        elif run.setup == "all-diff":
            assert run.positives == run.negatives != run.p
        elif run.setup == "pos-same":
            assert run.positives == run.p != run.negatives
        elif run.setup == "neg-same":
            assert run.negatives == run.p != run.positives
        else:
            assert run.positives == run.negatives >= 3  # a uniform-draw slot
    pairs = {(run.p, run.negatives) for run in runs if run.setup == "pos-same"}
    assert pairs == {(p, q) for p in range(3) for q in range(3) if p != q}


def test_uniform_draws_are_the_released_numpy_draws():
    draws = uniform_draws(500, 4, seeds=(0, 7))
    for row, seed in zip(draws, (0, 7)):
        assert row.tolist() == np.random.default_rng(seed).choice(4, 500, replace=True).tolist()
    with pytest.raises(ValueError, match="at least one seed"):
        knn_all_setups(*random_embeddings(), 1, device="cpu", uniform_seeds=())


@pytest.mark.parametrize("k", [1, 10])
def test_knn_equals_the_released_protocol_on_planted_embeddings(k):
    data = random_embeddings(n_db=120, n_q=40, n_proc=4, dim=12, seed=5)
    ours = knn_all_setups(*data, k, device="cpu")
    released = released_protocol(*data, k)
    for setup in SETUPS:
        assert ours[setup] == pytest.approx(released[setup], abs=1e-12), setup
    assert ours["pos-same"] > ours["neg-same"]  # the planted processing signal shows as SPD_p > 0


def test_numpy_inputs():
    data = random_embeddings()
    assert knn_all_setups(*(t.numpy() for t in data), 3, device="cpu") == knn_all_setups(*data, 3, device="cpu")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(k=91), "k must be"),
        (dict(k=0), "k must be"),
        (dict(k=2.0), "k must be"),
        (dict(setup="some-same"), "unknown kNN setup"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = dict(k=3, setup="all-same") | kwargs
    with pytest.raises(ValueError, match=message):
        knn_accuracy(*random_embeddings(), args["setup"], args["k"], device="cpu")
    with pytest.raises(ValueError, match=message):
        knn_accuracy_loop(*random_embeddings(), args["setup"], args["k"])


def test_bad_block_and_chunk_sizes():
    for sizes in (dict(db_block_size=0), dict(chunk_size=-1)):
        with pytest.raises(ValueError, match="must be positive"):
            knn_all_setups(*random_embeddings(), 3, device="cpu", **sizes)


def test_bad_shapes_and_labels():
    db, db_y, q, q_y = random_embeddings()
    cases = [
        ((db[:, :1], db_y, q[:, :1], q_y), "at least 2 processing"),
        ((db, db_y, q[:, :2], q_y), "must match"),
        ((db, db_y[:-1], q, q_y), "labels for"),
        ((db, db_y.float(), q, q_y), "integer class"),
        ((db[0], db_y, q, q_y), r"\(N, P, D\)"),
        ((db.index_fill(0, torch.tensor([2]), float("inf")), db_y, q, q_y), "NaN or infinite"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            knn_all_setups(*args, 1, device="cpu")


def test_released_vote_ties_are_lowest_class_up_to_16_classes_on_cpu_and_differ_beyond():
    """The released rule (torch's descending sort of the vote counts) keeps ties in class order on a
    CPU up to 16 classes; with many classes and k=10 its tie order is torch's own, not the lowest class."""
    few = random_embeddings(n_db=200, n_q=60, n_proc=3, dim=6, classes=16, seed=3)
    assert knn_all_setups(*few, 10, device="cpu") == knn_all_setups(*few, 10, device="cpu", vote_ties="lowest-class")
    many = random_embeddings(n_db=400, n_q=100, n_proc=3, dim=6, classes=60, seed=3)
    released = knn_all_setups(*many, 10, device="cpu")
    assert released != knn_all_setups(*many, 10, device="cpu", vote_ties="lowest-class")
    assert released == {**released, **{s: knn_accuracy_loop(*many, s, 10) for s in SETUPS}}
