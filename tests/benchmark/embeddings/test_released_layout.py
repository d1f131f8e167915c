"""Embedding folders in the released code's layout: names, scanning, reading, writing."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from benchmark.embeddings.released_layout import RELEASED_NAMES, file_name, read, released_name, scan, write
from benchmark.imaging.processing import FAMILIES


def test_every_class_has_the_release_processor_name():
    assert released_name("jpeg", "q75-420") == "JPEG75_420"
    assert released_name("sharpening", "none") == released_name("resizing", "none") == "JPEG95_444"
    assert released_name("resizing", "resize-x0.5") == "RESIZE_HALF"
    assert released_name("interpolation", "box") == "INTERPOLATION_BOX"
    assert len(RELEASED_NAMES) == sum(len(c) for c in FAMILIES.values())
    assert file_name("clip", "ViT-L-14@336px", "val") == "model=clip_variant=ViT-L-14@336px_split=val.safetensors"
    assert file_name("x", "a/b", "train") == "model=x_variant=a-b_split=train.safetensors"


def test_write_then_scan_and_load_a_family(tmp_path):
    labels = {"train": [0, 1, 1, 2], "val": [2, 0]}
    written = {}
    for class_name in FAMILIES["sharpening"]:
        for split, y in labels.items():
            vectors = torch.randn(len(y), 5)
            written[(class_name, split)] = vectors
            write(tmp_path, released_name("sharpening", class_name), "clip", "ViT-B-16", split, vectors, y)
    (tmp_path / "notes.txt").write_text("not an embedding file")
    [encoder] = scan(tmp_path)
    assert (encoder.model, encoder.variant, encoder.name) == ("clip", "ViT-B-16", "clip,ViT-B-16")
    assert encoder.families() == ["sharpening"]  # JPEG95_444 alone does not make the jpeg family
    assert "JPEG75_420/model=clip_variant=ViT-B-16_split=train.safetensors" in encoder.missing("jpeg")
    stacked, y = encoder.load("sharpening", "train")
    assert stacked.shape == (4, 3, 5) and y.tolist() == labels["train"]
    for i, class_name in enumerate(FAMILIES["sharpening"]):
        assert torch.equal(stacked[:, i], written[(class_name, "train")])
    assert not list(tmp_path.rglob("*.partial"))


def test_files_that_disagree_or_lack_tensors_are_refused(tmp_path):
    for class_name in FAMILIES["resizing"]:
        y = [0, 1] if class_name != "resize-x2" else [1, 0]
        write(tmp_path, released_name("resizing", class_name), "m", "v", "train", torch.zeros(2, 3), y)
    [encoder] = scan(tmp_path)
    with pytest.raises(ValueError, match="RESIZE_DOUBLE.*does not list the same 2 train images"):
        encoder.load("resizing", "train")
    bad = tmp_path / "X" / file_name("m", "v", "val")
    bad.parent.mkdir()
    save_file({"features": torch.zeros(2, 3)}, str(bad))
    with pytest.raises(ValueError, match="needs the tensors image_embeddings and label"):
        read(bad)


def test_an_empty_or_missing_folder_says_what_it_expects(tmp_path):
    with pytest.raises(ValueError, match="<PROCESSING>/model=<M>_variant=<V>_split=<train|val>.safetensors"):
        scan(tmp_path)
    with pytest.raises(ValueError, match="is not a folder of embeddings"):
        scan(tmp_path / "nowhere")
