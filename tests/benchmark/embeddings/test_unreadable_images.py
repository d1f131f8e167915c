"""One image that cannot be read never stops a run: it is left out, counted and named in every result.

Generated hostile files among good ones: zero bytes, a truncated JPEG, text named .jpg, junk named
.heic, a FIFO and a folder named like images, a decompression bomb, an extreme aspect ratio.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib

import pytest
from PIL import Image
from typer.testing import CliRunner

from benchmark.cli.app import app
from benchmark.embeddings.cache import EmbeddingCache
from benchmark.embeddings.extract import extract
from benchmark.embeddings.variants import Variant
from benchmark.encoders import load_encoder
from benchmark.imaging.processing import MAX_PIXELS, UnreadableImage, open_rgb
from benchmark.sources.folder import image_folder
from benchmark.testing.datasets import make_folder

MODEL = "random:resnet10t"
runner = CliRunner()


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` pixels (its data is one tiny row): a bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 4)) + chunk(b"IEND", b"")
    )


def jpeg_bytes(size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 60, 30)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def extreme_aspect_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (150_000, 1)).save(buffer, format="PNG")
    return buffer.getvalue()


HOSTILE = {
    "empty.jpg": b"",
    "truncated.jpg": jpeg_bytes()[:300],
    "text.jpg": b"this is not an image\n",
    "junk.heic": os.urandom(512),
    "bomb.png": png_header_claiming(40_000, 40_000),
    "wide.png": extreme_aspect_png(),
}


def hostile_folder(root):
    """Two classes of good images; the hostile files, a FIFO and a folder named like images in class ``red``."""
    make_folder(root, per_class=12, size=(48, 40))
    for name, data in HOSTILE.items():
        (root / "red" / name).write_bytes(data)
    os.mkfifo(root / "red" / "pipe.jpg")
    (root / "red" / "folder.jpg").mkdir()
    return root


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (HOSTILE["empty.jpg"], "not an image"),
        (HOSTILE["text.jpg"], "not an image"),
        (HOSTILE["junk.heic"], "not an image"),
        (HOSTILE["truncated.jpg"], "runcated"),
        (HOSTILE["bomb.png"], "decompression-bomb limit"),
        (HOSTILE["wide.png"], "aspect ratio above 100:1"),
    ],
    ids=["empty", "text", "junk", "truncated", "bomb", "wide"],
)
def test_what_cannot_be_decoded_is_refused_with_its_reason_before_any_pixel_is_decoded(data, reason):
    with pytest.raises(UnreadableImage, match=reason):
        open_rgb(data)


def test_the_bomb_limit_is_pillows_own_refusal_and_checked_from_the_header():
    assert MAX_PIXELS == 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(UnreadableImage, match="1600 MP"):
        open_rgb(png_header_claiming(40_000, 40_000))  # 4.8 GB of pixels were it decoded


def test_extraction_leaves_unreadable_images_out_and_keeps_why(tmp_path):
    image_set = image_folder(hostile_folder(tmp_path / "images"))
    assert image_set.skipped == {"red/folder.jpg": "a folder", "red/pipe.jpg": "a FIFO (named pipe)"}
    encoder = load_encoder(MODEL)
    cache = EmbeddingCache(tmp_path / "cache")
    variants = [Variant(), Variant("jpeg", "q75-420")]
    names = {item.id for item in image_set.items}
    found = {}
    for split in image_set.splits:
        found[split] = extract(encoder, image_set, split, variants, cache, device="cpu")
    failed = {i: why for by_variant in found.values() for e in by_variant.values() for i, why in e.failed.items()}
    assert set(failed) == {f"red/{name}" for name in HOSTILE}
    for by_variant in found.values():
        plain, processed = by_variant.values()
        assert plain.ids == processed.ids and not set(plain.ids) & set(failed)  # aligned, the bad left out
        assert plain.vectors.shape[0] == len(plain.ids)
    assert sum(len(v[variants[0]].ids) for v in found.values()) == len(names) - len(HOSTILE)
    again = extract(encoder, image_set, "train", variants, cache, device="cpu")  # from the cache: same record
    assert again[variants[0]].failed == found["train"][variants[0]].failed


def test_run_on_a_folder_with_unreadable_images_goes_on_and_records_them(tmp_path):
    folder = hostile_folder(tmp_path / "images")
    out = tmp_path / "out"
    args = ["run", "--model", MODEL, "--dataset", str(folder), "--out", str(out), "--family", "jpeg"]
    done = runner.invoke(app, [*args, "--probe-tune-epochs", "2", "--device", "cpu"])
    assert done.exit_code == 0, done.output
    assert "Traceback" not in done.output
    results = {json.loads(p.read_text())["task"]: json.loads(p.read_text()) for p in out.rglob("*-seed0.json")}
    assert set(results) == {"probe-processing", "knn"}
    probe = results["probe-processing"]["skipped_images"]  # the probe embeds every split
    assert probe["count"] == len(HOSTILE) + 2, probe  # + the FIFO and the folder
    assert probe["first"]["red/text.jpg"] == "not an image Pillow can read"
    assert probe["first"]["red/pipe.jpg"] == "a FIFO (named pipe)"
    split_of = {item.id: item.split for item in image_folder(folder).items}
    in_knn = {f"red/{name}" for name in HOSTILE if split_of[f"red/{name}"] != "validation"}  # train and test
    assert set(results["knn"]["skipped_images"]["first"]) == in_knn | {"red/pipe.jpg", "red/folder.jpg"}
    assert "images could not be read and were left out" in done.output


def test_a_split_with_no_readable_image_is_one_line(tmp_path):
    folder = tmp_path / "images"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            (folder / name / f"{i}.jpg").write_bytes(b"not a jpeg")
    done = runner.invoke(app, ["run", "--model", MODEL, "--dataset", str(folder), "--out", str(tmp_path / "o")])
    assert done.exit_code == 2, done.output
    lines = [line for line in done.output.splitlines() if "can be read" in line]
    assert lines and "images of images can be read" in lines[0] and "(not an image Pillow can read)" in lines[0]
    assert "Traceback" not in done.output


def test_gif_and_jfif_files_are_images(tmp_path):
    root = make_folder(tmp_path / "images", per_class=3, size=(32, 24))
    Image.new("RGB", (32, 24), (10, 200, 30)).save(root / "red" / "frame.gif")
    (root / "blue" / "photo.jfif").write_bytes((root / "blue" / "blue000.jpg").read_bytes())
    names = {item.id for item in image_folder(root).items}
    assert {"red/frame.gif", "blue/photo.jfif"} <= names
