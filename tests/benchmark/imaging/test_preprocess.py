"""The eval transform: shorter side to the crop, centre crop, normalise (no mask: that is the variant's)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.imaging.preprocess import OPENAI_CLIP_MEAN, Preprocess

CLIP = {"mean": OPENAI_CLIP_MEAN, "std": (0.26862954, 0.26130258, 0.27577711)}


def noise(width: int, height: int, mode: str = "RGB") -> Image.Image:
    pixels = np.random.default_rng(width * height).integers(1, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


def test_output_shape_and_dtype():
    out = Preprocess(224, **CLIP)(noise(300, 200))
    assert out.shape == (3, 224, 224) and out.dtype == torch.float32


def test_shorter_side_rule():
    prep = Preprocess(224, **CLIP)
    assert prep.resized_size(300, 200) == (336, 224)
    assert prep.resized_size(200, 301) == (224, 337)
    assert Preprocess(224, **CLIP, resize_size=256).resized_size(300, 200) == (384, 256)


def test_matches_torchvision_pil_pipeline():
    from torchvision import transforms

    image = noise(301, 203)
    reference = transforms.Compose(
        [
            transforms.Resize(224, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(CLIP["mean"], CLIP["std"]),
        ]
    )(image)
    torch.testing.assert_close(Preprocess(224, **CLIP)(image), reference, rtol=0, atol=1e-6)


def test_call_is_pixels_then_normalise():
    prep = Preprocess(64, **CLIP)
    image = noise(96, 80)
    crop = prep.pixels(image)
    assert crop.size == (64, 64) and crop.mode == "RGB"
    assert torch.equal(prep(image), prep.normalise(crop))
    black = prep.normalise(Image.new("RGB", (64, 64)))
    expected = (-torch.tensor(CLIP["mean"]) / torch.tensor(CLIP["std"])).view(3, 1, 1).expand(3, 64, 64)
    torch.testing.assert_close(black, expected, rtol=0, atol=1e-6)


def test_describe_round_trips():
    prep = Preprocess(256, mean=(0.5, 0.5, 0.5), std=[0.5, 0.5, 0.5], interpolation="bilinear",
                      resize_size=288, exif_transpose=True)  # fmt: skip
    described = prep.describe()
    assert set(described) == {field.name for field in dataclasses.fields(Preprocess)}
    assert Preprocess(**json.loads(json.dumps(described))) == prep
    assert described["resize_size"] == 288 and "mask_ratio" not in described  # the mask is the variant's


@pytest.mark.parametrize("mode", ["RGBA", "L", "CMYK", "P", "LA"])
def test_modes_accepted(mode):
    out = Preprocess(32, **CLIP)(noise(40, 48, mode))
    assert out.shape == (3, 32, 32)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"crop_size": 0}, "crop_size"),
        ({"resize_size": 100}, "resize_size"),
        ({"interpolation": "cubic"}, "bicubic"),
        ({"std": (0.2, 0.0, 0.2)}, "std"),
        ({"mean": (0.5, 0.5)}, "3 values"),
    ],
)
def test_bad_settings_rejected(settings, message):
    with pytest.raises(ValueError, match=message):
        Preprocess(**{"crop_size": 224, **CLIP, **settings})


def test_from_timm_config():
    cfg = {"input_size": (3, 256, 256), "crop_pct": 0.9, "interpolation": "bicubic",
           "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}  # fmt: skip
    prep = Preprocess.from_timm_config(cfg)
    assert (prep.crop_size, prep.resize_size, prep.mean, prep.interpolation) == (256, None, (0.5, 0.5, 0.5), "bicubic")
    assert Preprocess.from_timm_config(cfg, paper_rule=False).resize_size == 284  # floor(256 / 0.9)
    assert Preprocess.from_timm_config(cfg, interpolation="bilinear").interpolation == "bilinear"
    assert Preprocess.from_timm_config({"input_size": (3, 224, 224)}).mean == (0.485, 0.456, 0.406)
    with pytest.raises(ValueError, match="square"):
        Preprocess.from_timm_config({"input_size": (3, 224, 256)})
    with pytest.raises(ValueError, match="no input_size"):
        Preprocess.from_timm_config({"crop_pct": 0.9})


def test_from_open_clip():
    @dataclasses.dataclass
    class PreprocessCfg:  # the shape of open_clip's dataclass
        size: int | tuple[int, int] = 224
        mode: str = "RGB"
        mean: tuple[float, ...] = OPENAI_CLIP_MEAN
        std: tuple[float, ...] = CLIP["std"]
        interpolation: str = "bicubic"
        resize_mode: str = "shortest"
        fill_color: int = 0

    prep = Preprocess.from_open_clip(PreprocessCfg())
    assert prep == Preprocess(224, **CLIP)
    as_dict = dataclasses.asdict(PreprocessCfg(size=(384, 384), interpolation="bilinear"))
    overridden = Preprocess(384, **CLIP, interpolation="bilinear", resize_size=400)
    assert Preprocess.from_open_clip(as_dict, resize_size=400) == overridden
    with pytest.raises(ValueError, match="no size"):
        Preprocess.from_open_clip({"mean": OPENAI_CLIP_MEAN})


def test_exif_transpose_parameter():
    import io

    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    noise(60, 30).save(buffer, format="JPEG", exif=exif)
    image = Image.open(buffer)
    prep = Preprocess(30, **CLIP)
    assert prep.pixels(image).size == (30, 30)
    straight = np.asarray(prep.pixels(image))
    turned = np.asarray(dataclasses.replace(prep, exif_transpose=True).pixels(Image.open(buffer)))
    assert not np.array_equal(straight, turned)


def test_normalised_tensors_are_contiguous_chw():
    """A channels-last view made every small op ~10x slower with 2 threads and reached the model as is."""
    image = Image.new("RGB", (40, 30), (200, 100, 50))
    tensor = Preprocess(24, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)).normalise(image)
    assert tensor.shape == (3, 30, 40)  # normalise takes the crop as given
    assert tensor.is_contiguous()
