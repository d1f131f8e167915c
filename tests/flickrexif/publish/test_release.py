"""The release sequence: stale partial folders of killed releases, Pillow's Exif warnings."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

from PIL import Image

from flickrexif.publish.release import DatasetContents, release


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


class Toy:
    """The smallest ReleasableDataset: one data file; ``write_data`` may run a hook first."""

    name = "Toy"
    packages: tuple[str, ...] = ()

    def __init__(self, hook=None) -> None:
        self.hook = hook

    def write_data(self, folder: Path) -> DatasetContents:
        if self.hook is not None:
            self.hook()
        (folder / "data.txt").write_text("rows\n")
        return DatasetContents(configs=(), build_info={"rows": 1}, data_as_of="2024-01-01")

    def card(self, contents: DatasetContents, version: str | None) -> str:
        return f"# Toy v{version}\n"

    def changelog_lines(self, contents: DatasetContents, previous: Path | None) -> list[str]:
        return []


def test_a_release_removes_partials_of_dead_processes_only_and_says_so(tmp_path):
    stale = tmp_path / f".v0.9.0.partial-{dead_pid()}"
    live = tmp_path / f".v0.9.1.partial-{os.getpid()}"  # a release still running (this process)
    for folder in (stale, live):
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "photos.parquet").write_bytes(b"x" * 2048)
    heard: list[tuple[Path, int]] = []
    result = release(Toy(), tmp_path, "1.0.0", on_removed=lambda path, size: heard.append((path, size)))
    assert not stale.exists() and live.is_dir() and (result.path / "data.txt").is_file()
    assert heard == [(stale, 2048)]


def corrupt_exif_jpeg() -> bytes:
    """A JPEG whose Exif block says an IFD entry's data lies past the block's end."""
    import io

    exif = Image.Exif()
    exif[0x010F] = "Maker"
    block = bytearray(exif.tobytes())
    block[10:12] = (200).to_bytes(2, "little")  # 200 entries announced, one present
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG", exif=bytes(block))
    return out.getvalue()


def read_exif(data: bytes) -> None:
    import io

    with Image.open(io.BytesIO(data)) as image:
        image.getexif().get_ifd(0x8769)


def test_pillows_corrupt_exif_warnings_do_not_reach_the_release_output(tmp_path, capsys):
    data = corrupt_exif_jpeg()
    with warnings.catch_warnings(record=True) as outside:
        warnings.simplefilter("always")
        read_exif(data)
    assert any("Corrupt EXIF" in str(w.message) for w in outside)  # the photo does make Pillow warn
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        release(Toy(hook=lambda: read_exif(data)), tmp_path, "1.0.0")
        warnings.warn("another warning still gets through", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["another warning still gets through"]
    assert "EXIF" not in capsys.readouterr().err
