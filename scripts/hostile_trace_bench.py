#!/usr/bin/env python3
"""A hostile-input campaign against the ``trace-bench`` command line: what each bad input turns into.

Usage: ``python scripts/hostile_trace_bench.py [--work DIR] [--pythonpath DIR] [--timeout 120]
[--memory-limit 6] [--only SUBSTRING] [--list] [--json FILE]``.

Every input is built here, under ``--work`` (default: a new temporary folder): tiny generated images
(32x24) in class folders with one bad file among good ones, image folders in odd layouts, embedding
folders in the released layout with broken files, caches and result folders left half-written, bad
option values, Hugging Face dataset folders with broken cards, Ctrl-C in the middle of a run and a full
disk (a 64 KiB tmpfs, where this user may mount one).  Each case runs ``trace-bench`` in a subprocess
(``python -c "...; app()"`` in the case's own folder and process group, with ``HF_HUB_OFFLINE=1``,
``HF_DATASETS_OFFLINE=1``, ``OMP_NUM_THREADS=1``, ``RAY_USAGE_STATS_ENABLED=0``, ``COLUMNS=200`` so
messages are not wrapped, the ``datasets`` cache inside the work folder, and ``PYTHONPATH=--pythonpath``
to measure another checkout of the same code), with the encoder ``random:resnet10t`` (random weights,
no download; ``effnet-lite0`` where pretrained weights matter) on the CPU, one processing family and 2
probe tuning epochs, so that a case takes seconds.

Each case gets one outcome:

* ``traceback``: stdout or stderr holds a traceback (plain or rich);
* ``hang``: still running after ``--timeout`` seconds (its process group is killed);
* ``memory``: its resident memory passed ``--memory-limit`` GB (killed, so that one blow-up does not
  take a shared machine down);
* ``silent``: the case's check of what was written says that the run's success is wrong: classes mixed
  up, a bad input dropped or embedded without a word, a result file overwritten, a file written outside
  ``--out``, non-finite metrics, an invalid value accepted;
* ``ok``: exit 0 (or the case's expected code: 130 after Ctrl-C);
* ``clean-error``: another exit code, no traceback, at most 3 message lines on stderr;
* ``long-error``: another exit code, no traceback, a longer message;
* ``broken`` / ``skipped``: the case could not be built, or cannot run here (the table says why).

Message lines leave out what a successful run prints as well (the ``Encoder ...`` line, progress lines)
and count a rich box (Typer's usage errors) as one line.  The table shows per case its id, category,
command (without the options every case of its kind shares), exit code, outcome, peak resident memory
(MB) and the first message line of stderr (for a traceback, the exception line), with why a case is
silent and notes (an error that does not name the bad file); then the totals per outcome and per
category.  ``--json FILE`` writes the same, with the full commands and the ends of stdout and stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import os
import pickle
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

TRACE_BENCH = "import sys; from benchmark.cli.app import app; sys.argv[0] = 'trace-bench'; app()"
ENCODER = "random:resnet10t"  # random weights from timm's config: no download
PRETRAINED = "effnet-lite0"  # a real pretrained encoder that loads offline
SIZE = (32, 24)  # every generated image, unless a case needs another size
OUTCOMES = ("traceback", "hang", "memory", "silent", "long-error", "clean-error", "ok", "broken", "skipped")
IS_ROOT = os.geteuid() == 0


# ---------------------------------------------------------------------------------------------
# Running trace-bench


@dataclass
class Context:
    python: str
    env: dict[str, str]
    timeout: float
    work: Path
    memory_limit_mb: float = 0.0  # 0: none
    fixtures: dict[str, Path] = field(default_factory=dict)


@dataclass
class Run:
    rc: int | None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    peak_mb: float | None = None
    timed_out: bool = False
    memory_killed: bool = False
    before: frozenset[str] = frozenset()  # files of the case folder before the command ran
    broken: str | None = None  # the case did not test what it should (why)


class Process:
    """One trace-bench command in its own process group, reaped with ``wait4`` for its peak memory."""

    def __init__(self, ctx: Context, args: Sequence[str], cwd: Path):
        self.ctx = ctx
        self.out, self.err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        self.started = time.monotonic()
        self.status: int | None = None
        self.usage: Any = None
        self.proc = subprocess.Popen(
            [ctx.python, "-c", TRACE_BENCH, *args],
            cwd=cwd,
            env=ctx.env,
            stdin=subprocess.DEVNULL,
            stdout=self.out,
            stderr=self.err,
            start_new_session=True,
        )

    def poll(self) -> bool:
        """Whether it has exited (reaps it, keeping its status and resource usage)."""
        if self.status is None:
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                self.status, self.usage = status, usage
        return self.status is not None

    def stderr_so_far(self) -> str:
        """What it wrote to stderr until now (``pread``: the offset it shares with the child stays put)."""
        return os.pread(self.err.fileno(), 1 << 20, 0).decode(errors="replace")

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)

    def resident_mb(self) -> float:
        """Resident memory of its main process now (0 when it cannot be read)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def wait(self) -> Run:
        """Until it exits, or past the timeout or the memory limit (then its group is killed)."""
        timed_out = memory_killed = False
        limit = self.ctx.memory_limit_mb
        try:
            while not self.poll():
                timed_out = time.monotonic() - self.started > self.ctx.timeout
                memory_killed = bool(limit) and self.resident_mb() > limit
                if timed_out or memory_killed:
                    break
                time.sleep(0.05)
        finally:  # past a limit, or this script interrupted: the command's whole group goes
            if self.status is None:
                self.signal_group(signal.SIGKILL)
                _, self.status, self.usage = os.wait4(self.proc.pid, 0)
        seconds = time.monotonic() - self.started
        rc = os.waitstatus_to_exitcode(self.status)
        self.proc.returncode = rc  # reaped by wait4: tell Popen
        self.signal_group(signal.SIGKILL)  # whatever it left behind in its group
        texts = []
        for handle in (self.out, self.err):
            handle.seek(0)
            texts.append(handle.read().decode(errors="replace"))
            handle.close()
        peak = self.usage.ru_maxrss / 1024 if self.usage else None
        return Run(rc, texts[0], texts[1], seconds, peak, timed_out, memory_killed)


def trace_bench(ctx: Context, args: Sequence[str], cwd: Path) -> Run:
    return Process(ctx, args, cwd).wait()


class SetupError(Exception):
    """A case's inputs could not be built (outcome ``broken``)."""


class Skip(Exception):
    """A case cannot run here (outcome ``skipped``)."""


