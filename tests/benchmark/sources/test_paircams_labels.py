"""PairCams camera types come from the dataset's own labels; subjects that cannot be paired are reported."""

from __future__ import annotations

import io

import datasets
from PIL import Image

from benchmark.sources.imageset import ImageItem, ImageSet
from benchmark.sources.paircams import camera_type, paircams_set, released_paircams_models
from benchmark.tasks.retrieval import paircams_pairs


def test_the_dataset_labels_decide_in_order():
    assert camera_type({"camera_type": "camera", "is_smartphone": True, "model": "a065"}) == (
        False,
        "camera_type column",
    )
    assert camera_type({"is_smartphone": True, "model": "Canon EOS 450D"}) == (True, "is_smartphone column")
    assert camera_type({"model": " A065 "}) == (True, "released model table")
    assert camera_type({"model": "XT1032"}) == (False, "released model table")  # as released, though a Moto G
    assert camera_type({"model": "Some New Phone"}) == (None, "unknown model")
    assert len(released_paircams_models()) == 16 and set(released_paircams_models().values()) == {
        "smartphone",
        "camera",
    }


def item(item_id: str, subject: int, phone: bool | None) -> ImageItem:
    return ImageItem(id=item_id, split="train", read=lambda: b"", group=subject, extra={"is_smartphone": phone})


def test_subjects_without_one_phone_and_one_camera_are_reported_not_dropped_silently():
    image_set = ImageSet(name="p", items=(
        item("a", 0, True), item("b", 0, False),   # a pair
        item("c", 1, True), item("d", 1, True),    # two phones
        item("e", 2, False), item("f", 2, None),   # a device nobody knows
        item("g", 3, False), item("h", 3, True),   # a pair
    ))  # fmt: skip
    pairs = paircams_pairs(image_set)
    assert pairs.subjects == [0, 3] and pairs.phones == ["a", "h"] and pairs.cameras == ["b", "g"]
    assert set(pairs.left_out) == {"1", "2"}
    assert "2 smartphone, 0 camera" in pairs.left_out["1"] and "1 unknown-device" in pairs.left_out["2"]


def test_the_official_release_columns_are_labelled_by_the_released_table(tmp_path, offline):
    """The official release has only image, subject_idx and model: every subject of it is paired."""
    models = ["iPhone XR", "Canon IXY 630", "Pixel 4", "DSC-WX300", "A065", "XT1032", "iPhone 12", "COOLPIX S200"]

    def png(seed: int) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (seed * 20, 0, 0)).save(buffer, format="PNG")
        return buffer.getvalue()

    official = datasets.Dataset.from_dict(
        {
            "image": [{"bytes": png(i), "path": None} for i in range(8)],
            "subject_idx": [i // 2 for i in range(8)],
            "model": models,
        }  # fmt: skip
    ).cast_column("image", datasets.Image())
    (tmp_path / "official" / "data").mkdir(parents=True)
    official.to_parquet(str(tmp_path / "official" / "data" / "train-00000-of-00001.parquet"))
    image_set = paircams_set(str(tmp_path / "official"))
    pairs = paircams_pairs(image_set)
    assert len(pairs.subjects) == 4 and pairs.left_out == {}
    assert {i.extra["camera_type_from"] for i in image_set.items} == {"released model table"}
