"""The ``random`` family: ``random:NAME``, any timm architecture randomly initialised from a seed.

For tests and quick starts; its provenance is the seed (``random:seed=N``).
"""

from __future__ import annotations

from benchmark.encoders.factory import Built, LoadRequest
from benchmark.encoders.registry import EncoderSpec, register_family, register_shape
from benchmark.encoders.timm_family import (
    TIMM_EXPECTED,
    TIMM_NAME,
    check_timm_name,
    timm_embed_dim,
    timm_preprocess,
    timm_shape,
)
from benchmark.errors import UsageError


@register_family("random", key_form="random:TIMM_MODEL", name_pattern=TIMM_NAME, expected=TIMM_EXPECTED)
def _load_random(spec: EncoderSpec, request: LoadRequest) -> Built:
    import timm

    if request.weights is not None:
        raise UsageError(f"{spec.key} is randomly initialised; to load a file use timm:{spec.name} with weights=FILE")
    check_timm_name(spec.name)
    model = timm.create_model(spec.name, pretrained=False, num_classes=0)  # seeded by load_encoder
    return Built(model, timm_preprocess(model, spec), timm_embed_dim(model), f"random:seed={request.seed}")


register_shape("random")(timm_shape)  # the same architecture as timm's, randomly initialised
