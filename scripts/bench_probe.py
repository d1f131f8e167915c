#!/usr/bin/env python3
"""Seconds of the batched grid probe vs the released protocol's sequential trials, same features.

Usage: ``python scripts/bench_probe.py [--n 20000] [--dim 768] [--classes 16] [--seeds 3] [--quick]``.

Synthetic features: Gaussian class means plus a shared offset plus unit noise, scaled so that a
linear probe lands well between chance and perfect.  Split 60/20/20 into train/val/test.  Runs
``linear_probe`` (whole lr x wd grid in one batched run; float32, then bfloat16 GEMMs, then the
grid searched on ``--tune-epochs`` runs that emulate the full ones, refit for the full epochs) and
``sequential_probe`` (30 trials x 100 SGD epochs, each trial a separate ``nn.Linear``), prints the
seconds of each, the speed-ups and the test accuracies.  ``--sequential-trials K`` times only K of
the trials and extrapolates linearly (printed as such).

The machine may be shared: full-run wall times then swing with other jobs.  A second measurement is
robust to that: short runs (``--unit-epochs`` epochs) of each piece of work -- the grid, its refit,
one sequential trial, the sequential refit -- interleaved for ``--rounds`` rounds, the fastest of
each kept and projected linearly to the full protocol (training only; evaluation is negligible).

``--released PATH`` (a checkout of the paper's code) times the released Optuna trainer itself instead,
on the same splits.  ``--released PATH --refit [--n N] [--n-val V] [--seeds S]`` runs the processing
probe's whole protocol in the released layout: ``processing_prediction.py`` (30 trials, 10 refits) against
``refit_probe`` on N training and V val images, each under --classes JPEG classes, per data set.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmark.protocols.probe import ProbeConfig, linear_probe, train_linear_models
from benchmark.runtime.host_memory import keep_freed_memory
from benchmark.testing.probe import _train_single_sequential, sequential_probe


@dataclass(frozen=True)
class Splits:
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def args(self) -> tuple:
        return (self.train_x, self.train_y, self.val_x, self.val_y, self.test_x, self.test_y)


def synthetic_features(n: int, dim: int, classes: int, separation: float, seed: int = 0) -> Splits:
    """Gaussian classes: x = offset + mean[y] + N(0, I), shuffled 60/20/20 split.

    Class means are N(0, I) scaled to norm ~``separation`` (noise units), whatever the dimension.
    """
    gen = torch.Generator().manual_seed(seed)
    means = torch.randn(classes, dim, generator=gen) * (separation / dim**0.5)
    offset = torch.randn(dim, generator=gen) * 0.5
    y = torch.arange(n) % classes
    x = offset + means[y] + torch.randn(n, dim, generator=gen)
    perm = torch.randperm(n, generator=gen)
    x, y = x[perm], y[perm]
    a, b = int(0.6 * n), int(0.8 * n)
    return Splits(x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:])


@dataclass(frozen=True)
class Timed:
    result: object
    wall: float  # seconds
    cpu: float  # process CPU seconds, all threads: less sensitive to other jobs on the machine


def timed(fn) -> Timed:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return Timed(result, time.perf_counter() - wall, time.process_time() - cpu)


def warm_up(data: Splits) -> None:
    """First calls pay one-off costs (torch.optim and autograd set-up: seconds); keep them out."""
    tiny = Splits(*(t[:64] for t in data.args()))
    for precision in ("float32", "bfloat16"):
        linear_probe(*tiny.args(), ProbeConfig(epochs=1, precision=precision, device="cpu"))
    sequential_probe(*tiny.args(), trials=2, epochs=1, device="cpu")


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def full_runs(data: Splits, args) -> dict[str, tuple[float, float]]:
    """The two protocols end to end on one data set: wall and CPU speed-ups and test accuracy gaps.

    Returns {grid variant: (wall speed-up, test accuracy grid - sequential)}.
    """
    grid = {}
    variants = [("float32", None), ("bfloat16", None), *(("bfloat16", tune) for tune in args.tune_epochs)]
    for precision, tune in variants:
        config = ProbeConfig(epochs=args.epochs, precision=precision, device="cpu", tune_epochs=tune)
        name = precision if tune is None else f"{precision}, tuned on {tune}-epoch runs"
        run = grid[name] = timed(lambda config=config: linear_probe(*data.args(), config))
        res = run.result
        print(
            f"batched grid ({len(config.grid())} points, {name}): {run.wall:7.1f} s wall {run.cpu:7.1f} s cpu  "
            f"test acc {res.test_accuracy:.4f}  mean/class {res.test_mean_per_class_accuracy:.4f}  "
            f"val acc {res.val_accuracy:.4f}  lr {res.learning_rate:g} wd {res.weight_decay:g}",
            flush=True,
        )

    n_timed = args.trials if args.sequential_trials is None else min(args.sequential_trials, args.trials)
    seq = timed(lambda: sequential_probe(*data.args(), trials=n_timed, epochs=args.epochs, device="cpu"))
    scale = (args.trials + 1) / (n_timed + 1)  # trials + the refit model
    if n_timed < args.trials:
        print(
            f"NOTE: only {n_timed} of {args.trials} sequential trials were run; times extrapolated linearly "
            f"(x{scale:.2f}) and the accuracy comes from {n_timed} trials"
        )
    res = seq.result
    print(
        f"sequential ({args.trials} trials x {args.epochs} epochs): {seq.wall * scale:7.1f} s wall "
        f"{seq.cpu * scale:7.1f} s cpu  test acc {res.test_accuracy:.4f}  mean/class "
        f"{res.test_mean_per_class_accuracy:.4f}  val acc {res.val_accuracy:.4f}  "
        f"lr {res.learning_rate:g} wd {res.weight_decay:g}"
    )
    outcome = {}
    for name, run in grid.items():
        speed_up, gap = seq.wall * scale / run.wall, run.result.test_accuracy - res.test_accuracy
        outcome[name] = (speed_up, gap)
        print(
            f"speed-up ({name} grid vs sequential): {speed_up:6.1f}x wall "
            f"{seq.cpu * scale / run.cpu:6.1f}x cpu   test accuracy grid - sequential: {gap:+.4f}",
            flush=True,
        )
    return outcome


def summarise(outcomes: list[dict[str, tuple[float, float]]]) -> None:
    """Per grid variant over the data seeds: speed-ups and accuracy gaps (mean, min, max)."""
    print(f"over {len(outcomes)} data seeds (speed-up wall; test accuracy grid - sequential):")
    for name in outcomes[0]:
        speeds = [o[name][0] for o in outcomes]
        gaps = [o[name][1] for o in outcomes]
        print(
            f"  {name:32s} speed-up mean {sum(speeds) / len(speeds):5.1f}x (min {min(speeds):5.1f}x)   "
            f"accuracy gap mean {sum(gaps) / len(gaps):+.4f} (min {min(gaps):+.4f}, max {max(gaps):+.4f})"
        )


def steady_state(data: Splits, args) -> None:
    """Fastest of interleaved short runs of each piece of work, projected to the full protocol."""
    x = F.normalize(data.train_x, dim=1)
    x_all = F.normalize(torch.cat([data.train_x, data.val_x]), dim=1)
    y, y_all = data.train_y, torch.cat([data.train_y, data.val_y])
    points = ProbeConfig().grid()
    lrs, wds = torch.tensor([p[0] for p in points]), torch.tensor([p[1] for p in points])
    e, c = args.unit_epochs, args.classes
    units = {
        "sequential trial": lambda: _train_single_sequential(
            x, y, c, 1.0, 1e-6, epochs=e, batch_size=1024, momentum=0.9, seed=0
        ),
        "sequential refit": lambda: _train_single_sequential(
            x_all, y_all, c, 1.0, 1e-6, epochs=e, batch_size=1024, momentum=0.9, seed=0
        ),
    }
    for precision in ("float32", "bfloat16"):
        kw = dict(epochs=e, batch_size=1024, precision=precision)
        units[f"grid {precision}"] = lambda kw=kw: train_linear_models(x, y, c, lrs, wds, **kw)
        units[f"refit {precision}"] = lambda kw=kw: train_linear_models(x_all, y_all, c, lrs[:1], wds[:1], **kw)
    best = dict.fromkeys(units, float("inf"))
    for _ in range(args.rounds):
        for name, fn in units.items():
            best[name] = min(best[name], timed(fn).wall)
    scale = args.epochs / e
    sequential = (args.trials * best["sequential trial"] + best["sequential refit"]) * scale
    print(
        f"steady state (fastest of {args.rounds} interleaved rounds of {e}-epoch runs, projected to "
        f"{args.epochs} epochs; training only):"
    )
    print(f"  sequential ({args.trials} trials + refit): {sequential:7.1f} s")
    for precision in ("float32", "bfloat16"):
        grid = (best[f"grid {precision}"] + best[f"refit {precision}"]) * scale
        print(
            f"  batched grid ({len(points)} points + refit, {precision}): {grid:7.1f} s   "
            f"speed-up {sequential / grid:6.1f}x"
        )
    for tune in args.tune_epochs:
        for precision in ("float32", "bfloat16"):
            tuned = best[f"grid {precision}"] * tune / e + best[f"refit {precision}"] * scale
            print(
                f"  batched grid tuned on {tune}-epoch runs + {args.epochs}-epoch refit, {precision}: "
                f"{tuned:7.1f} s   speed-up {sequential / tuned:6.1f}x"
            )


def versus_released(data: Splits, args) -> None:
    """The released trainer itself (``--released PATH``) and our probe on the same splits, interleaved."""
    from released_code import released_probe

    ours = {
        "default (auto precision)": ProbeConfig(epochs=args.epochs, device="cpu"),
        "float32": ProbeConfig(epochs=args.epochs, precision="float32", device="cpu"),
        "fast: --probe-tune-epochs 10": ProbeConfig(epochs=args.epochs, tune_epochs=10, device="cpu"),
        "fast, float32": ProbeConfig(epochs=args.epochs, tune_epochs=10, precision="float32", device="cpu"),
    }
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds_released):
        accuracy, seconds = released_probe(args.released, data, trials=args.trials, epochs=args.epochs)
        best["released"] = min((seconds, accuracy), best.get("released", (seconds, accuracy)))
        for name, config in ours.items():
            run = timed(lambda config=config: linear_probe(*data.args(), config))
            entry = (run.wall, 100 * run.result.test_accuracy)
            best[name] = min(entry, best.get(name, entry))
    released_s, released_acc = best["released"]
    print(
        f"released trainer ({args.trials} Optuna trials x {args.epochs} epochs + refit): {released_s:7.1f} s, "
        f"test {released_acc:.2f}%"
    )
    for name in ours:
        seconds, accuracy = best[name]
        print(
            f"  ours, {name:30} {seconds:7.1f} s  {released_s / seconds:6.1f}x  test {accuracy:.2f}% "
            f"({accuracy - released_acc:+.2f} pt)"
        )


PROCESSINGS = ("jpeg_q100", "jpeg_q90", "jpeg_q80", "jpeg_q70", "jpeg_q60", "jpeg_q50")


def processing_embeddings(n: int, n_val: int, dim: int, classes: int, separation: float, seed: int = 0):
    """Every image under every processing class, as an encoder embeds a processing family:
    ``train[p]`` (n, dim) and ``val[p]`` (n_val, dim) for each class p.  An image's embeddings share its
    content (a common vector) and differ by the class's shift (norm ~``separation`` noise units) and noise.
    """
    gen = torch.Generator().manual_seed(seed)
    shifts = torch.randn(classes, dim, generator=gen) * (separation / dim**0.5)
    content = torch.randn(n + n_val, dim, generator=gen) * 2.0
    per_class = [content + shift + torch.randn(n + n_val, dim, generator=gen) for shift in shifts]
    return [x[:n] for x in per_class], [x[n:] for x in per_class]


def versus_released_refit(args) -> None:
    """The processing probe's protocol in the released layout: ``processing_prediction.py`` itself against
    ``refit_probe`` (what ``trace-bench probe --embeddings DIR`` runs), on the same embeddings, interleaved;
    on ``--seeds`` synthetic data sets, then the mean speed-up and accuracy gap."""
    if not 2 <= args.classes <= len(PROCESSINGS):
        raise SystemExit(f"--refit takes 2 to {len(PROCESSINGS)} classes (a JPEG family), got --classes {args.classes}")
    if min(args.seeds, args.n_val) < 1 or args.n < 10 * args.classes:
        raise SystemExit("--refit needs --seeds and --n-val of at least 1 and --n of at least 10 images per class")
    print(
        f"processing embeddings: {args.n} training images x {args.classes} classes, {args.n_val} val images "
        f"(test {args.n_val * args.classes}), {args.dim} dims"
    )
    outcomes = [_refit_versus_released(args, seed) for seed in range(args.seeds)]
    if len(outcomes) > 1:
        speed_ups = [released / ours for released, ours, _ in outcomes]
        gaps = [gap for _, _, gap in outcomes]
        print(
            f"over {len(outcomes)} data seeds: speed-up mean {sum(speed_ups) / len(speed_ups):.1f}x "
            f"(min {min(speed_ups):.1f}x), accuracy gap mean {sum(gaps) / len(gaps):+.2f} pt "
            f"(min {min(gaps):+.2f}, max {max(gaps):+.2f})"
        )


def _refit_versus_released(args, seed: int) -> tuple[float, float, float]:
    """(released seconds, our seconds, our mean test accuracy - released, in points) on data set ``seed``."""
    import tempfile

    from released_code import released_processing_probe
    from safetensors.torch import save_file

    from benchmark.protocols.refit import refit_probe

    classes = PROCESSINGS[: args.classes]
    train, val = processing_embeddings(args.n, args.n_val, args.dim, args.classes, args.separation, seed=seed)
    test_x, test_y = torch.cat(val), torch.arange(args.classes).repeat_interleave(args.n_val)
    refit_probe([t[:64] for t in train], test_x[:64], test_y[:64], ProbeConfig(epochs=1, device="cpu"), refits=1)
    best: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, x_train, x_val in zip(classes, train, val):
            (Path(folder) / name).mkdir()
            for split, x in (("train", x_train), ("val", x_val)):
                file = Path(folder) / name / f"model=bench_variant=synthetic_split={split}.safetensors"
                save_file({"image_embeddings": x.contiguous()}, str(file))
        for _ in range(args.rounds_released):
            accuracies, seconds, chosen = released_processing_probe(
                args.released, Path(folder), list(classes), "bench", "synthetic"
            )
            entry = (seconds, sum(accuracies) / len(accuracies))
            best["released"] = min(entry, best.get("released", entry))
            run = timed(lambda: refit_probe(train, test_x, test_y, ProbeConfig(device="cpu")))
            entry = (run.wall, 100 * run.result.accuracy)
            best["ours"] = min(entry, best.get("ours", entry))
    (released_s, released_acc), (seconds, accuracy) = best["released"], best["ours"]
    print(
        f"-- data seed {seed}: released processing_prediction.py (30 trials + 10 refits, "
        + ", ".join(f"{name} {value:.3g}" for name, value in chosen.items())
        + f") {released_s:7.1f} s, mean test {released_acc:.2f}%\n"
        f"   ours, refit_probe (grid + 10 refits, lr {run.result.learning_rate:g}, wd {run.result.weight_decay:g}) "
        f"{seconds:7.1f} s  {released_s / seconds:6.1f}x  mean test {accuracy:.2f}% ({accuracy - released_acc:+.2f} pt)",
        flush=True,
    )
    return released_s, seconds, accuracy - released_acc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--classes", type=int, help="classes of the features (default 16; 6 with --refit)")
    parser.add_argument("--separation", type=float, default=2.6, help="norm of the class means, in noise units")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument(
        "--sequential-trials",
        type=int,
        default=None,
        help="time only this many sequential trials and extrapolate to --trials",
    )
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds of the steady-state timing")
    parser.add_argument("--unit-epochs", type=int, default=5, help="epochs per steady-state timing run")
    parser.add_argument("--skip-full", action="store_true", help="only the steady-state timing")
    parser.add_argument(
        "--tune-epochs",
        type=int,
        nargs="+",
        default=[10, 20],
        help="epochs of the grid search in the fast variants (each point's run emulates its full "
        "run: learning rate x epochs/tune; the chosen point is refit for --epochs)",
    )
    parser.add_argument(
        "--seeds", type=int, default=1, help="full runs on this many synthetic data sets (seeds 0..N-1), then a summary"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--released", type=Path, help="a checkout of the released code: time its trainer instead")
    parser.add_argument("--rounds-released", type=int, default=1, help="interleaved rounds with --released")
    parser.add_argument(
        "--refit",
        action="store_true",
        help="with --released: the processing probe's protocol in the released layout (--n training images, "
        "--n-val val images, each under --classes JPEG classes): processing_prediction.py against refit_probe",
    )
    parser.add_argument("--n-val", type=int, default=1000, help="val images of --refit (each under every class)")
    args = parser.parse_args()
    args.classes = args.classes or (len(PROCESSINGS) if args.refit else 16)
    keep_freed_memory()  # as trace-bench does; the released code, run in this process, gets it too
    if args.quick:
        args.n, args.dim, args.trials, args.epochs, args.rounds, args.unit_epochs = 2000, 64, 4, 10, 2, 2
        args.tune_epochs = [2, 4]

    if args.refit:
        if not args.released:
            raise SystemExit("--refit compares with the released code: give --released PATH")
        versus_released_refit(args)
        print(load())
        return
    data = synthetic_features(args.n, args.dim, args.classes, args.separation)
    print(
        f"features: {args.n} x {args.dim}, {args.classes} classes; train {len(data.train_y)}, "
        f"val {len(data.val_y)}, test {len(data.test_y)}; torch threads {torch.get_num_threads()}"
    )
    warm_up(data)
    print(load())
    if args.released:
        versus_released(data, args)
        print(load())
        return
    if not args.skip_full:
        outcomes = []
        for seed in range(args.seeds):
            if seed:
                data = synthetic_features(args.n, args.dim, args.classes, args.separation, seed=seed)
            print(f"-- data seed {seed}")
            outcomes.append(full_runs(data, args))
            print(load())
        summarise(outcomes)
    steady_state(data, args)
    print(load())


if __name__ == "__main__":
    main()
