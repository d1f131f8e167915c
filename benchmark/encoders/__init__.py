"""Encoders: the registry of named encoders (:mod:`.registry`), the factory that loads them
(:mod:`.factory`), weight files and where pretrained weights come from (:mod:`.weights`: the Hugging
Face Hub, :mod:`.weights.hub`; published URLs, :mod:`.weights.urls`) and one module per family.

Importing the package registers the built-in families (as timm's ``models/__init__`` does); their
modules import torch, timm and open_clip only inside their loaders, so listing stays instant.
"""

from benchmark.encoders import (  # noqa: F401  (registers them)
    effnet_lite0,
    open_clip_family,
    random_family,
    timm_family,
    url_checkpoints,
)
from benchmark.encoders.factory import Encoder, load_encoder
from benchmark.encoders.registry import GROUPS, EncoderSpec, list_encoders, parse_key, resolve
from benchmark.encoders.weights.files import MissingWeightsError, default_hf_cache

__all__ = [
    "GROUPS",
    "Encoder",
    "EncoderSpec",
    "MissingWeightsError",
    "default_hf_cache",
    "list_encoders",
    "load_encoder",
    "parse_key",
    "resolve",
]
