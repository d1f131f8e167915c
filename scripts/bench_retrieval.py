#!/usr/bin/env python3
"""Seconds and recall@1 of our PairCams retrieval, and with ``--released PATH`` the released retrieval.py's.

Usage: ``python scripts/bench_retrieval.py [--pairs 730] [--dim 512] [--devices 8] [--rounds 5]
[--threads N] [--quick] [--released PATH]``.

Planted PairCams-like embeddings: each of ``--pairs`` subjects is photographed once by one of
``--devices`` phone models and once by one of ``--devices`` camera models; a photo is subject vector
+ camera-type vector + device-model vector + noise, so that the camera leaks into retrieval and the
same-as-query collection scores well below the same-as-target one.  Times ``paircams_recall`` (what
``trace-bench retrieval`` computes SPD_a with) on the two aligned arrays, fastest of ``--rounds``.
With ``--released PATH`` (a checkout of the paper's code) the same float32 arrays are also written as
the file the released extraction writes for PairCams (``image_embeddings``, ``subject``, ``model``:
1 phone, 0 camera; both photos of a subject in a random order, subjects in the same order for both
types, as ``retrieval.py`` asserts) and the released ``retrieval.py`` ``main`` is run on it
(``released_code.py``), interleaved with ours round by round; its time includes reading that file and
writing its ``results.json`` (the file read alone is printed).  Its recalls are set beside ours, as
hit counts of the ``--pairs`` queries.  Memory: the released code stacks two pairs x 2 pairs float32
matrices per query type (10,000 pairs: 1.6 GB).  On a busy machine the multi-threaded runs slow down
most (the load average is printed); ``--threads 1`` is steadier there.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from benchmark.protocols.retrieval import RetrievalResult, paircams_recall
from benchmark.runtime.host_memory import keep_freed_memory

PHONE, CAMERA = 1, 0  # the released "model" values (feature_extraction/utils.py)
# ours (direction, collection) -> the released results.json (query type, score)
RELEASED_SCORES = {
    ("phone_to_camera", "same_as_query"): ("phone", "score_negatives_same_class"),
    ("phone_to_camera", "same_as_target"): ("phone", "score_negatives_diff_class"),
    ("camera_to_phone", "same_as_query"): ("dslr/compact", "score_negatives_same_class"),
    ("camera_to_phone", "same_as_target"): ("dslr/compact", "score_negatives_diff_class"),
}


def planted_pairs(
    n: int, dim: int, devices: int, type_weight: float, device_weight: float, noise: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(phone, camera) float32 [n, dim], rows aligned by subject: subject + type + device model + noise."""
    gen = torch.Generator().manual_seed(seed)
    scale = dim**-0.5  # unit-norm components whatever the dimension
    subject = torch.randn(n, dim, generator=gen) * scale
    kind = torch.randn(2, dim, generator=gen) * scale
    model = torch.randn(2, devices, dim, generator=gen) * scale

    def photos(k: int) -> torch.Tensor:
        which = torch.randint(0, devices, (n,), generator=gen)
        own = torch.randn(n, dim, generator=gen) * scale
        return subject + type_weight * kind[k] + device_weight * model[k, which] + noise * own

    return photos(0).float(), photos(1).float()


def write_released(path: Path, phone: torch.Tensor, camera: torch.Tensor, seed: int = 0) -> None:
    """The released PairCams file: both photos of a subject side by side, which comes first at random."""
    gen = torch.Generator().manual_seed(seed)
    n = len(phone)
    phone_first = torch.rand(n, generator=gen) < 0.5
    first = torch.where(phone_first[:, None], phone, camera)
    second = torch.where(phone_first[:, None], camera, phone)
    first_model = torch.where(phone_first, PHONE, CAMERA)
    save_file(
        {
            "image_embeddings": torch.stack([first, second], 1).reshape(2 * n, -1).contiguous(),
            "subject": torch.randperm(n, generator=gen).repeat_interleave(2),
            "model": torch.stack([first_model, PHONE + CAMERA - first_model], 1).reshape(-1),
        },
        str(path),
    )


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def load() -> str:
    """Other jobs on the machine slow the multi-threaded runs most: say how busy it was."""
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def ours_hits(result: RetrievalResult) -> dict[tuple[str, str], int]:
    """Hit counts per (direction, collection), in RELEASED_SCORES order: exact, unlike the float recalls."""
    n = result.n_subjects
    return {(d, c): round(getattr(getattr(result, d), c) * n) for d, c in RELEASED_SCORES}


