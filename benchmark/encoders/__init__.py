"""Encoders: the registry of named encoders and the factory that loads them (see :mod:`.factory`)."""

from benchmark.encoders.factory import (
    GROUPS,
    Encoder,
    EncoderSpec,
    MissingWeightsError,
    default_hf_cache,
    list_encoders,
    load_encoder,
    parse_key,
    resolve,
)

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