def prepared(ctx: Context, args: Sequence[str], cwd: Path) -> Run:
    """A trace-bench command a case needs before its own (a run that fills a cache); it must succeed."""
    run = trace_bench(ctx, args, cwd)
    if run.rc != 0 or run.timed_out or run.memory_killed:
        tail = (run.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SetupError(f"preparing with trace-bench {args[0]} failed (exit {run.rc}): {tail}")
    return run


# ---------------------------------------------------------------------------------------------
# Commands (relative paths: each case runs in its own folder, which holds ds/, E/, R/, out/, C/ ...)


def with_options(base: list[str], extra: Sequence[str]) -> list[str]:
    """``base`` with the options of ``extra``: an option of ``base`` gets the first new value (a repeated
    option such as --family would add to the default), the rest is appended."""
    args, index, replaced = list(base), 0, set()
    while index < len(extra):
        option = extra[index]
        has_value = index + 1 < len(extra) and not extra[index + 1].startswith("--")
        if has_value and option in base[:-1] and option not in replaced:
            args[args.index(option) + 1] = extra[index + 1]
            replaced.add(option)
        else:
            args += extra[index : index + 1 + has_value]
        index += 1 + has_value
    return args


def run_cmd(dataset: str = "ds", *extra: str, model: str = ENCODER) -> list[str]:
    fast = ["--device", "cpu", "--family", "jpeg", "--probe-tune-epochs", "2"]
    base = ["run", "--dataset", dataset, "--model", model, *fast, "--out", "out", "--cache", "C"]
    return with_options(base, extra)


def extract_cmd(dataset: str = "ds", *extra: str, model: str = ENCODER) -> list[str]:
    fast = ["--device", "cpu", "--cache", "C", "--variant", "source"]
    return with_options(["extract", "--dataset", dataset, "--model", model, *fast], extra)


def knn_cmd(dataset: str = "ds", *extra: str) -> list[str]:
    fast = ["--device", "cpu", "--family", "jpeg"]
    return with_options(["knn", "--dataset", dataset, "--model", ENCODER, *fast, "--out", "out", "--cache", "C"], extra)


def knn_embeddings_cmd(*extra: str) -> list[str]:
    base = ["knn", "--embeddings", "E", "--family", "sharpening", "--device", "cpu", "--out", "out"]
    return with_options(base, extra)


def probe_embeddings_cmd(*extra: str) -> list[str]:
    fast = ["--family", "sharpening", "--device", "cpu", "--probe-tune-epochs", "2", "--probe-refits", "2"]
    return with_options(["probe", "--embeddings", "E", *fast, "--out", "out"], extra)


# options the table leaves out when they have these values (--family: jpeg, or sharpening on --embeddings)
SHARED_OPTIONS = {
    "--device": "cpu",
    "--probe-tune-epochs": "2",
    "--probe-refits": "2",
    "--model": ENCODER,
    "--out": "out",
    "--cache": "C",
    "--variant": "source",
}


def short_command(args: Sequence[str]) -> str:
    """The command without the options every case of its kind shares."""
    shared = SHARED_OPTIONS | {"--family": "sharpening" if "--embeddings" in args else "jpeg"}
    shown, index = [], 0
    while index < len(args):
        if index + 1 < len(args) and shared.get(args[index]) == args[index + 1]:
            index += 2
            continue
        shown.append(shlex.quote(args[index]))
        index += 1
    return " ".join(shown)


# ---------------------------------------------------------------------------------------------
# Inputs


def noise(seed: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    width, height = size
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg_bytes(seed: int = 0, size: tuple[int, int] = SIZE) -> bytes:
    return encoded(Image.fromarray(noise(seed, size)), "JPEG", quality=90)


def good_folder(root: Path, classes: Sequence[str] = ("a", "b"), per_class: int = 6, seed: int = 0) -> Path:
    """``root/<class>/<i>.jpg``: small noise JPEGs, tinted per class so the classes differ."""
    for c, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = noise(seed * 1000 + c * 100 + i).astype(np.int16)
            pixels[..., c % 3] = np.clip(pixels[..., c % 3] + 60, 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i}.jpg", quality=90)
    return root


def split_folder(root: Path, splits: dict[str, Sequence[str]], per_class: int | None = None) -> Path:
    """``root/<split>/<class>/<i>.jpg`` (default: 12 images per class in train, 4 elsewhere: the probe's
    tuning split, carved from train, needs two images of each of the 6 JPEG classes)."""
    for s, (split, classes) in enumerate(splits.items()):
        good_folder(root / split, classes, per_class or (12 if split == "train" else 4), seed=s + 1)
    return root


def split_rank(relative: str) -> str:
    """The key trace-bench orders a class's files by before cutting it 70/10/20 (validation, test, train)."""
    return hashlib.sha256(f"0:{relative}".encode()).hexdigest()


def train_name(stem: str, suffix: str, folder: str = "a", others: int = 6) -> str:
    """A file name in ``folder`` (beside the good folder's ``0.jpg`` ... ) that lands in train, which every
    command reads: with ``others + 1`` files, the first ``max(1, round(0.1 n)) + max(1, round(0.2 n))``
    in hash order are validation and test."""
    n = others + 1
    held_out = max(1, round(0.1 * n)) + max(1, round(0.2 * n))
    good = [split_rank(f"{folder}/{i}.jpg") for i in range(others)]
    for attempt in range(100):
        name = f"{stem}{attempt or ''}{suffix}"
        if sorted([*good, split_rank(f"{folder}/{name}")]).index(split_rank(f"{folder}/{name}")) >= held_out:
            return name
    raise SetupError(f"no train name for {stem}{suffix}")


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose IHDR claims ``width`` x ``height`` (CRC fixed, so decoders reach the size check)."""
    data = bytearray(encoded(Image.fromarray(noise(7)), "PNG"))
    ihdr = 16  # after the signature and the first chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])))
    return bytes(data)


def write_bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data() if callable(data) else data)


def saved(make: Callable[[], Image.Image], fmt: str, **options: Any) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(encoded(make(), fmt, **options))


def rgb(seed: int, size: tuple[int, int] = SIZE) -> Callable[[], Image.Image]:
    return lambda: Image.fromarray(noise(seed, size))


def truncated_jpeg() -> bytes:
    data = jpeg_bytes(3)
    return data[: len(data) // 2]


def unreadable(path: Path) -> None:
    path.write_bytes(jpeg_bytes(11))
    path.chmod(0)


VALID, CORRUPT, NOT_A_FILE = "valid", "corrupt", "not a file"
JUNK = bytes(np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8))
# (id, file stem, suffix, how it is written, what it is).  A valid image must be embedded or named, a
# corrupt file must not pass unnamed; what is not a file may be skipped.
# fmt: off
BAD_IMAGES: list[tuple[str, str, str, Callable[[Path], None], str]] = [
    ("zero-byte", "zero", ".jpg", write_bytes(b""), CORRUPT),
    ("truncated-jpeg", "half", ".jpg", write_bytes(truncated_jpeg), CORRUPT),
    ("text-as-jpg", "notes", ".jpg", write_bytes(b"these are my notes, not a photo\n" * 4), CORRUPT),
    ("junk-heic", "junk", ".heic", write_bytes(JUNK), CORRUPT),
    ("png-as-jpg", "png", ".jpg", saved(rgb(4), "PNG"), VALID),
    ("gif", "anim", ".gif", saved(lambda: rgb(5)().convert("P"), "GIF"), VALID),
    ("webp", "web", ".webp", saved(rgb(6), "WEBP"), VALID),
    ("bmp", "bitmap", ".bmp", saved(rgb(7), "BMP"), VALID),
    ("tiff", "tagged", ".tiff", saved(rgb(8), "TIFF"), VALID),
    ("png-16bit", "deep", ".png", saved(lambda: Image.fromarray(noise(9)[..., 0].astype(np.uint16) * 257), "PNG"),
     VALID),
    ("cmyk-jpeg", "cmyk", ".jpg", saved(lambda: rgb(10)().convert("CMYK"), "JPEG"), VALID),
    ("alpha-png", "alpha", ".png", saved(lambda: Image.fromarray(np.dstack([noise(12), noise(13)[..., :1]])), "PNG"),
     VALID),
    ("one-pixel", "dot", ".png", saved(lambda: Image.new("RGB", (1, 1), (200, 30, 30)), "PNG"), VALID),
    ("decompression-bomb", "bomb", ".png", write_bytes(lambda: png_claiming(30000, 30000)), CORRUPT),
    ("aspect-150000x1", "line", ".png", saved(rgb(14, (150000, 1)), "PNG"), VALID),
    ("directory-named-jpg", "folder", ".jpg", lambda path: path.mkdir(), NOT_A_FILE),
    ("dangling-symlink", "gone", ".jpg", lambda path: path.symlink_to("missing-target.jpg"), CORRUPT),
    ("unreadable-chmod-000", "locked", ".jpg", unreadable, VALID if IS_ROOT else CORRUPT),
    ("fifo-named-jpg", "pipe", ".jpg", lambda path: os.mkfifo(path), NOT_A_FILE),
]
# fmt: on


EMBEDDING_PROCESSINGS = ("JPEG95_444", "SHARPEN_2", "SHARPEN_4")  # the sharpening family in the released layout


def embedding_name(split: str) -> str:
    return f"model=resnet10t_variant=random_split={split}.safetensors"


def embeddings_folder(root: Path, *, n_train: int = 24, n_val: int = 12, dim: int = 16, dtype: Any = None) -> Path:
    """``root/<PROCESSING>/model=resnet10t_variant=random_split=<train|val>.safetensors`` for the sharpening
    family: ``image_embeddings`` [N, D] (3 class centres + a shift per processing + noise), ``label`` [N]."""
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(0)
    centres = torch.randn(3, dim, generator=gen)
    for p, processing in enumerate(EMBEDDING_PROCESSINGS):
        shift = torch.randn(dim, generator=gen) * 0.3
        for split, n in (("train", n_train), ("val", n_val)):
            labels = torch.arange(n) % 3
            vectors = centres[labels] + shift * p + 0.5 * torch.randn(n, dim, generator=gen)
            path = root / processing / embedding_name(split)
            path.parent.mkdir(parents=True, exist_ok=True)
            vectors = vectors.to(dtype or torch.float32).contiguous()
            save_file({"image_embeddings": vectors, "label": labels}, str(path))
    return root


Edit = Callable[[Any, Any, str], tuple[Any, Any]]  # (vectors, labels, split) -> new (vectors, labels)


def edit_embeddings(root: Path, edit: Edit, processings: Sequence[str] = EMBEDDING_PROCESSINGS) -> None:
    """Rewrite the files of ``processings`` in an embedding folder with ``edit``."""
    from safetensors.torch import load_file, save_file

    for processing in processings:
        for split in ("train", "val"):
            path = root / processing / embedding_name(split)
            tensors = load_file(str(path))
            vectors, labels = edit(tensors["image_embeddings"].clone(), tensors["label"].clone(), split)
            save_file({"image_embeddings": vectors.contiguous(), "label": labels.contiguous()}, str(path))


def mount_tmpfs(folder: Path, size: str = "64k") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        raise Skip(f"cannot mount a tmpfs here: {error}") from None
    if done.returncode != 0:
        raise Skip(f"cannot mount a tmpfs here: {(done.stderr or done.stdout).strip()[:120]}")


def unmount(folder: Path) -> None:
    if folder.is_mount():
        subprocess.run(["umount", str(folder)], capture_output=True, timeout=30)


def fill(folder: Path) -> None:
    """Write a file into ``folder`` until its file system is full."""
    with contextlib.suppress(OSError), open(folder / "filler", "wb") as handle:
        while True:
            handle.write(b"\0" * 4096)
            handle.flush()


def fixture(ctx: Context, name: str, build: Callable[[Path], None]) -> Path:
    """A shared input, built once per campaign under WORK/fixtures (cases copy it)."""
    if name not in ctx.fixtures:
        folder = ctx.work / "fixtures" / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        build(folder)
        ctx.fixtures[name] = folder
    return ctx.fixtures[name]


def good_results(ctx: Context) -> Path:
    """The result JSONs of a good run (for the ``trace-bench report`` cases)."""

    def build(folder: Path) -> None:
        good_folder(folder / "ds")
        prepared(ctx, run_cmd(), folder)

    return fixture(ctx, "results", build) / "out"


# ---------------------------------------------------------------------------------------------
# What was written (for the checks of silent outcomes)


def result_files(case_dir: Path, out: str = "out") -> list[Path]:
    root = case_dir / out
    return sorted(p for p in root.rglob("*.json") if p.name != "sweep.json") if root.is_dir() else []


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def results(case_dir: Path, out: str = "out") -> list[dict[str, Any]]:
    found = [read_json(path) for path in result_files(case_dir, out)]
    return [data for data in found if isinstance(data, dict) and "metrics" in data]


def printed_results(run: Run) -> int:
    """Result lines on stdout (trace-bench prints one per result file it wrote)."""
    return sum(1 for line in run.stdout.splitlines() if re.match(r"^\S+\s+\S+\s+seed -?\d+: ", line))


def cache_entries(cache: Path) -> list[dict[str, Any]]:
    """Every safetensors file of an embedding cache: its split and image ids, or why it cannot be read."""
    from safetensors import safe_open

    entries = []
    for path in sorted(cache.rglob("*.safetensors")) if cache.is_dir() else []:
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                for name in handle.keys():
                    handle.get_tensor(name)
            provenance = json.loads(metadata.get("provenance", "{}"))
            entries.append({"path": path, "split": provenance.get("split"), "ids": json.loads(metadata["ids"])})
        except Exception as error:  # noqa: BLE001 - an unreadable file is what this looks for
            entries.append({"path": path, "error": f"{type(error).__name__}: {error}"})
    return entries


def cache_ids(cache: Path) -> set[str]:
    return {i for entry in cache_entries(cache) for i in entry.get("ids", ())}


def non_finite_metrics(case_dir: Path) -> list[str]:
    bad = []
    for path in result_files(case_dir):
        data = read_json(path)
        for name, value in ((data.get("metrics") or {}) if isinstance(data, dict) else {}).items():
            if isinstance(value, float) and not math.isfinite(value):
                bad.append(f"{path.relative_to(case_dir)}:{name}={value}")
    return bad


def files_of(folder: Path) -> frozenset[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(folder):
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        found.update(os.path.relpath(os.path.join(dirpath, name), folder) for name in filenames + links)
    return frozenset(found)


def written_outside(case_dir: Path, run: Run, allowed: Sequence[str]) -> list[str]:
    new = files_of(case_dir) - run.before
    return sorted(p for p in new if not any(p == a or p.startswith(a + "/") for a in allowed))


def said(run: Run, *words: str) -> bool:
    text = (run.stdout + run.stderr).lower()
    return any(word.lower() in text for word in words)


# ---------------------------------------------------------------------------------------------
# Cases

Check = Callable[[Path, Run], "str | None"]
Setup = Callable[[Path, Context], None]


@dataclass
class Case:
    id: str
    category: str
    args: list[str] | Callable[[Path], list[str]]
    setup: Setup | None = None
    expect: Check | None = None  # why this run's success is wrong (outcome silent), or None
    runner: Callable[[Case, Path, Context], Run] | None = None  # instead of one trace-bench command
    teardown: Callable[[Path], None] | None = None
    remark: Check | None = None  # a note on any outcome (an error that does not name the bad file)
    ok_codes: tuple[int, ...] = (0,)
    allowed: tuple[str, ...] = ("out", "C")  # where the command may create files (else: silent)
    note: str = ""

    def command(self, case_dir: Path) -> list[str]:
        return self.args(case_dir) if callable(self.args) else list(self.args)


def with_ds(**layout: Any) -> Setup:
    """Setup: a good class folder ds/ (default: classes a and b, 6 images each)."""

    def setup(case_dir: Path, ctx: Context) -> None:
        good_folder(case_dir / "ds", **layout)

    return setup


def then(first: Setup, more: Callable[[Path], None]) -> Setup:
    """Setup: ``first``, then ``more(case_dir)``."""

    def setup(case_dir: Path, ctx: Context) -> None:
        first(case_dir, ctx)
        more(case_dir)

    return setup


def exit0(check: Check) -> Check:
    """``check`` only when the command exited 0."""
    return lambda case_dir, run: check(case_dir, run) if run.rc == 0 else None


def accepted(what: str) -> Check:
    """Success is wrong: ``what`` should have been refused."""
    return exit0(lambda case_dir, run: f"exit 0: {what}")


def unless_said(words: Sequence[str], why: str) -> Check:
    """Success is wrong unless the output says one of ``words``."""
    return exit0(lambda case_dir, run: None if said(run, *words) else why)


def bad_image_cases() -> list[Case]:
    """One bad file in class a/ of a good two-class folder, through run, extract and knn."""
    cases = []
    for key, stem, suffix, write, kind in BAD_IMAGES:
        relative = f"a/{train_name(stem, suffix)}"

        def check(case_dir: Path, run: Run, relative: str = relative, kind: str = kind) -> str | None:
            if run.rc != 0:
                return None
            named = said(run, Path(relative).name)
            embedded = relative in cache_ids(case_dir / "C")
            if kind == VALID and not embedded and not named:
                return f"exit 0, the readable image {relative} left out without a word"
            if kind == CORRUPT and not named:
                return f"exit 0, the bad file {relative} {'embedded' if embedded else 'left out'} without a word"
            return None

        def unnamed(case_dir: Path, run: Run, relative: str = relative) -> str | None:
            return f"the error does not name {relative}" if run.rc != 0 and not said(run, Path(relative).name) else None

        setup = then(with_ds(), lambda case_dir, write=write, relative=relative: write(case_dir / "ds" / relative))
        for command, args in (("run", run_cmd()), ("extract", extract_cmd()), ("knn", knn_cmd())):
            case = Case(f"image-{key}-{command}", "bad-images", args, setup, check, remark=unnamed, note=relative)
            cases.append(case)
    return cases


def layout_cases() -> list[Case]:
    def standard(case_dir: Path, ctx: Context) -> None:
        split_folder(case_dir / "ds", {"train": ("a", "b"), "val": ("a", "b")})

    def extra_top(case_dir: Path, ctx: Context) -> None:
        split_folder(case_dir / "ds", {"train": ("a", "b"), "val": ("a", "b"), "misc": ("a", "b")})

    def mixed_splits(case_dir: Path, run: Run) -> str | None:
        for entry in cache_entries(case_dir / "C"):
            tops = sorted({i.split("/", 1)[0] for i in entry.get("ids", ())})
            if len(set(tops) & {"train", "val", "misc"}) > 1:
                return f"exit 0, its {entry['split']} split mixes {', '.join(tops)}/ (top folders taken as classes)"
        return None

    def stray(case_dir: Path) -> None:
        (case_dir / "ds" / "stray.jpg").write_bytes(jpeg_bytes(40))

    def stray_check(case_dir: Path, run: Run) -> str | None:
        if not any(r.get("task") == "knn" for r in results(case_dir)) and not said(run, "stray.jpg"):
            return "exit 0, one image at the root dropped every class (no kNN result) and is not named"
        return None

    def unseen_val_class(case_dir: Path, ctx: Context) -> None:
        split_folder(case_dir / "ds", {"train": ("a", "b"), "val": ("a", "b", "zebra")})

    def one_class(case_dir: Path, run: Run) -> str | None:
        if any(r.get("task") == "knn" for r in results(case_dir)) and not said(run, "one class", "single class"):
            return "exit 0, a kNN result over a single class (trivially right) without a word"
        return None

    def few_images(case_dir: Path, ctx: Context) -> None:
        split_folder(case_dir / "ds", {"train": ("a", "b"), "val": ("a", "b")}, per_class=3)

    def k_check(case_dir: Path, run: Run) -> str | None:
        for result in results(case_dir):
            k10 = any("@k10" in metric for metric in result["metrics"])
            if result.get("task") == "knn" and k10 and not said(run, "k=10", "fewer than"):
                return "exit 0, kNN@k10 reported on a database of 6 images without a word"
        return None

    def non_images(case_dir: Path, ctx: Context) -> None:
        for name in ("a/readme.txt", "a/labels.csv", "b/notes.md"):
            (case_dir / "ds" / name).parent.mkdir(parents=True, exist_ok=True)
            (case_dir / "ds" / name).write_text("not an image\n")

    def nested(case_dir: Path, ctx: Context) -> None:
        good_folder(case_dir / "ds" / "a", ("x", "y"), 3)
        good_folder(case_dir / "ds" / "b", ("x", "z"), 3, seed=2)

    def train_test(case_dir: Path, ctx: Context) -> None:
        split_folder(case_dir / "ds", {"train": ("a", "b"), "test": ("a", "b")})

    def appledouble(case_dir: Path) -> None:  # macOS leaves ._NAME beside NAME on foreign disks
        (case_dir / "ds" / "a" / "._0.jpg").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X" + b"\0" * 72)

    def loop(case_dir: Path) -> None:
        (case_dir / "ds" / "a" / "loop").symlink_to("..", target_is_directory=True)

    def embedded_lines(run: Run) -> int:
        return sum(1 for line in run.stdout.splitlines() if re.search(r"\(\d+, \d+\)", line))

    def embedded_some(case_dir: Path, run: Run) -> str | None:
        return None if run.rc != 0 or embedded_lines(run) else "exit 0 but nothing embedded"

    ds, empty = with_ds(), lambda case_dir, ctx: (case_dir / "ds").mkdir()
    cat = "layouts"
    # fmt: off
    return [
        Case("layout-control-train-val", cat, run_cmd(), standard),
        Case("layout-extra-top-folder-misc", cat, run_cmd(), extra_top, exit0(mixed_splits)),
        Case("layout-stray-root-image", cat, run_cmd(), then(ds, stray), exit0(stray_check)),
        Case("layout-val-class-missing-from-train", cat, run_cmd(), unseen_val_class,
             unless_said(["zebra"], "exit 0, the val class zebra/ (absent from train/) not named")),
        Case("layout-one-class", cat, run_cmd(), with_ds(classes=("a",), per_class=30), exit0(one_class)),
        Case("layout-fewer-than-k-images-knn", cat, knn_cmd(), few_images, exit0(k_check)),
        Case("layout-empty-folder", cat, run_cmd(), empty, accepted("an empty folder")),
        Case("layout-only-non-images", cat, run_cmd(), non_images, accepted("a folder without images")),
        Case("layout-nested-class-folders", cat, run_cmd(), nested),
        Case("layout-train-test-no-val", cat, run_cmd(), train_test),
        Case("layout-macos-appledouble", cat, run_cmd(), then(ds, appledouble),
             unless_said(["._0.jpg"], "exit 0, the AppleDouble file a/._0.jpg not named")),
        Case("layout-symlink-loop", cat, run_cmd(), then(ds, loop)),
        Case("layout-dataset-empty-string", cat, run_cmd(""), ds, accepted("--dataset '' ran on the current folder")),
        Case("layout-dataset-is-a-file", cat, run_cmd("ds/a/0.jpg"), ds),
        Case("layout-extract-split-val", cat, extract_cmd("ds", "--split", "val"), standard, embedded_some),
        Case("layout-extract-split-validation", cat, extract_cmd("ds", "--split", "validation"), standard,
             embedded_some),
    ]
    # fmt: on


def embedding_cases() -> list[Case]:
    import torch

    def folder(*edits: Callable[[Path], None], **options: Any) -> Setup:
        def setup(case_dir: Path, ctx: Context) -> None:
            embeddings_folder(case_dir / "E", **options)
            for edit in edits:
                edit(case_dir / "E")

        return setup

    target = Path("SHARPEN_2") / embedding_name("train")

    def truncate(root: Path) -> None:
        data = (root / target).read_bytes()
        (root / target).write_bytes(data[: len(data) // 2])

    def replace_with(data: bytes) -> Callable[[Path], None]:
        return lambda root: (root / target).write_bytes(data)

    def fifo(root: Path) -> None:
        (root / target).unlink()
        os.mkfifo(root / target)

    def directory(root: Path) -> None:
        (root / target).unlink()
        (root / target).mkdir()

    def edited(edit: Edit, processings: Sequence[str] = EMBEDDING_PROCESSINGS) -> Callable[[Path], None]:
        return lambda root: edit_embeddings(root, edit, processings)

    def poison(value: float) -> Callable[[Path], None]:
        def edit(vectors, labels, split):
            vectors[0, 0] = value
            return vectors, labels

        return edited(edit, ["SHARPEN_2"])

    def label(value: int) -> Callable[[Path], None]:
        def edit(vectors, labels, split):
            if split == "train":
                labels[0] = value
            return vectors, labels

        return edited(edit)

    shorter = edited(lambda vectors, labels, split: (vectors, labels[:-1]), ["SHARPEN_2"])
    shuffled = edited(lambda vectors, labels, split: (vectors, labels.roll(1)), ["SHARPEN_4"])
    narrow_val = edited(lambda vectors, labels, split: (vectors[:, :8] if split == "val" else vectors, labels))
    empty = edited(lambda vectors, labels, split: (vectors[:0], labels[:0]))
    non_finite = unless_said(["nan", "inf", "finite"], "exit 0, results from NaN/inf embeddings without a word")
    zero = accepted("results from 0 images")
    pickled = pickle.dumps({"image_embeddings": np.zeros((24, 16), np.float32), "label": np.arange(24)})
    knn, probe = "embeddings-knn", "embeddings-probe"
    knn_e, probe_e = knn_embeddings_cmd(), probe_embeddings_cmd()
    # fmt: off
    return [
        Case("emb-knn-control", knn, knn_e, folder()),
        Case("emb-knn-truncated-file", knn, knn_e, folder(truncate)),
        Case("emb-knn-text-file", knn, knn_e, folder(replace_with(b"not a tensor file\n"))),
        Case("emb-knn-pickle-file", knn, knn_e, folder(replace_with(pickled))),
        Case("emb-knn-fifo-file", knn, knn_e, folder(fifo)),
        Case("emb-knn-directory-named-file", knn, knn_e, folder(directory)),
        Case("emb-knn-nan", knn, knn_e, folder(poison(float("nan"))), non_finite),
        Case("emb-knn-inf", knn, knn_e, folder(poison(float("inf"))), non_finite),
        Case("emb-knn-label-50M", knn, knn_e, folder(label(50_000_000))),
        Case("emb-knn-label-negative", knn, knn_e, folder(label(-1))),
        Case("emb-knn-labels-shorter", knn, knn_e, folder(shorter)),
        Case("emb-knn-labels-differ-across-folders", knn, knn_e, folder(shuffled)),
        Case("emb-knn-train-val-dims-differ", knn, knn_e, folder(narrow_val)),
        Case("emb-knn-float16", knn, knn_e, folder(dtype=torch.float16)),
        Case("emb-knn-empty-tensors", knn, knn_e, folder(empty), zero),
        Case("emb-knn-and-model", knn, knn_embeddings_cmd("--model", ENCODER), folder(),
             accepted("--embeddings with --model")),
        Case("emb-probe-control", probe, probe_e, folder()),
        Case("emb-probe-nan", probe, probe_e, folder(poison(float("nan"))), non_finite),
        Case("emb-probe-label-50M", probe, probe_e, folder(label(50_000_000))),
        Case("emb-probe-train-val-dims-differ", probe, probe_e, folder(narrow_val)),
        Case("emb-probe-empty-tensors", probe, probe_e, folder(empty), zero),
    ]
    # fmt: on


def cache_cases() -> list[Case]:
    def ran_first(args: list[str]) -> Setup:
        def setup(case_dir: Path, ctx: Context) -> None:
            good_folder(case_dir / "ds")
            prepared(ctx, args, case_dir)

        return setup

    def truncate_cache(args: list[str]) -> Setup:
        def setup(case_dir: Path, ctx: Context) -> None:
            ran_first(args)(case_dir, ctx)
            victim = sorted((case_dir / "C").rglob("*.safetensors"))[0]
            victim.write_bytes(victim.read_bytes()[:100])
            (case_dir / "victim").write_text(str(victim.relative_to(case_dir)))

        return setup

    def healed(case_dir: Path, run: Run) -> str | None:
        victim = (case_dir / "victim").read_text()
        broken = [e for e in cache_entries(case_dir / "C") if "error" in e and str(e["path"]).endswith(victim)]
        if run.rc == 0 and broken and not said(run, Path(victim).name):
            return f"exit 0, the truncated cache file {victim} left as it was and not named"
        return None

    def partial_chunk(case_dir: Path, ctx: Context) -> None:
        ran_first(extract_cmd())(case_dir, ctx)
        final = sorted((case_dir / "C").rglob("*.safetensors"))[0]
        partial = final.with_suffix(".partial")
        partial.mkdir()
        (partial / "chunk-000000.safetensors").write_bytes(final.read_bytes()[:200])
        final.unlink()

    def cache_sound(case_dir: Path, run: Run) -> str | None:
        if run.rc != 0:
            return None
        bad = [f"{e['path'].name}: {e['error']}" for e in cache_entries(case_dir / "C") if "error" in e]
        left = [f"leftover {p.name}" for p in (case_dir / "C").rglob("*") if p.suffix in (".tmp", ".partial")]
        return ("exit 0 but the cache holds " + "; ".join(bad + left))[:220] if bad or left else None

    def concurrent(case: Case, case_dir: Path, ctx: Context) -> Run:
        started = [Process(ctx, case.command(case_dir), case_dir) for _ in range(2)]
        runs = [process.wait() for process in started]
        worst = next((r for r in runs if r.rc != 0), runs[0])
        return Run(
            worst.rc,
            "\n".join(r.stdout for r in runs),
            "\n".join(r.stderr for r in runs),
            max(r.seconds for r in runs),
            max(r.peak_mb or 0 for r in runs),
            any(r.timed_out for r in runs),
            any(r.memory_killed for r in runs),
        )

    def truncated_result(case_dir: Path, ctx: Context) -> None:
        ran_first(run_cmd())(case_dir, ctx)
        victim = result_files(case_dir)[0]
        victim.write_text(victim.read_text()[:40])
        (case_dir / "victim").write_text(str(victim.relative_to(case_dir)))

    def result_kept_corrupt(case_dir: Path, run: Run) -> str | None:
        victim = case_dir / (case_dir / "victim").read_text()
        if run.rc == 0 and read_json(victim) is None and not said(run, victim.name):
            return f"exit 0, the truncated result {victim.name} kept as done and not named"
        return None

    def results_with(add: Callable[[Path], None] | None = None, good: bool = True) -> Setup:
        def setup(case_dir: Path, ctx: Context) -> None:
            if good:
                shutil.copytree(good_results(ctx), case_dir / "R")
            else:
                (case_dir / "R").mkdir()
            if add:
                add(case_dir / "R")

        return setup

    def named(name: str) -> Check:
        return unless_said([name], f"exit 0, {name} skipped without a word")

    def written(name: str, text: str) -> Callable[[Path], None]:
        return lambda root: (root / name).write_text(text)

    cat, report, r = "caches-results", ["report", "R"], ("R",)
    thin = '{"task": "knn", "target": "jpeg", "metrics": {}}\n'
    empty_report = unless_said(["no result"], "exit 0, an empty results folder reported without a word")
    # fmt: off
    return [
        Case("cache-truncated-file-rerun-run", cat, run_cmd(), truncate_cache(run_cmd()), healed),
        Case("cache-truncated-file-rerun-extract", cat, extract_cmd(), truncate_cache(extract_cmd()), healed),
        Case("cache-partial-truncated-chunk", cat, extract_cmd(), partial_chunk, cache_sound),
        Case("cache-concurrent-extract", cat, extract_cmd(), with_ds(per_class=40), cache_sound, runner=concurrent,
             note="two extracts started together on one empty cache"),
        Case("results-skip-existing-truncated-json", cat, run_cmd("ds", "--skip-existing"), truncated_result,
             result_kept_corrupt),
        Case("report-control", cat, report, results_with(), allowed=r),
        Case("report-corrupt-json", cat, report, results_with(written("broken.json", '{"task": "kn')),
             named("broken.json"), allowed=r),
        Case("report-fifo-json", cat, report, results_with(lambda root: os.mkfifo(root / "r.json")), allowed=r),
        Case("report-json-list", cat, report, results_with(written("list.json", "[1, 2, 3]\n")), allowed=r),
        Case("report-json-missing-keys", cat, report, results_with(written("thin.json", thin), good=False),
             allowed=r),
        Case("report-empty-folder", cat, report, results_with(good=False), empty_report, allowed=r),
        Case("report-missing-folder", cat, report, None, accepted("a results folder that does not exist"),
             allowed=r),
    ]
    # fmt: on


def option_cases() -> list[Case]:
    def overwritten(case_dir: Path, run: Run) -> str | None:
        files, printed = result_files(case_dir), printed_results(run)
        if run.rc == 0 and printed > len(files):
            return f"exit 0, {printed} results printed but {len(files)} files: later results overwrote earlier ones"
        return None

    def outside(case_dir: Path, run: Run) -> str | None:
        found = written_outside(case_dir, run, ("out", "C"))
        return f"wrote outside --out: {', '.join(found)[:150]}" if found else None

    def outside_or_overwritten(case_dir: Path, run: Run) -> str | None:
        return outside(case_dir, run) or overwritten(case_dir, run)

    def text_file(name: str) -> Callable[[Path], None]:
        return lambda case_dir: (case_dir / name).write_text("I am a text file\n")

    def read_only(case_dir: Path) -> None:
        (case_dir / "ro").mkdir()
        (case_dir / "ro").chmod(0o555)

    def restore(case_dir: Path) -> None:
        with contextlib.suppress(OSError):
            (case_dir / "ro").chmod(0o755)

    def standard(case_dir: Path, ctx: Context) -> None:
        split_folder(case_dir / "ds", {"train": ("a", "b"), "val": ("a", "b")})

    def absolute(case_dir: Path) -> list[str]:
        return run_cmd("ds", "--name-template", f"{case_dir}/abs/{{task}}-{{seed}}.json")

    cat, ds = "options", with_ds()
    no_seed = ["--name-template", "{encoder}/{task}-{target}.json", "--seed", "0", "--seed", "1"]
    # fmt: off
    return [
        Case("opt-control", cat, run_cmd(), ds),
        Case("opt-control-effnet-lite0", cat, run_cmd(model=PRETRAINED), ds),
        Case("opt-device-cuda-without-gpu", cat, run_cmd("ds", "--device", "cuda"), ds,
             accepted("--device cuda without a GPU")),
        Case("opt-device-nonsense", cat, run_cmd("ds", "--device", "nonsense"), ds),
        Case("opt-batch-size-0", cat, run_cmd("ds", "--batch-size", "0"), ds),
        Case("opt-batch-size-negative", cat, run_cmd("ds", "--batch-size", "-1"), ds),
        Case("opt-workers-negative", cat, run_cmd("ds", "--workers", "-1"), ds),
        Case("opt-split-nosuch", cat, run_cmd("ds", "--split", "nosuch"), ds, accepted("--split nosuch ignored")),
        Case("opt-config-nosuch-image-folder", cat, run_cmd("ds", "--config", "nosuch"), ds,
             accepted("--config nosuch ignored")),
        Case("opt-encoder-precision-nosuch", cat, run_cmd("ds", "--encoder-precision", "nosuch"), ds),
        Case("opt-extract-dataset-empty-string", cat, extract_cmd(""), ds,
             accepted("--dataset '' ran on the current folder")),
        Case("opt-name-template-without-seed", cat, run_cmd("ds", *no_seed), ds, overwritten),
        Case("opt-name-template-absolute", cat, absolute, ds, outside),
        Case("opt-name-template-escape", cat, run_cmd("ds", "--name-template", "../escape/{seed}.json"), ds,
             outside_or_overwritten),
        Case("opt-name-template-unknown-field", cat, run_cmd("ds", "--name-template", "{nope}.json"), ds),
        Case("opt-out-is-a-file", cat, run_cmd(), then(ds, text_file("out"))),
        Case("opt-out-in-read-only-folder", cat, run_cmd("ds", "--out", "ro/out"), then(ds, read_only),
             teardown=restore, allowed=("ro", "C"), note="as root: permissions not enforced" if IS_ROOT else ""),
        Case("opt-cache-is-a-file", cat, run_cmd(), then(ds, text_file("C"))),
        Case("opt-model-nosuch", cat, run_cmd(model="nosuch"), ds),
        Case("opt-mask-ratio-1.5-run", cat, run_cmd("ds", "--mask-ratio", "1.5"), ds,
             accepted("--mask-ratio 1.5 accepted")),
        Case("opt-mask-ratio-1.5-extract", cat, extract_cmd("ds", "--mask-ratio", "1.5"), ds,
             accepted("--mask-ratio 1.5 accepted")),
        Case("opt-probe-refits-0", cat, run_cmd("ds", "--probe-refits", "0"), standard,
             accepted("--probe-refits 0 accepted")),
        Case("opt-probe-tune-epochs-0", cat, run_cmd("ds", "--probe-tune-epochs", "0"), ds,
             accepted("--probe-tune-epochs 0 accepted")),
        Case("opt-seed-negative", cat, run_cmd("ds", "--seed", "-1"), ds),
        Case("opt-target-make-on-image-folder", cat, run_cmd("ds", "--target", "Make"), ds,
             accepted("--target Make on an image folder")),
        Case("opt-family-nosuch", cat, run_cmd("ds", "--family", "nosuch"), ds),
        Case("opt-executor-nosuch", cat, run_cmd("ds", "--executor", "nosuch"), ds),
        Case("opt-ray-workers-0", cat, run_cmd("ds", "--executor", "ray", "--ray-workers", "0"), ds,
             accepted("--ray-workers 0 accepted")),
        Case("opt-weights-missing-random", cat, run_cmd("ds", "--weights", "/missing.pt"), ds,
             accepted("--weights /missing.pt ignored")),
        Case("opt-weights-missing-effnet", cat, run_cmd("ds", "--weights", "/missing.pt", model=PRETRAINED), ds,
             accepted("--weights /missing.pt ignored")),
        Case("opt-weights-text-random", cat, run_cmd("ds", "--weights", "w.pt"), then(ds, text_file("w.pt")),
             accepted("a text file as --weights ignored")),
        Case("opt-weights-text-effnet", cat, run_cmd("ds", "--weights", "w.pt", model=PRETRAINED),
             then(ds, text_file("w.pt")), accepted("a text file as --weights ignored")),
    ]
    # fmt: on


GOOD_CARD = "---\nlicense: mit\npretty_name: Tiny\n---\n# Tiny\n\nA tiny test set.\n"
BROKEN_CARD = "---\nconfigs: [unclosed\n---\n# A card\n"
LIST_CARD = "---\n- one\n- two\n---\n# A card\n"


def hf_folder(root: Path, card: str | None = GOOD_CARD, label: bool = True) -> None:
    """A Hugging Face dataset folder: README.md (``card``) and parquet train/validation/test files with an
    image column and a ClassLabel ``label`` column (unless ``label`` is false)."""
    import datasets

    datasets.disable_progress_bars()
    features = {"image": datasets.Image()} | ({"label": datasets.ClassLabel(names=["a", "b"])} if label else {})
    (root / "data").mkdir(parents=True, exist_ok=True)
    for s, (split, n) in enumerate((("train", 24), ("validation", 8), ("test", 8))):
        rows: dict[str, list] = {"image": [{"bytes": jpeg_bytes(100 * s + i), "path": None} for i in range(n)]}
        if label:
            rows["label"] = [i % 2 for i in range(n)]
        table = datasets.Dataset.from_dict(rows, features=datasets.Features(features))
        table.to_parquet(str(root / "data" / f"{split}-00000-of-00001.parquet"))
    if card is not None:
        (root / "README.md").write_text(card)


def hf_cases() -> list[Case]:
    def card(text: str) -> Setup:
        return then(with_ds(), lambda case_dir: (case_dir / "ds" / "README.md").write_text(text))

    def parquet(text: str = GOOD_CARD, label: bool = True) -> Setup:
        return lambda case_dir, ctx: hf_folder(case_dir / "ds", text, label)

    cat = "hf-datasets"
    card_ignored = unless_said(["README"], "exit 0, the broken card README.md ignored without a word")
    # fmt: off
    return [
        Case("hf-control-parquet", cat, run_cmd(), parquet()),
        Case("hf-card-broken-yaml", cat, run_cmd(), card(BROKEN_CARD), card_ignored),
        Case("hf-card-yaml-list", cat, run_cmd(), card(LIST_CARD)),
        Case("hf-card-broken-yaml-parquet", cat, run_cmd(), parquet(BROKEN_CARD), card_ignored),
        Case("hf-parquet-no-label-column", cat, run_cmd(), parquet(label=False)),
        Case("hf-config-nosuch", cat, run_cmd("ds", "--config", "nosuch"), parquet(),
             accepted("--config nosuch on a dataset folder")),
    ]
    # fmt: on


def interrupt(delay: float, ready: Callable[[Process], bool] | None = None) -> Callable[[Case, Path, Context], Run]:
    """A runner: SIGINT to the command's process group (as Ctrl-C) ``delay`` seconds after its start, or
    after ``ready(process)`` first holds."""

    def runner(case: Case, case_dir: Path, ctx: Context) -> Run:
        process = Process(ctx, case.command(case_dir), case_dir)
        while ready and not ready(process) and not process.poll():
            if time.monotonic() - process.started > ctx.timeout:
                break
            time.sleep(0.05)
        origin = time.monotonic()
        while time.monotonic() - origin < delay and not process.poll():
            time.sleep(0.05)
        if process.poll():
            run = process.wait()
            run.broken = f"finished (exit {run.rc}) before the SIGINT"
            return run
        process.signal_group(signal.SIGINT)
        return process.wait()

    return runner


def encoder_loaded(process: Process) -> bool:
    """``run`` says so on stderr."""
    return "Encoder " in process.stderr_so_far()


def embedding(process: Process) -> bool:
    """``extract`` prints nothing until it ends: past 1 GB resident its encoder is loaded and embedding."""
    return process.resident_mb() > 1000


def signal_cases() -> list[Case]:
    def interrupted(case_dir: Path, run: Run) -> str | None:
        if run.rc == 0:
            return "exit 0: the SIGINT was ignored, the command ran to its end"
        return "exit 130 without the Interrupted line" if run.rc == 130 and not said(run, "Interrupted") else None

    def full_disk(fill_it: bool) -> Setup:
        def setup(case_dir: Path, ctx: Context) -> None:
            good_folder(case_dir / "ds", per_class=20)
            mount_tmpfs(case_dir / "mnt")
            if fill_it:
                fill(case_dir / "mnt")

        return setup

    def cache_on_full_disk(case_dir: Path, run: Run) -> str | None:
        bad = [e["path"].name for e in cache_entries(case_dir / "mnt" / "C") if "error" in e]
        return f"a corrupt cache file left on the full disk: {', '.join(bad)}" if bad else None

    def out_on_full_disk(case_dir: Path, run: Run) -> str | None:
        files = result_files(case_dir, "mnt/out")
        broken = [p.name for p in files if not isinstance(read_json(p), dict)]
        if run.rc == 0 and (broken or printed_results(run) > len(files)):
            return f"exit 0 on a full disk: {len(files)} result files, unreadable: {', '.join(broken) or 'none'}"
        return None

    cat, bigger, unmounted = "signals-disks", with_ds(per_class=60), lambda case_dir: unmount(case_dir / "mnt")
    sharpening = run_cmd("ds", "--family", "sharpening")
    # fmt: off
    return [
        Case("sigint-run-at-3s", cat, sharpening, bigger, interrupted, runner=interrupt(3.0), ok_codes=(130,)),
        Case("sigint-run-1s-into-embedding", cat, sharpening, bigger, interrupted,
             runner=interrupt(1.0, encoder_loaded), ok_codes=(130,)),
        Case("sigint-extract-at-3s", cat, extract_cmd("ds", "--variant", "jpeg/all"), bigger, interrupted,
             runner=interrupt(3.0), ok_codes=(130,)),
        Case("sigint-extract-1s-into-embedding", cat, extract_cmd("ds", "--variant", "jpeg/all"), bigger, interrupted,
             runner=interrupt(1.0, embedding), ok_codes=(130,), note="SIGINT 1 s after passing 1 GB resident"),
        Case("disk-full-cache-tmpfs-64k", cat, run_cmd("ds", "--cache", "mnt/C"), full_disk(False),
             cache_on_full_disk, teardown=unmounted, allowed=("out", "mnt")),
        Case("disk-full-out-tmpfs-full", cat, run_cmd("ds", "--out", "mnt/out"), full_disk(True), out_on_full_disk,
             teardown=unmounted, allowed=("C", "mnt")),
    ]
    # fmt: on


def all_cases() -> list[Case]:
    groups = (bad_image_cases, layout_cases, embedding_cases, cache_cases, option_cases, hf_cases, signal_cases)
    return [case for group in groups for case in group()]


# ---------------------------------------------------------------------------------------------
# Outcomes

BOX_ONLY = re.compile(r"^[\s─━│┃╭╮╰╯┌┐└┘├┤┬┴┼═║╔╗╚╝]*$")
NOISE = re.compile(
    r"^(Encoder \S+ \(.*\), embedding dim \d+"  # the encoder loaded
    r"|.*\d+:\d\d:\d\d elapsed.*"  # trace-bench's progress lines
    r"|.*(examples/s|it/s|ba/s)\]?"  # datasets' progress bars
    r"|\d+ result files.* in .*)$"
)
EXCEPTION = re.compile(r"^[│\s]*([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)):?\s*(.*?)[│\s]*$")


def message_lines(stderr: str) -> list[str]:
    """stderr's message: non-empty lines without what a success prints too, a rich box as one line."""
    lines: list[str] = []
    in_box = False
    for raw in stderr.splitlines():
        line = raw.strip()
        if BOX_ONLY.match(line) or line.startswith(("╭", "╰")):  # a box's edges (the top one may hold a title)
            in_box = False
            continue
        if NOISE.match(line):
            continue
        boxed = line.startswith(("│", "┃"))
        line = line.strip("│┃ ")
        if boxed and in_box:
            lines[-1] += " " + line
            continue
        in_box = boxed
        lines.append(line)
    return lines


def exception_line(text: str) -> str:
    found = [match.group(0).strip("│ ") for line in text.splitlines() if (match := EXCEPTION.match(line))]
    return found[-1] if found else ""


def classify(case: Case, case_dir: Path, run: Run) -> tuple[str, str]:
    """(outcome, why) of a case's run."""
    if run.broken:
        return "broken", run.broken
    if run.memory_killed:
        return "memory", f"killed at {run.peak_mb or 0:.0f} MB resident (--memory-limit) after {run.seconds:.0f} s"
    if run.timed_out:
        return "hang", f"killed after {run.seconds:.0f} s"
    if "Traceback" in run.stdout + run.stderr:
        return "traceback", ""
    why = case.expect(case_dir, run) if case.expect else None
    if why is None and run.rc == 0:
        bad, outside = non_finite_metrics(case_dir), written_outside(case_dir, run, case.allowed)
        if bad:
            why = "exit 0 with non-finite metrics: " + ", ".join(bad)[:150]
        elif outside:
            why = "exit 0, wrote outside its folders: " + ", ".join(outside)[:150]
    if why:
        return "silent", why
    if run.rc in case.ok_codes:
        return "ok", ""
    return ("clean-error" if len(message_lines(run.stderr)) <= 3 else "long-error"), ""


def fresh_folder(folder: Path) -> None:
    if folder.exists():
        for path in [folder, *folder.rglob("*")]:  # a case may have left a folder read-only
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    path.chmod(0o755)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def run_case(case: Case, ctx: Context) -> dict[str, Any]:
    case_dir = ctx.work / "cases" / case.id
    fresh_folder(case_dir)
    args = case.command(case_dir)
    record: dict[str, Any] = {
        "id": case.id,
        "category": case.category,
        "command": "trace-bench " + short_command(args),
        "full_command": "trace-bench " + shlex.join(args),
        "note": case.note,
        "exit": None,
        "why": "",
        "remark": "",
    }
    try:
        try:
            if case.setup:
                case.setup(case_dir, ctx)
            before = files_of(case_dir)
            run = case.runner(case, case_dir, ctx) if case.runner else trace_bench(ctx, args, case_dir)
            run.before = before
            outcome, why = classify(case, case_dir, run)
            remark = case.remark(case_dir, run) if case.remark and outcome not in ("hang", "memory") else None
        finally:
            if case.teardown:
                case.teardown(case_dir)
    except Skip as error:
        return record | {"outcome": "skipped", "why": str(error), "message": str(error)}
    except Exception as error:  # noqa: BLE001 - a case that cannot be built is reported, not fatal
        message = f"{type(error).__name__}: {error}"
        return record | {"outcome": "broken", "why": message, "message": message}
    lines = message_lines(run.stderr)
    if outcome in ("hang", "memory", "broken"):
        message = why
    elif outcome == "traceback":
        message = exception_line(run.stdout + run.stderr)
    else:  # the first line, past Typer's "Usage: ..." and "Try ... --help" lines
        message = next((line for line in lines if not line.startswith(("Usage: ", "Try '"))), "")
    return record | {
        "exit": run.rc,
        "outcome": outcome,
        "why": why,
        "remark": remark or "",
        "message": message,
        "seconds": round(run.seconds, 1),
        "peak_mb": round(run.peak_mb) if run.peak_mb else None,
        "stderr": run.stderr[-4000:],
        "stdout": run.stdout[-2000:],
    }


# ---------------------------------------------------------------------------------------------
# Report


def clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(records: list[dict[str, Any]]) -> None:
    header = f"{'case':40} {'category':16} {'command':56} {'exit':>4} {'outcome':11} {'MB':>5}  stderr (first line)"
    print(header)
    print("-" * len(header))
    for r in records:
        exit_code = "" if r["exit"] is None else str(r["exit"])
        peak = str(r.get("peak_mb") or "")
        print(
            f"{clip(r['id'], 40):40} {r['category']:16} {clip(r['command'], 56):56} {exit_code:>4} "
            f"{r['outcome']:11} {peak:>5}  {clip(r['message'], 100)}"
        )
        if r["why"] and r["why"] != r["message"]:
            print(f"{'':40}   -> {clip(r['why'], 160)}")
        if r["remark"]:
            print(f"{'':40}   (note: {clip(r['remark'], 160)})")


def totals(records: list[dict[str, Any]]) -> dict[str, Any]:
    per_category: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        per_category[r["category"]][r["outcome"]] += 1
    overall = Counter(r["outcome"] for r in records)
    return {
        "cases": len(records),
        "overall": {o: overall[o] for o in OUTCOMES if overall[o]},
        "per_category": {c: {o: n[o] for o in OUTCOMES if n[o]} for c, n in per_category.items()},
    }


def print_totals(summary: dict[str, Any]) -> None:
    print()
    print(f"{summary['cases']} cases: " + ", ".join(f"{o} {n}" for o, n in summary["overall"].items()))
    for category, counts in summary["per_category"].items():
        print(f"  {category:16} " + ", ".join(f"{o} {n}" for o, n in counts.items()))


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, help="Folder for the inputs and outputs (default: a new temporary one).")
    parser.add_argument("--pythonpath", type=Path, help="PYTHONPATH of the commands: another checkout of the code.")
    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds before a case counts as a hang.")
    parser.add_argument(
        "--memory-limit", type=float, default=6.0, help="GB of resident memory past which a case is killed (0: none)."
    )
    parser.add_argument("--only", help="Run only the cases whose id contains this.")
    parser.add_argument("--list", action="store_true", help="List the cases and exit.")
    parser.add_argument("--json", type=Path, help="Also write the table and the totals as JSON to this file.")
    args = parser.parse_args()
    # Commands inherit an ignored SIGINT (as under nohup or `cmd &`) and would ignore the Ctrl-C cases' signal.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    cases = [case for case in all_cases() if not args.only or args.only in case.id]
    if args.list:
        for case in cases:
            print(f"{case.id:40} {case.category:16} trace-bench {short_command(case.command(Path('CASE')))}")
        print(f"{len(cases)} cases")
        return

    work = (args.work or Path(tempfile.mkdtemp(prefix="hostile-trace-bench-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        "COLUMNS": "200",
        "HF_DATASETS_CACHE": str(work / "hf-datasets-cache"),
    }
    if args.pythonpath:
        env["PYTHONPATH"] = str(args.pythonpath.resolve())
    ctx = Context(sys.executable, env, args.timeout, work, args.memory_limit * 1024)
    print(f"{len(cases)} cases in {work} (code: {args.pythonpath or 'this environment'})", file=sys.stderr)

    records = []
    for index, case in enumerate(cases, 1):
        record = run_case(case, ctx)
        records.append(record)
        print(
            f"[{index}/{len(cases)}] {case.id}: {record['outcome']} (exit {record['exit']}, "
            f"{record.get('seconds', 0)} s) {clip(record['why'] or record['message'], 110)}",
            file=sys.stderr,
            flush=True,
        )
    print()
    print_table(records)
    summary = totals(records)
    print_totals(summary)
    if args.json:
        pythonpath = str(args.pythonpath or "")
        args.json.write_text(
            json.dumps({"work": str(work), "pythonpath": pythonpath, **summary, "records": records}, indent=1)
        )
        print(f"Wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
