"""Every command README.md shows is run here, offline, in README order (or listed with a reason).

The README's ```bash blocks are parsed (backslash continuations joined, comments dropped,
``VAR=value cmd`` prefixes and ``> FILE`` redirections understood) and each command is run with the
venv's console scripts in a fresh work folder, one after the other, so that each finds what the
previous ones made: crawl → download → status → export → build → release → push, PairCams ingest →
release → push, then trace-bench.  The README's own relative names (``flickrexif.db``, ``images/``,
``releases/``, ``my_pairs/``, ``my_images/``, ``results/`` ...) are real paths in that folder; the
few placeholders are replaced as :func:`placeholders` and :data:`ENV_PLACEHOLDERS` say, and three
options as :data:`OPTION_CHANGES` says (each with its reason).
Flickr is the loopback stand-in (``FLICKR_API_URL``) and the Hub a loopback Hub (``HF_ENDPOINT``,
flickrexif/testing/hub.py, which also serves the downloads of ``load_dataset``).  Each
command's exit code and one meaningful output are checked (:data:`CHECKS`); no command may print a
traceback.  Encoders whose weights the loopback Hub does not hold must fail with the one-line
"Missing weights" message (not found there, or how to get them).  The ```python blocks are run statement by statement; the
```toml block is checked as the crawler's config file.

``test_every_readme_command_is_run_or_listed`` (fast) fails when the README shows a command or a
Python statement that no check here covers and that is not in :data:`NOT_RUN`.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from flickrexif.testing import FlickrStandin, builtin_profiles, generate_photos, render_photo
from flickrexif.testing.hub import HubStandin

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BIN = Path(sys.executable).parent  # the venv's console scripts
CLIS = ("flickrexif", "paircams", "trace-bench")

# --- what is not run, and why (keep this short) ------------------------------------------------------

_BY_CI = "exercised by CI (.ci/run runs scripts/test.sh) and tests/test_quickstart.py"
NOT_RUN: dict[tuple[str, ...], str] = {
    ("scripts/quickstart.sh",): _BY_CI + " (too slow to run again here)",
    ("scripts/test.sh",): _BY_CI + " (it runs this very test: recursive)",
    **{
        ("python", f"scripts/{name}"): "performance benchmark printing the figures quoted in the issues "
        "(minutes each at the quoted sizes); run by hand, not by the test suite"
        for name in (
            "bench_exif.py",
            "bench_crawl.py",
            "bench_extract.py",
            "bench_build.py",
            "bench_probe.py",
            "bench_knn.py",
            "bench_retrieval.py",
            "bench_probe_precision.py",
            "bench_mitigate.py",
            "bench_extraction_floor.py",
            "bench_ray.py",
            "bench_sweep.py",
        )
    },
}

# --- README placeholders and the option changes ------------------------------------------------------

FLICKR_KEY, FLICKR_SECRET, HUB_TOKEN = "test-key", "readme-secret", "hf_readme"  # the stand-ins accept these
SAMPLE_PHOTO = "jpg/Nikon_D70.jpg"  # under ../shared/data/exif-samples: the README's example labels are this file's
README_SPECS = {"attributes": {"Make": {"top_k": 4, "min_photos": 25, "val_per_class": 3, "test_per_class": 5}}}


def placeholders(samples: Path | None) -> dict[str, list[str]]:
    """README argument → arguments the test passes (``...`` after paths means "more paths": dropped)."""
    mapping = {"...": [], "IMAGES_DIR": ["images"], "SPLITS_DIR": ["releases/v1.0.0/splits"]}
    mapping["scripts/labelled_photos.py"] = [str(REPO / "scripts" / "labelled_photos.py")]  # run from the work folder
    if samples is not None:
        mapping |= {"PHOTO.jpg": [str(samples / SAMPLE_PHOTO)], "FOLDER/": [str(samples)]}
    return mapping


ENV_PLACEHOLDERS = {"FLICKR_API_KEY": FLICKR_KEY, "FLICKR_API_SECRET": FLICKR_SECRET, "HF_TOKEN": HUB_TOKEN}

# (tool, subcommand) → (README option and value, what the test passes instead, why)
OPTION_CHANGES: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...], str]] = {
    ("flickrexif", "crawl"): (
        ("--rate", "3600"),
        ("--rate", "1000000"),
        "the stand-in is local; at Flickr's rate a crawl takes minutes",
    ),
    ("flickrexif", "build"): (
        (),
        ("--specs", "readme-specs.json"),
        "the default class sizes need thousands of photos per class",
    ),
    ("flickrexif", "release"): (
        (),
        ("--specs", "readme-specs.json"),
        "the default class sizes need thousands of photos per class",
    ),
}

OFFLINE_ENCODERS = ("effnet-lite0", "random:")  # everything else needs downloaded weights
# The README's own open_clip Hub model: a tiny random two-tower model the test pushes to the loopback Hub.
README_CLIP = "open_clip:hf-hub:my-org/my-clip"


# --- parsing README.md -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    lang: str
    body: str
    line: int


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    stdout: str | None = None
    line: int = 0

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(self.argv[:2]) if self.argv[0] in (*CLIS, "python") else self.argv[:1]

    def __str__(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env)
        text = f"{env} {shlex.join(self.argv)}".strip()
        return f"README.md:{self.line}: {text}" + (f" > {self.stdout}" if self.stdout else "")


_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SHELL_SYNTAX = {"|", "||", "&&", ";", "&", "<", ">>", "2>", "2>&1"}


def readme_blocks(text: str) -> list[Block]:
    blocks, current = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        if current is None:
            fence = _FENCE.match(line)
            if fence:
                current = (fence[2], number, [])
        elif line.strip() == "```":
            blocks.append(Block(current[0], textwrap.dedent("\n".join(current[2])), current[1]))
            current = None
        else:
            current[2].append(line)
    assert current is None, f"README.md:{current[1]}: code block never closed"
    return blocks


def parse_command(text: str, line: int) -> Command | None:
    words = shlex.split(text, comments=True)
    if not words:
        return None
    env, stdout = [], None
    while words and _ASSIGNMENT.match(words[0]) and words[0] != "export":
        name, _, value = words.pop(0).partition("=")
        env.append((name, value))
    if ">" in words:
        at = words.index(">")
        assert at == len(words) - 2, f"README.md:{line}: only a final '> FILE' redirection is understood: {text}"
        stdout = words[at + 1]
        words = words[:at]
    unknown = _SHELL_SYNTAX.intersection(words)
    assert not unknown, f"README.md:{line}: shell syntax {unknown} is not understood by this test: {text}"
    return Command(tuple(words), tuple(env), stdout, line)


def shell_commands(block: Block) -> list[Command]:
    commands, pending, start = [], "", 0
    for offset, raw in enumerate(block.body.splitlines(), start=1):
        if not pending:
            start = block.line + offset
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        command = parse_command(pending + raw, start)
        pending = ""
        if command is not None:
            commands.append(command)
    return commands


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def readme_commands(text: str) -> list[tuple[Block, list[Command]]]:
    """Shell blocks with their commands, in README order."""
    return [(b, shell_commands(b)) for b in readme_blocks(text) if b.lang in ("bash", "sh", "shell", "console")]


def inline_commands(text: str) -> list[Command]:
    """Commands shown in running text (`python scripts/...`), outside code blocks."""
    outside = re.sub(r"```.*?```", "", text, flags=re.S)
    return [
        parse_command(m[1], text[: text.find(m[0])].count("\n") + 1)
        for m in re.finditer(r"`(python scripts/[^`]+)`", outside)
    ]


def python_statements(block: Block) -> list[str]:
    return [ast.get_source_segment(block.body, node) for node in ast.parse(block.body).body]


# --- checks: one per command kind ----------------------------------------------------------------------


@dataclass
class Ran:
    command: Command
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    work: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def ok(self) -> None:
        assert self.returncode == 0, f"{self.command} exited {self.returncode}:\n{self.output[-3000:]}"


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern))


def check_crawl(r: Ran, ctx: Context) -> None:
    r.ok()
    kept = re.search(r"Crawl finished: (\d+) photos kept", r.output)
    assert kept and int(kept[1]) > 100, r.output[-2000:]


def check_download(r: Ran, ctx: Context) -> None:
    r.ok()
    assert "Downloads: {'done'" in r.output and len(_files(r.work / "images", "*/*")) > 100, r.output[-2000:]


def check_status(r: Ran, ctx: Context) -> None:
    r.ok()
    if "--json" in r.argv:
        status = json.loads((r.work / r.command.stdout).read_text())
        assert status["photos_kept"] > 100 and status["api_calls_total"] > 0, status
    else:
        assert re.search(r"photos kept.*\b\d{3}\b", r.stdout), r.stdout


def check_export(r: Ran, ctx: Context) -> None:
    r.ok()
    with (r.work / r.command.stdout).open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) > 100 and {"id", "make", "label_make", "download_status"} <= set(rows[0]), rows[:1]


def check_exif(r: Ran, ctx: Context) -> None:
    r.ok()
    fmt = r.argv[r.argv.index("--format") + 1] if "--format" in r.argv else "table"
    if fmt == "table":
        assert "Nikon" in r.stdout and "D70" in r.stdout, r.stdout[-2000:]
        return
    text = (r.work / r.command.stdout).read_text()
    if fmt == "jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
        nikon = next(row for row in rows if row["path"].endswith(SAMPLE_PHOTO))
        assert nikon["make"] == "Nikon" and nikon["labels"]["exposure"] == "1/200", nikon
        assert len(rows) > 50, len(rows)  # FOLDER/ is read recursively
    else:
        rows = list(csv.DictReader(text.splitlines()))
        assert {"make_raw", "jpeg_quality", "chroma_subsampling"} <= set(rows[0]) and len(rows) > 50, rows[:1]


def check_build(r: Ran, ctx: Context) -> None:
    r.ok()
    assert _files(r.work / "FlickrExif" / "data" / "Make", "*.parquet"), r.output[-2000:]


def check_release(r: Ran, ctx: Context) -> None:
    r.ok()
    out = r.work / r.argv[r.argv.index("--out") + 1]
    version = r.argv[r.argv.index("--version") + 1]
    manifest = json.loads((out / f"v{version}" / "manifest.json").read_text())
    assert manifest["files"], manifest


def check_push(r: Ran, ctx: Context) -> None:
    r.ok()
    repo = ctx.hub.repos[r.argv[r.argv.index("--repo") + 1]]
    release = Path(r.argv[2])
    assert release.name in repo.tags, repo.tags  # the commit is tagged vX.Y.Z
    files = repo.commits[repo.tags[release.name]].files
    assert "manifest.json" in files and "Pushed" in r.output, (sorted(files), r.output)


def check_ingest(r: Ran, ctx: Context) -> None:
    r.ok()
    pairs = json.loads((r.work / r.argv[r.argv.index("--out") + 1] / "pairs.json").read_text())
    assert len(pairs["subjects"]) == PAIR_SUBJECTS, pairs


def check_models(r: Ran, ctx: Context) -> None:
    r.ok()
    names = re.findall(r"^│ (\S+)", r.stdout, flags=re.M)
    pattern = r.argv[2] if len(r.argv) > 2 else None
    assert len(names) >= (1 if pattern else 40), r.stdout  # the paper's 47 encoders
    assert pattern is None or all(name.startswith("siglip") for name in names), names


def check_missing_weights(r: Ran) -> None:
    """No such weights here: the loopback Hub has no such model repository, so the download is answered
    "not found" (offline it would be the message with the command that fetches them); exit 2."""
    assert r.returncode == 2, f"{r.command}: expected exit 2 (missing weights), got {r.returncode}\n{r.output}"
    assert "Missing weights" in r.stderr and ("hf download" in r.stderr or "was not found on" in r.stderr), r.stderr


def check_run(r: Ran, ctx: Context) -> None:
    model = r.argv[r.argv.index("--model") + 1]
    if not model.startswith(OFFLINE_ENCODERS):
        check_missing_weights(r)
        return
    r.ok()
    if "--plan" in r.argv:  # the README's plan of three encoders of one geometry on 32 photos, JPEG only
        assert r.stdout.startswith("Sweep plan: 3 encoders x 1 dataset"), r.stdout
        assert re.search(r"input geometries +1 \(1 cohort", r.stdout), r.stdout
        assert re.search(r"images to decode +32\n", r.stdout) and "estimated time" in r.stdout, r.stdout
        assert not (r.work / r.argv[r.argv.index("--out") + 1]).exists()  # nothing is run
        return
    dataset = r.argv[r.argv.index("--dataset") + 1]
    tasks = re.findall(r"^\S+ on \S+: (\S+) \S+ seed \d+:", r.stdout, flags=re.M)
    if "paircams" in dataset:
        assert tasks == ["retrieval"] and "SPD_a " in r.stdout, r.stdout
    elif dataset.startswith("releases/"):
        assert set(tasks) == {"probe-acquisition"}, r.stdout
        result = json.loads(next((r.work / "results").rglob("probe-acquisition-Make-seed0.json")).read_text())
        probe = result["parameters"]["probe"]
        if "--probe-tune-epochs" in r.argv:
            assert probe["tune_epochs"] == int(r.argv[r.argv.index("--probe-tune-epochs") + 1]), probe
            assert probe["precision_used"] in ("float32", "bfloat16"), probe
    else:
        assert set(tasks) == {"probe-processing", "knn"} and len(tasks) == 8, r.stdout  # 4 families each


def check_zeroshot(r: Ran, ctx: Context) -> None:
    model = r.argv[r.argv.index("--model") + 1]
    if model != README_CLIP:
        check_missing_weights(r)
        return
    r.ok()
    (result,) = [json.loads(p.read_text()) for p in (r.work / "results").rglob("zeroshot-Make-seed0.json")]
    assert {"accuracy", "mean_per_class_recall", "chance", "probe_accuracy"} <= set(result["metrics"]), result
    assert result["parameters"]["templates"]["source"].endswith("my_templates.json"), result["parameters"]
    assert all(
        prompts == [f"a photo from a {name} camera."] for name, prompts in result["parameters"]["prompts"].items()
    )


def check_extract(r: Ran, ctx: Context) -> None:
    r.ok()
    out = r.work / r.argv[r.argv.index("--out") + 1]
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.safetensors"))
    assert len(files) == 3 * 2 and "SHARPEN_2/model=effnet-lite0_variant=default_split=val.safetensors" in files, files


def check_knn(r: Ran, ctx: Context) -> None:
    r.ok()
    (result,) = [json.loads(p.read_text()) for p in (r.work / r.argv[r.argv.index("--out") + 1]).rglob("*.json")]
    assert result["task"] == "knn" and result["target"] == "sharpening", result
    assert {"all-same@k10", "neg-same@k1", "spd_p@k10"} <= set(result["metrics"]), result["metrics"]


def check_mitigate(r: Ran, ctx: Context) -> None:
    r.ok()
    out = r.work / r.argv[r.argv.index("--out") + 1]
    results = [json.loads(p.read_text()) for p in out.rglob("mitigate-leace-*-seed0.json")]
    assert {result["target"] for result in results} == {"jpeg", "sharpening", "resizing", "interpolation"}, r.stdout
    for result in results:
        assert result["before"]["chance"] == result["after"]["chance"] and "probe_accuracy" in result["after"], result
        line = next(line for line in r.stdout.splitlines() if f"mitigate {result['target']} seed 0" in line)
        assert "->" in line and "(chance " in line, line
    probe = json.loads(next(out.rglob("probe-processing-sharpening-seed0.json")).read_text())
    sharpening = next(result for result in results if result["target"] == "sharpening")
    assert sharpening["before"]["probe_accuracy"] == probe["metrics"]["accuracy"]  # run's own number


def check_labelled_photos(r: Ran, ctx: Context) -> None:
    r.ok()
    out = r.work / r.argv[2]
    per_class = int(r.argv[r.argv.index("--per-class") + 1])
    assert sorted(p.name for p in out.iterdir()) == ["husky", "wolf"], r.stdout
    assert len(list(out.rglob("*.jpg"))) == 2 * per_class, r.stdout


def check_audit(r: Ran, ctx: Context) -> None:
    r.ok()
    out = r.work / r.argv[r.argv.index("--out") + 1]
    audit = json.loads((out / "audit.json").read_text())
    by_name = {entry["attribute"]: entry for entry in audit["associations"]}
    assert "Is Smartphone" in r.stdout and "Cramér" in r.stdout, r.stdout
    assert (out / "audit.md").read_text().startswith("## Metadata and processing")
    control = "control" in r.argv[r.argv.index("--dataset") + 1]
    if control:  # cameras dealt alike to both classes: nothing found
        assert audit["confounded"] == [] and by_name["Is Smartphone"]["p_value"] > 0.05, by_name["Is Smartphone"]
    else:  # the planted confound: the phones go with the huskies
        assert "Is Smartphone" in audit["confounded"] and by_name["Model"]["confounded"], audit["confounded"]
        assert audit["over_represented"]["husky"][0]["value"] == "True", audit["over_represented"]
    if "--model" in r.argv:
        split = audit["encoder"]["knn"]["Is Smartphone"]
        assert split["spd"] > 0.05 and set(audit["encoder"]["flips"]) == {"unprocessed", "sharpening"}, split
        assert abs(split["reliance"]) < 0.02 if control else split["reliance"] > 0.03, split
    if "--mitigate" in r.argv:
        assert set(audit["mitigation"]["attributes"]) == set(audit["confounded"]), audit["mitigation"]


def check_report(r: Ran, ctx: Context) -> None:
    r.ok()
    report = r.work / r.argv[2] / "report"
    if (r.work / r.argv[2] / "audit.json").is_file():  # the report of a dataset audit
        assert r.stdout.startswith("### pets") and "| Is Smartphone |" in r.stdout, r.stdout
        assert (report / "audit.md").is_file() and (report / "audit-lift-pets.png").is_file()
        assert (report / "audit-flips-pets.svg").is_file()
        return
    assert r.stdout.startswith("| encoder | dataset | task | target | result | chance | n |"), r.stdout
    rows = r.stdout.splitlines()
    results = [json.loads(p.read_text()) for p in (r.work / r.argv[2]).rglob("*-seed*.json")]
    for result in results:  # every result has its row (a mitigation its row in the mitigation table)
        row = f"| {result['dataset']} | {result['target']} | {result.get('method')} |"
        if result["task"] != "mitigate":
            row = f"| {result['encoder']} | {result['dataset']} | {result['task']} | {result['target']} |"
        assert any(row in line for line in rows), (row, r.stdout)
    for name in ("summary.md", "summary.csv", "metrics.csv"):
        assert (report / name).is_file(), name
    for task, target in {(result["task"], result["target"]) for result in results if result["task"] != "mitigate"}:
        assert list(report.glob(f"{task}-{target}*.png")), (task, target)
    if list((r.work / r.argv[2]).rglob("zeroshot-*.json")):
        assert (report / "zeroshot.md").is_file() and list(report.glob("zeroshot*.png"))
    assert "chance" in (report / "metrics.csv").read_text()


CHECKS: dict[tuple[str, ...], Callable[[Ran, Context], None]] = {
    ("flickrexif", "crawl"): check_crawl,
    ("flickrexif", "download"): check_download,
    ("flickrexif", "status"): check_status,
    ("flickrexif", "export"): check_export,
    ("flickrexif", "exif"): check_exif,
    ("flickrexif", "build"): check_build,
    ("flickrexif", "release"): check_release,
    ("flickrexif", "push"): check_push,
    ("paircams", "ingest"): check_ingest,
    ("paircams", "release"): check_release,
    ("paircams", "push"): check_push,
    ("trace-bench", "models"): check_models,
    ("trace-bench", "run"): check_run,
    ("trace-bench", "report"): check_report,
    ("trace-bench", "extract"): check_extract,
    ("trace-bench", "zeroshot"): check_zeroshot,
    ("trace-bench", "knn"): check_knn,
    ("trace-bench", "audit"): check_audit,
    ("trace-bench", "mitigate"): check_mitigate,
    ("python", "scripts/labelled_photos.py"): check_labelled_photos,
    ("export",): lambda r, ctx: None,  # sets the environment of the commands after it (see run_shell)
}
EXIF_ONLY = {("flickrexif", "exif")}  # need the real sample photos: their own test, skipped without them

# Python statements (exact README text) → check of the value the statement produced (imports just run).
PYTHON_CHECKS: dict[str, Callable[[object], None]] = {
    'record = read_exif("photo.jpg")': lambda v: None,  # checked through the labels below
    "labels = label_record(record)": lambda v: None,
    # the README's comment shows this file's labels
    "labels.values()": lambda v: _assert_subset({"make": "Nikon", "exposure": "1/200", "aperture": "f/9.0"}, v),
    "labels.reasons()": lambda v: _assert_subset({"smartphone_model": "not a smartphone"}, v),
    'make = load_dataset("releases/v1.0.0", "Make")': lambda v: _assert_dataset(v),
    'make = load_dataset("my-org/FlickrExif", "Make", revision="v1.0.0")': lambda v: _assert_dataset(v),
}
PYTHON_SUBSTITUTIONS = {'"photo.jpg"': lambda samples: repr(str(samples / SAMPLE_PHOTO))}


def _assert_subset(expected: dict, value: object) -> None:
    assert isinstance(value, dict) and expected.items() <= value.items(), value


def _assert_dataset(value: object) -> None:
    assert isinstance(value, dict) and set(value) == {"train", "validation", "test"}, value
    assert value["test"]["rows"] > 0 and {"image", "label", "owner", "license"} <= set(value["train"]["columns"]), value


# --- running -----------------------------------------------------------------------------------------


@dataclass
class Context:
    work: Path
    env: dict[str, str]
    samples: Path | None = None
    hub: HubStandin | None = None
    ran: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # per command, printed by the slow test


def base_env(tmp: Path) -> dict[str, str]:
    """No real credentials, caches or config leak in; pretrained weights are absent (empty hub cache)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLICKR_", "HF_", "HUGGINGFACE_")) and k != "FLICKREXIF_CONFIG"
    }
    (tmp / "empty-hub-cache").mkdir(exist_ok=True)
    return env | {
        "HF_HOME": str(tmp / "hf-home"),
        "HF_HUB_CACHE": str(tmp / "empty-hub-cache"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "FLICKREXIF_CONFIG": str(tmp / "no-config.toml"),
        "COLUMNS": "200",
        "PYTHONUNBUFFERED": "1",
        # The probes here fit tiny matrices: one thread is 3-4x faster than several fighting
        # over a shared CI machine's cores (measured on 2 busy cores).
        "OMP_NUM_THREADS": "1",
    }


def substituted(command: Command, ctx: Context) -> list[str]:
    mapping = placeholders(ctx.samples)
    argv: list[str] = []
    for word in command.argv:
        if word in mapping:
            argv += mapping[word]
        elif word.startswith("official:"):  # official:IMAGES_DIR:SPLITS_DIR
            argv.append(":".join(mapping.get(part, [part])[0] for part in word.split(":")))
        else:
            argv.append(word)
    change = OPTION_CHANGES.get(command.key)
    if change:
        old, new, _why = change
        if old:
            at = next(i for i in range(len(argv)) if tuple(argv[i : i + len(old)]) == old)
            argv[at : at + len(old)] = new
        else:
            argv += new
    return argv


def run_shell(command: Command, ctx: Context) -> None:
    if command.key == ("export",):
        for word in command.argv[1:]:
            name, _, value = word.partition("=")
            ctx.env[name] = ENV_PLACEHOLDERS[name] if value == "..." else value
        ctx.ran.append(str(command))
        return
    assert command.key in CHECKS, f"no check for {command}"
    argv = substituted(command, ctx)
    executable = BIN / argv[0]
    assert executable.is_file(), f"{executable} is not installed (pip install -e . into the venv)"
    env = dict(ctx.env)
    for name, value in command.env:
        env[name] = ENV_PLACEHOLDERS[name] if value.endswith("...") else value
    stdout = (ctx.work / command.stdout).open("w") if command.stdout else subprocess.PIPE
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [str(executable), *argv[1:]],
            cwd=ctx.work,
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        if command.stdout:
            stdout.close()
    ctx.seconds[str(command)] = time.perf_counter() - start
    ran = Ran(command, argv, done.returncode, done.stdout or "", done.stderr, ctx.work)
    assert "Traceback" not in ran.output, f"{command} crashed:\n{ran.output[-4000:]}"
    CHECKS[command.key](ran, ctx)
    ctx.ran.append(str(command))


HARNESS = r"""
import ast, json, sys

def show(value):
    import datasets
    if isinstance(value, datasets.DatasetDict):
        return {name: {"rows": split.num_rows, "columns": split.column_names} for name, split in value.items()}
    if isinstance(value, dict):
        return {str(k): show(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)

source = sys.stdin.read()
namespace = {"__name__": "__readme__"}
for node in ast.parse(source).body:
    if isinstance(node, ast.Expr):
        value = eval(compile(ast.Expression(node.value), "README.md", "eval"), namespace)
    else:
        exec(compile(ast.Module([node], []), "README.md", "exec"), namespace)
        names = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        value = namespace[names[0]] if names else None
    print(json.dumps({"statement": ast.get_source_segment(source, node), "value": show(value)}), flush=True)
"""


def run_python(block: Block, ctx: Context) -> None:
    source = block.body
    for old, new in PYTHON_SUBSTITUTIONS.items():
        if old in source:
            source = source.replace(old, new(ctx.samples))
    done = subprocess.run(
        [sys.executable, "-c", HARNESS],
        input=source,
        cwd=ctx.work,
        env=ctx.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"README.md:{block.line} python block failed:\n{done.stderr[-4000:]}"
    values = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"statement"')]
    statements = python_statements(block)
    assert len(values) == len(statements), done.stdout
    for statement, result in zip(statements, values):
        if not statement.startswith(("import ", "from ")):
            PYTHON_CHECKS[statement](result["value"])
        ctx.ran.append(f"README.md:{block.line}: {statement}")


def check_config_file(block: Block, ctx: Context, crawl: Command) -> None:
    """The ```toml block as the config file: the README's crawl works with it and no key in the environment."""
    config = tomllib.loads(block.body)
    assert set(config["flickr"]) == {"api_key", "api_secret"}, config
    path = ctx.work / "readme-config.toml"
    path.write_text(
        block.body.replace('api_key = "..."', f'api_key = "{FLICKR_KEY}"').replace(
            'api_secret = "..."', f'api_secret = "{FLICKR_SECRET}"'
        )
    )
    env = {k: v for k, v in ctx.env.items() if k not in ("FLICKR_API_KEY", "FLICKR_API_SECRET")}
    argv = substituted(crawl, ctx)
    argv[argv.index("--db") + 1] = "config-check.db"
    done = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        cwd=ctx.work,
        env=env | {"FLICKREXIF_CONFIG": str(path)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0 and "Crawl finished" in done.stdout + done.stderr, done.stdout + done.stderr
    ctx.ran.append(f"README.md:{block.line}: the config file")


def run_readme(ctx: Context, wanted: Callable[[Command], bool], block_wanted: Callable[[Block], bool]) -> None:
    """Run, in README order, the shell commands and the python and toml blocks this test is for."""
    text = readme_text()
    crawl = next(c for _, cs in readme_commands(text) for c in cs if c.key == ("flickrexif", "crawl"))
    for block in readme_blocks(text):
        if block.lang == "python" and block_wanted(block):
            run_python(block, ctx)
        elif block.lang == "toml" and block_wanted(block):
            check_config_file(block, ctx, crawl)
        elif block.lang in ("bash", "sh", "shell", "console"):
            for command in shell_commands(block):
                if command.key not in NOT_RUN and wanted(command):
                    run_shell(command, ctx)


# --- data the README's commands are pointed at -------------------------------------------------------

PAIR_SUBJECTS = 12


def make_pairs(work: Path) -> None:
    """``my_pairs/`` (a sub-folder per subject) and ``my_shots/`` (flat, paired by capture time)."""
    phones = [p for p in builtin_profiles() if p.is_smartphone]
    cameras = [p for p in builtin_profiles() if not p.is_smartphone]
    for subject in range(PAIR_SUBJECTS):
        taken = datetime(2023, 5, 1, 9, 0) + timedelta(hours=subject)
        for layout, offset in (("my_pairs", 0), ("my_shots", 100)):
            shots = (
                ("phone", phones[subject % len(phones)], taken),
                ("camera", cameras[subject % len(cameras)], taken + timedelta(seconds=20)),
            )
            for name, profile, when in shots:
                path = (
                    work / layout / f"subject-{subject:02d}" / f"{name}.jpg"
                    if layout == "my_pairs"
                    else work / layout / f"{name}-{subject:02d}.jpg"
                )
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(render_photo(subject + offset, profile, when, size=(160, 120)))


def make_templates(work: Path) -> None:
    """``my_templates.json``: the README's prompt table of one's own (one template for Make)."""
    table = {"format": 1, "targets": {"Make": {"templates": ["a photo from a {c} camera."]}}}
    (work / "my_templates.json").write_text(json.dumps(table))


def make_images(work: Path) -> None:
    """``my_images/``: two classes, with train/validation/test folders so every split has both."""
    profiles = builtin_profiles()
    n = 0
    for split, count in (("train", 4), ("validation", 2), ("test", 2)):
        for name, phone in (("phone", True), ("camera", False)):
            kind = [p for p in profiles if p.is_smartphone == phone]
            for _ in range(count):
                n += 1
                path = work / "my_images" / split / name / f"{name}{n:02d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(render_photo(n, kind[n % len(kind)], datetime(2023, 1, 1), size=(160, 120)))


# --- the tests ---------------------------------------------------------------------------------------


def test_every_readme_command_is_run_or_listed():
    text = readme_text()
    commands = [c for _, cs in readme_commands(text) for c in cs] + inline_commands(text)
    keys = {c.key for c in commands}
    uncovered = [str(c) for c in commands if c.key not in CHECKS and c.key not in NOT_RUN]
    assert not uncovered, "README commands that no test runs (add a check here, or a reason to NOT_RUN):\n" + "\n".join(
        uncovered
    )
    assert not set(NOT_RUN) - keys, f"NOT_RUN lists commands the README no longer shows: {set(NOT_RUN) - keys}"
    assert not set(OPTION_CHANGES) - keys, "OPTION_CHANGES for commands the README no longer shows"
    for command in commands:  # every option change still matches what the README shows
        old = OPTION_CHANGES.get(command.key, ((),))[0]
        assert not old or any(command.argv[i : i + len(old)] == old for i in range(len(command.argv))), (
            f"{command}: OPTION_CHANGES expects {old}"
        )
    blocks = readme_blocks(text)
    unchecked = [
        f"README.md:{b.line}: {s}"
        for b in blocks
        if b.lang == "python"
        for s in python_statements(b)
        if not s.startswith(("import ", "from ")) and s not in PYTHON_CHECKS
    ]
    assert not unchecked, "README Python statements that no test checks:\n" + "\n".join(unchecked)
    others = {b.lang for b in blocks} - {"bash", "python", "toml", ""}
    assert not others, f"code blocks this test does not read: {others}"
    assert [b.lang for b in blocks].count("toml") == 1


def test_readme_links_to_its_own_headings():
    """Every ``(#anchor)`` of the table of contents (and the text) names a heading, as GitHub makes them."""
    text = re.sub(r"```.*?```", "", readme_text(), flags=re.S)
    headings = {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in text.splitlines()
        if line.startswith("#")
    }
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert len(links) >= 10 and not set(links) - headings, set(links) - headings


def test_readme_exif_commands(exif_samples, tmp_path):
    """`flickrexif exif` and the `read_exif` Python example, on the real sample photos."""
    ctx = Context(tmp_path, base_env(tmp_path), samples=exif_samples)
    run_readme(ctx, lambda c: c.key in EXIF_ONLY, lambda b: "read_exif" in b.body)
    assert sum("flickrexif exif" in line for line in ctx.ran) == 3 and any("labels.values()" in s for s in ctx.ran)


@pytest.mark.slow
def test_readme_commands_in_order(tmp_path):
    """Every other README command, in README order, against the loopback Flickr and Hub."""
    from benchmark.testing.clip import repo_files, tiny_clip

    work = tmp_path / "work"
    work.mkdir()
    (work / "readme-specs.json").write_text(json.dumps(README_SPECS))
    make_pairs(work)
    make_images(work)
    make_templates(work)
    photos = generate_photos(400, seed=0, owners=80)
    with FlickrStandin(photos) as standin, HubStandin(token=HUB_TOKEN) as hub:
        hub.push(README_CLIP.removeprefix("open_clip:hf-hub:"), repo_files(tiny_clip(seed=0)))
        env = base_env(tmp_path) | {"FLICKR_API_URL": standin.api_url, "HF_ENDPOINT": hub.url}
        ctx = Context(work, env, hub=hub)
        run_readme(ctx, lambda c: c.key not in EXIF_ONLY, lambda b: "read_exif" not in b.body)
    for command, seconds in ctx.seconds.items():
        print(f"{seconds:6.1f} s  {command}")
    expected = [
        c for _, cs in readme_commands(readme_text()) for c in cs if c.key not in NOT_RUN and c.key not in EXIF_ONLY
    ]
    assert [line for line in ctx.ran if line in map(str, expected)] == [str(c) for c in expected]
    assert any("revision=" in line for line in ctx.ran)  # the "after push" load from the (loopback) Hub
