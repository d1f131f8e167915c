"""The distribution's dependencies follow the layers: crawling and publishing need no torch.

Each check runs in a fresh interpreter where trace-bench's extra cannot be imported (every import
finder hides its modules, as if they were not installed): ``flickrexif`` and ``paircams`` still
import and work, and ``trace-bench`` says in one line how to install what it needs.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from benchmark.cli.extra import BENCH_MODULES

HIDE_BENCH_EXTRA = textwrap.dedent(
    f"""
    import sys

    HIDDEN = {sorted(BENCH_MODULES)!r}
    HIDDEN_DISTRIBUTIONS = {sorted(d.replace("-", "_").lower() for d in BENCH_MODULES.values())!r}

    class Hide:
        def __init__(self, finder):
            self.finder = finder

        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in HIDDEN:
                return None
            find = getattr(self.finder, "find_spec", None)
            return find(name, path, target) if find else None

        def find_distributions(self, *args, **kwargs):  # importlib.metadata asks the finders too
            found = getattr(self.finder, "find_distributions", lambda *a, **k: ())(*args, **kwargs)
            return (d for d in found if (d.name or "").replace("-", "_").lower() not in HIDDEN_DISTRIBUTIONS)

        def invalidate_caches(self):
            getattr(self.finder, "invalidate_caches", lambda: None)()

    sys.meta_path[:] = [Hide(finder) for finder in sys.meta_path]
    """
)


def without_bench_extra(code: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    script = HIDE_BENCH_EXTRA + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_the_hiding_works():
    code = """
        import importlib.metadata, importlib.util
        print(importlib.util.find_spec("torch"), importlib.metadata.version("typer") > "0")
        importlib.metadata.version("torch")
    """
    done = without_bench_extra(code)
    assert done.stdout.strip() == "None True" and "No package metadata was found for torch" in done.stderr


@pytest.mark.parametrize(
    "entry",
    ["from flickrexif.cli.app import app", "from paircams.cli import app"],
    ids=["flickrexif", "paircams"],
)
def test_flickrexif_and_paircams_run_without_torch(entry):
    done = without_bench_extra(
        f"""
        {entry}
        import sys
        sys.argv = ["tool", "--help"]
        try:
            app()
        except SystemExit as exit:
            assert exit.code in (0, None), exit.code
        """
    )
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout and "Commands" in done.stdout


def test_every_crawl_label_and_publish_module_imports_without_torch():
    done = without_bench_extra(
        """
        import importlib, pkgutil, sys
        import flickrexif, paircams
        for package in (flickrexif, paircams):
            for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                if ".testing" not in module.name and not module.name.endswith("__main__"):
                    importlib.import_module(module.name)
        print(sorted(name for name in ("torch", "timm", "open_clip", "matplotlib") if name in sys.modules))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_flickrexif_reads_photos_without_torch(tmp_path):
    from PIL import Image

    Image.new("RGB", (16, 12), (200, 30, 30)).save(tmp_path / "a.jpg", quality=90)
    done = without_bench_extra(
        """
        import sys
        from flickrexif.cli.app import app
        sys.argv = ["flickrexif", "exif", sys.argv[1], "--format", "csv"]
        try:
            app()
        except SystemExit as exit:
            assert exit.code in (0, None), exit.code
        """,
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert "a.jpg" in done.stdout


def test_trace_bench_without_its_extra_names_the_install_command(tmp_path):
    done = without_bench_extra(
        """
        import sys
        from benchmark.cli.app import app
        sys.argv = ["trace-bench", "run", "--model", "effnet-lite0", "--dataset", ".", "--out", "o"]
        app()
        """,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install -e '.[bench]'" in lines[0] and "torch" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
