"""The centre mask covers the requested area, centred, the same on PIL images and tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.imaging.masking import DEFAULT_MASK_RATIO, center_mask, mask_box


@pytest.mark.parametrize("ratio", [0.05, 0.25, 0.5, 0.9, 0.95, 0.99])
@pytest.mark.parametrize(("height", "width"), [(224, 224), (225, 224), (223, 331), (7, 5), (256, 384)])
def test_box_area_and_symmetry(ratio, height, width):
    box = mask_box(height, width, ratio)
    scale = math.sqrt(ratio)
    assert abs(box.height - height * scale) <= 1 and abs(box.width - width * scale) <= 1
    if box.area:  # symmetric margins
        assert box.top == height - box.top - box.height
        assert box.left == width - box.left - box.width
    assert abs(box.area - ratio * height * width) <= height + width


def test_papers_ratios_on_a_224_crop():
    assert DEFAULT_MASK_RATIO == 0.9
    assert mask_box(224, 224, 0.9) == mask_box(224, 224) and mask_box(224, 224).height == 212
    assert mask_box(224, 224, 0.95).height == 218


@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.9])
def test_pil_and_tensor_agree(ratio):
    rng = np.random.default_rng(0)
    pixels = rng.integers(1, 256, size=(45, 60, 3), dtype=np.uint8)  # no zeros before masking
    masked_pil = np.asarray(center_mask(Image.fromarray(pixels), ratio))
    chw = torch.from_numpy(pixels.copy()).permute(2, 0, 1)
    masked_uint8 = center_mask(chw, ratio)
    masked_float = center_mask(chw.float().unsqueeze(0) / 255, ratio)
    assert masked_uint8.dtype == torch.uint8 and masked_float.shape == (1, 3, 45, 60)
    assert np.array_equal(masked_uint8.permute(1, 2, 0).numpy(), masked_pil)
    assert torch.equal(masked_float[0] == 0, masked_uint8 == 0)
    box = mask_box(45, 60, ratio)
    assert int((masked_pil == 0).all(axis=2).sum()) == box.area
    assert torch.equal(chw, torch.from_numpy(pixels).permute(2, 0, 1))  # input untouched


def test_ratio_zero_is_a_no_op():
    image = Image.new("RGB", (10, 8), (200, 100, 50))
    assert np.array_equal(np.asarray(center_mask(image, 0)), np.asarray(image))
    tensor = torch.ones(3, 8, 10)
    assert torch.equal(center_mask(tensor, 0.0), tensor)


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_ratios_are_rejected(ratio):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        center_mask(Image.new("RGB", (4, 4)), ratio)


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="CHW"):
        center_mask(torch.zeros(4, 4), 0.5)
    with pytest.raises(TypeError):
        center_mask([[0]], 0.5)
