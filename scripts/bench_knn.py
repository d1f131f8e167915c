#!/usr/bin/env python3
"""Seconds of the matrix kNN setups and PairCams retrieval vs their per-query loop references.

Usage: ``python scripts/bench_knn.py [--db 5000] [--queries 1000] [--processings 5] [--dim 512]
[--db-block 625] [--pairs 730] [--quick] [--released PATH]``.

Synthetic embeddings: class vector + per-image vector + processing vector + noise, so the setups
give different accuracies.  Runs ``knn_all_setups`` (the database in one block, as it fits, and
streamed in blocks of ``--db-block`` rows) and ``knn_accuracy_loop`` (every setup) for k=10 and k=1,
checks that the accuracies are identical and prints the times and the speed-up of the one-block run;
then the same for ``paircams_recall`` vs ``paircams_recall_loop`` on subject + camera-type embeddings.
With ``--released PATH`` (a checkout of the paper's code) the same embeddings are also written in the
released layout and the released scripts' own kNN protocol is timed on them (``released_code.py``),
with its summary set beside ours (float32 products, the default, and float64: the same numbers).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

import torch

from benchmark.embeddings.released_layout import RELEASED_NAMES, write
from benchmark.protocols import knn
from benchmark.protocols.knn import SETUPS, knn_all_ks, knn_all_setups
from benchmark.protocols.retrieval import paircams_recall
from benchmark.runtime.host_memory import keep_freed_memory
from benchmark.testing.knn import knn_accuracy_loop
from benchmark.testing.retrieval import paircams_recall_loop

# our setup names -> the released summary's
RELEASED_SETUPS = {"all-same": "baseline", "all-diff": "all_diff", "pos-same": "pos_same", "neg-same": "neg_same"}
RELEASED_SETUPS["uniform"] = "uniform"


def knn_embeddings(n_db: int, n_q: int, n_proc: int, dim: int, classes: int, seed: int = 0):
    """(db, db_labels, queries, query_labels): class + image + processing signal + noise."""
    gen = torch.Generator().manual_seed(seed)
    scale = dim**-0.5  # unit-norm components whatever the dimension
    class_vec = torch.randn(classes, dim, generator=gen) * scale
    proc_vec = torch.randn(n_proc, dim, generator=gen) * scale

    def embed(n: int):
        labels = torch.randint(0, classes, (n,), generator=gen)
        image = torch.randn(n, 1, dim, generator=gen) * scale
        noise = torch.randn(n, n_proc, dim, generator=gen) * scale
        return 0.28 * class_vec[labels, None] + image + 0.2 * proc_vec + 0.6 * noise, labels

    db, db_y = embed(n_db)
    q, q_y = embed(n_q)
    return db.float(), db_y, q.float(), q_y


def pair_embeddings(n: int, dim: int, seed: int = 1):
    """(phone, camera): subject vector + camera-type vector + noise."""
    gen = torch.Generator().manual_seed(seed)
    scale = dim**-0.5
    subject = torch.randn(n, dim, generator=gen) * scale
    phone_type, camera_type = torch.randn(2, dim, generator=gen) * scale
    phone = subject + 0.7 * phone_type + 1.5 * torch.randn(n, dim, generator=gen) * scale
    camera = subject + 0.7 * camera_type + 1.5 * torch.randn(n, dim, generator=gen) * scale
    return phone, camera


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_knn(data, k: int, db_block: int) -> bool:
    fast, t_fast = timed(lambda: knn_all_setups(*data, k, device="cpu"))
    streamed, t_streamed = timed(lambda: knn_all_setups(*data, k, device="cpu", db_block_size=db_block))
    slow, t_slow = timed(lambda: {s: knn_accuracy_loop(*data, s, k) for s in SETUPS})
    same = all(fast[s] == streamed[s] == slow[s] for s in SETUPS)
    print(f"k={k:<2} " + "  ".join(f"{s} {fast[s]:.4f}" for s in SETUPS) + f"  spd_p {fast['spd_p']:+.4f}")
    print(
        f"     matrix {t_fast:7.2f} s   in blocks of {db_block} rows {t_streamed:7.2f} s   loop {t_slow:7.2f} s   "
        f"speed-up {t_slow / t_fast:6.1f}x   identical: {same}"
    )
    return same


@contextlib.contextmanager
def recording_rescores(made: list):
    """Append the number of (run, query) pairs each float64 re-scoring of near-ties takes inside the block."""
    exact = knn._exact_similarities

    def spy(inp, runs, rows, kept_idx):
        made.append(len(rows))
        return exact(inp, runs, rows, kept_idx)

    knn._exact_similarities = spy
    try:
        yield
    finally:
        knn._exact_similarities = exact


def bench_released(data, ks: tuple[int, ...], checkout: Path) -> bool:
    """Ours (one search for every k, as a run does) vs the released scripts (one pass per k) on the same
    arrays: seconds, ratio, and the five summary values of each k."""
    from released_code import released_knn_summary

    db, db_y, q, q_y = data
    names = sorted(set(RELEASED_NAMES.values()))[: db.shape[1]]
    released, t_released = {}, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "embeddings"
        for i, name in enumerate(names):
            write(root, name, "bench", "synthetic", "train", db[:, i], db_y.tolist())
            write(root, name, "bench", "synthetic", "val", q[:, i], q_y.tolist())
        rescored = []
        with recording_rescores(rescored):  # the default: float32 products, near-ties in float64; ties as released
            ours, t_ours = timed(lambda: knn_all_ks(*data, ks, device="cpu"))
        ours64, t_ours64 = timed(lambda: knn_all_ks(*data, ks, device="cpu", dtype=torch.float64))
        lowest = knn_all_ks(*data, ks, device="cpu", vote_ties="lowest-class")
        for k in ks:
            released[k], seconds = released_knn_summary(
                checkout, root, names, "bench", "synthetic", k, Path(tmp) / f"out{k}"
            )
            t_released += seconds
    print(
        f"k={','.join(map(str, ks))}: released code {t_released:8.1f} s   ours {t_ours:6.1f} s   "
        f"ratio {t_released / t_ours:6.1f}x"
    )
    runs = len(knn.knn_runs(SETUPS, db.shape[1], len(knn.UNIFORM_SEEDS))) * len(q)
    print(
        f"  (float32 products, {sum(rescored)} of {runs} (run, query) pairs' near-ties scored again in float64; "
        f"float64 products: {t_ours64:6.1f} s, ratio {t_released / t_ours64:6.1f}x, numbers identical: {ours64 == ours})"
    )
    same = ours64 == ours
    for k in ks:
        for setup, theirs in RELEASED_SETUPS.items():
            equal = abs(100 * ours[k][setup] - released[k][theirs]) < 1e-9
            same &= equal
            print(
                f"  k={k:<2} {setup:9} released {released[k][theirs]:8.4f}  ours {100 * ours[k][setup]:8.4f} "
                f"{'=' if equal else '!='}  (vote ties lowest-class: {100 * lowest[k][setup]:8.4f})"
            )
    return same


def bench_retrieval(phone, camera) -> bool:
    fast, t_fast = timed(lambda: paircams_recall(phone, camera, device="cpu"))
    slow, t_slow = timed(lambda: paircams_recall_loop(phone, camera))
    same = fast == slow
    print(
        f"PairCams ({len(phone)} pairs): recall same-as-query {fast.recall_same_as_query:.4f}  "
        f"same-as-target {fast.recall_same_as_target:.4f}  spd_a {fast.spd_a:+.4f}"
    )
    print(f"     matrix {t_fast:7.3f} s   loop {t_slow:7.3f} s   speed-up {t_slow / t_fast:6.1f}x   identical: {same}")
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--processings", type=int, default=5)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--db-block", type=int, help="database rows per block of the streamed run (default: db/8)")
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--pairs", type=int, default=730)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--released", type=Path, help="a checkout of the released code: time it on the same data")
    args = parser.parse_args()
    keep_freed_memory()  # as trace-bench does; the released code, run in this process, gets it too
    if args.quick:
        args.db, args.queries, args.dim, args.pairs = 500, 100, 64, 100
    db_block = args.db_block or max(1, args.db // 8)

    data = knn_embeddings(args.db, args.queries, args.processings, args.dim, args.classes)
    print(
        f"kNN: database {args.db} x {args.processings} processings x {args.dim}, {args.queries} queries, "
        f"{args.classes} classes; torch threads {torch.get_num_threads()}"
    )
    if args.released:  # released vs ours only: the per-query loops would take as long again
        if not bench_released(data, (10, 1), args.released):
            raise SystemExit("the released code and ours differ")
        return
    ok = [bench_knn(data, k, db_block) for k in (10, 1)]
    ok.append(bench_retrieval(*pair_embeddings(args.pairs, args.dim)))
    if not all(ok):
        raise SystemExit("matrix and loop results differ")


if __name__ == "__main__":
    main()