def versus_released(phone, camera, args, device: str) -> bool:
    """Ours and the released retrieval.py on the same arrays, interleaved: seconds, ratio, recalls."""
    from released_code import released_retrieval

    model, variant = "bench", "synthetic"
    best = {"ours": float("inf"), "released": float("inf"), "read": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / f"model={model}_variant={variant}.safetensors"
        write_released(path, phone, camera)
        for _ in range(args.rounds):
            released, seconds = released_retrieval(args.released, folder, model, variant, folder / "out")
            best["released"] = min(best["released"], seconds)
            ours, seconds = timed(lambda: paircams_recall(phone, camera, device=device))
            best["ours"] = min(best["ours"], seconds)
            best["read"] = min(best["read"], timed(lambda: load_file(str(path)))[1])
    print(
        f"released retrieval.py {best['released']:8.3f} s   ours {best['ours']:8.4f} s   "
        f"ratio {best['released'] / best['ours']:6.1f}x   (reading the file alone {best['read']:.4f} s)"
    )
    n, mine, same = len(phone), ours_hits(ours), True
    print(f"{f'recall@1, hits of {n} queries':32}{'released':>16}{'ours':>16}")
    for key, (query, score) in RELEASED_SCORES.items():
        theirs = round(released[query][score] * n)
        same &= theirs == mine[key]
        print(
            f"  {key[0]:15} {key[1]:14}{theirs:7} {100 * theirs / n:7.3f}%{mine[key]:7} {100 * mine[key] / n:7.3f}%"
            f" {'=' if theirs == mine[key] else '!='}"
        )
    gap = sum(released[q]["score_negatives_diff_class"] - released[q]["score_negatives_same_class"] for q in released)
    print(f"  {'spd_a':30}{gap / len(released):+15.4f} {ours.spd_a:+15.4f}")
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pairs", type=int, default=730, help="subjects, one phone + one camera photo each (bench_knn.py's size)"
    )
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--devices", type=int, default=8, help="phone models, and as many camera models")
    parser.add_argument("--type-weight", type=float, default=0.5, help="camera-type vector, in subject units")
    parser.add_argument("--device-weight", type=float, default=0.5, help="device-model vector, in subject units")
    parser.add_argument("--noise", type=float, default=1.8, help="per-photo noise, in subject units")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the fastest of each is kept")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--released", type=Path, help="a checkout of the released code: time it on the same data")
    args = parser.parse_args()
    keep_freed_memory()  # as trace-bench does; the released code, run in this process, gets it too
    if args.quick:
        args.pairs, args.dim, args.rounds = 200, 128, 2
    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"  # where the released code runs

    phone, camera = planted_pairs(args.pairs, args.dim, args.devices, args.type_weight, args.device_weight, args.noise)
    print(
        f"PairCams-like: {args.pairs} pairs x {args.dim} dims, {args.devices} phone + {args.devices} camera "
        f"models; device {device}, torch threads {torch.get_num_threads()}, {load()}"
    )
    if args.released:
        if not versus_released(phone, camera, args, device):
            raise SystemExit("the released code and ours differ")
        print(load())
        return
    seconds = min(timed(lambda: paircams_recall(phone, camera, device=device))[1] for _ in range(args.rounds))
    result = paircams_recall(phone, camera, device=device)
    print(
        f"ours {seconds:8.4f} s (fastest of {args.rounds})   recall same-as-query "
        f"{result.recall_same_as_query:.4f}  same-as-target {result.recall_same_as_target:.4f}  "
        f"spd_a {result.spd_a:+.4f}"
    )


if __name__ == "__main__":
    main()
