"""The centre mask belongs to the processing variant: masked on the encoder's crop, before normalising.

The reference below is the path before the mask left :class:`Preprocess`: resize and crop, mask the
uint8 crop, then ``(x / 255 - mean) / std``; embeddings through a variant are bit-identical to it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.embeddings.cache import EmbeddingCache
from benchmark.embeddings.extract import extract
from benchmark.embeddings.variants import Variant
from benchmark.encoders.registry import EncoderSpec
from benchmark.imaging.masking import center_mask, mask_box
from benchmark.imaging.preprocess import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, Preprocess
from benchmark.imaging.processing import open_rgb, process
from benchmark.sources.folder import image_folder

PREP = Preprocess(48, mean=OPENAI_CLIP_MEAN, std=OPENAI_CLIP_STD)


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(1, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def reference(image: Image.Image, prep: Preprocess, ratio: float) -> torch.Tensor:
    """The old path, step by step: crop, mask the uint8 pixels, to float, normalise."""
    pixels = prep.pixels(image)
    if ratio:
        pixels = center_mask(pixels, ratio)
    tensor = torch.from_numpy(np.asarray(pixels, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(prep.mean).view(3, 1, 1)
    std = torch.tensor(prep.std).view(3, 1, 1)
    return tensor.sub_(mean).div_(std)


@pytest.mark.parametrize("ratio", [0.0, 0.5, 0.9, 0.95])
@pytest.mark.parametrize("size", [(96, 80), (61, 130), (48, 48)])
def test_variant_input_equals_the_old_path(ratio, size):
    image = noise(*size, seed=size[0])
    assert torch.equal(Variant(mask_ratio=ratio).encoder_input(image, PREP), reference(image, PREP, ratio))
    if not ratio:
        assert torch.equal(Variant().encoder_input(image, PREP), PREP(image))


def test_mask_is_applied_after_the_crop_and_before_normalisation():
    image = noise(96, 80)
    out = Variant(mask_ratio=0.9).encoder_input(image, PREP)
    box = mask_box(48, 48, 0.9)
    inside = out[:, box.top : box.top + box.height, box.left : box.left + box.width]
    black = (-torch.tensor(OPENAI_CLIP_MEAN) / torch.tensor(OPENAI_CLIP_STD)).view(3, 1, 1)
    torch.testing.assert_close(inside, black.expand_as(inside), rtol=0, atol=1e-6)
    unmasked = PREP(image)
    assert torch.equal(out[:, 0, :], unmasked[:, 0, :])  # borders survive unchanged


def test_variant_checks_its_ratio():
    assert Variant(mask_ratio=0).mask_ratio == 0.0 and isinstance(Variant(mask_ratio=0).mask_ratio, float)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Variant("jpeg", "q75-420", mask_ratio=1.0)


class StubEncoder:
    """Just what :func:`extract` uses: a model, its preprocessing and a description."""

    def __init__(self):
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 5, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten()
        )
        self.preprocess = PREP
        self.spec = EncoderSpec(key="stub", family="stub", name="stub")

    def describe(self):
        return {"key": "stub", "preprocess": self.preprocess.describe()}


def test_masked_embeddings_equal_the_old_path(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(4):
            noise(70 + 3 * i, 50 + i, seed=i + 10 * len(name)).save(tmp_path / "images" / name / f"{i}.jpg", quality=90)
    image_set = image_folder(tmp_path / "images")
    encoder = StubEncoder()
    variants = [Variant("jpeg", "q75-420", mask_ratio=0.9), Variant(mask_ratio=0.95), Variant()]
    for split in image_set.splits:
        items = image_set.split(split)
        found = extract(
            encoder, image_set, split, variants, EmbeddingCache(tmp_path / "cache"), batch_size=len(items), device="cpu"
        )
        for variant in variants:
            images = [open_rgb(item.read()) for item in items]
            if variant.family:
                images = [
                    process(image, variant.family, variant.class_name, rng_key=(0, item.id))
                    for image, item in zip(images, items)
                ]
            with torch.inference_mode():
                expected = encoder.model(torch.stack([reference(image, PREP, variant.mask_ratio) for image in images]))
            assert found[variant].ids == [item.id for item in items]
            assert torch.equal(found[variant].vectors, expected.float())


@pytest.mark.parametrize("ratio", [0.9, 0.95])
def test_acquisition_input_is_the_released_mask_95_order(ratio):
    """Released MASK_95: resize, centre crop, JPEG q95 4:4:4 of the crop, then the mask, then normalise."""
    import io

    image = noise(150, 100, seed=3)
    crop = PREP.pixels(image)
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=95, subsampling=0)
    encoded = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    expected = reference(encoded, Preprocess(48, mean=OPENAI_CLIP_MEAN, std=OPENAI_CLIP_STD), ratio)
    variant = Variant(mask_ratio=ratio, crop_encoding="q95-444")
    assert torch.equal(variant.encoder_input(image, PREP), expected)
    # re-encoding the full-resolution photo first (the old order) gives a different input
    full = Variant("jpeg", "q95-444", mask_ratio=ratio)
    assert not torch.equal(full.encoder_input(process(image, "jpeg", "q95-444"), PREP), expected)
    assert variant.name == f"source-crop-jpeg-q95-444-mask{ratio:g}"
    with pytest.raises(ValueError, match="unknown crop encoding"):
        Variant(crop_encoding="q50-420")


def test_variants_with_the_same_input_are_embedded_once_as_each_alone(tmp_path):
    """A family's ``none`` is ``jpeg/q95-444``: one forward pass, the embeddings each would get alone."""
    (tmp_path / "images" / "a").mkdir(parents=True)
    for i in range(3):
        noise(90 + i, 60, seed=i).save(tmp_path / "images" / "a" / f"{i}.jpg", quality=90)
    image_set = image_folder(tmp_path / "images")
    split = image_set.splits[0]
    encoder, forwards = StubEncoder(), []
    encoder.model.register_forward_hook(lambda module, inputs, output: forwards.append(len(inputs[0])))
    same = [Variant("jpeg", "q95-444"), Variant("sharpening", "none"), Variant("resizing", "none")]
    variants = [*same, Variant("sharpening", "sharpness-x2"), Variant("jpeg", "q95-444", mask_ratio=0.9)]
    found = extract(encoder, image_set, split, variants, EmbeddingCache(tmp_path / "cache"), batch_size=8, device="cpu")
    assert len(forwards) == 3  # the shared input, the sharpened one, the masked one
    for variant in same:
        alone = extract(
            encoder, image_set, split, [variant], EmbeddingCache(tmp_path / variant.name), batch_size=8, device="cpu"
        )
        assert torch.equal(found[variant].vectors, alone[variant].vectors)
    assert not torch.equal(found[variants[-1]].vectors, found[same[0]].vectors)
