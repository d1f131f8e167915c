"""The factory: load_encoder calls the registered family loader, seeded, and returns an Encoder in eval mode."""

from __future__ import annotations

import json

import pytest
import torch

from benchmark.encoders import Encoder, EncoderSpec, load_encoder, registry, resolve
from benchmark.encoders.factory import Built, LoadRequest
from benchmark.encoders.registry import register_family
from benchmark.imaging.preprocess import Preprocess

timm = pytest.importorskip("timm")
safetensors_torch = pytest.importorskip("safetensors.torch")

TINY = "resnet10t"  # ~5M parameters, fast on CPU


@pytest.fixture
def toy_family():
    """A ``toy`` family registered for one test, the way a family module registers its loader."""
    requests: list[tuple[EncoderSpec, LoadRequest]] = []

    @register_family(
        "toy", key_form="toy:LETTERS", name_pattern=r"^[a-z]+$", expected="lowercase letters, e.g. toy:abc"
    )
    def load_toy(spec: EncoderSpec, request: LoadRequest) -> Built:
        requests.append((spec, request))
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))  # seeded by load_encoder
        return Built(model, Preprocess(8, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)), 4, f"toy:seed={request.seed}")

    yield requests
    registry._FAMILIES.pop("toy")


def test_a_registered_family_loads_its_keys(toy_family, tmp_path, photos):
    encoder = load_encoder("toy:abc", seed=5, hf_cache=tmp_path)
    [(spec, request)] = toy_family
    assert (spec.family, spec.name) == ("toy", "abc") and request == LoadRequest(
        weights=None, seed=5, hf_cache=tmp_path
    )
    assert encoder.weights == "toy:seed=5" and not encoder.model.training
    assert encoder.embed(photos(2)).shape == (2, 4)
    assert torch.equal(load_encoder("toy:abc", seed=5).model[1].weight, encoder.model[1].weight)
    assert "toy:LETTERS" in registry.key_forms()
    with pytest.raises(ValueError, match="after 'toy:' comes lowercase letters"):
        load_encoder("toy:ABC")


def test_an_unknown_family_gives_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown encoder 'toy:abc'.*give a key: open_clip:MODEL/TAG"):
        load_encoder("toy:abc")
    with pytest.raises(ValueError, match=r"toy:abc: unknown family 'toy'; families: .*open_clip"):
        load_encoder(EncoderSpec(key="toy:abc", family="toy", name="abc"))


def test_the_centre_mask_is_no_part_of_an_encoder():
    with pytest.raises(TypeError, match="mask_ratio"):
        load_encoder("random:test_vit", mask_ratio=0.5)  # type: ignore[call-arg]


def test_random_encoder_is_deterministic_and_describes_itself(photos):
    images = photos()
    first = load_encoder(f"random:{TINY}", seed=3)
    again = load_encoder(f"random:{TINY}", seed=3)
    other = load_encoder(f"random:{TINY}", seed=4)
    embeddings = first.embed(images)
    assert embeddings.shape == (len(images), first.embed_dim) and embeddings.dtype == torch.float32
    assert torch.equal(embeddings, again.embed(images))
    assert not torch.allclose(embeddings, other.embed(images))
    assert not first.model.training
    described = first.describe()
    assert json.loads(json.dumps(described)) == described
    assert described["weights"] == "random:seed=3" and described["key"] == f"random:{TINY}"
    assert described["preprocess"]["resize_size"] is None  # the paper's rule: shorter side = crop size
    assert described["preprocess"]["crop_size"] == first.preprocess.crop_size


def test_random_vit_shape(photos):
    encoder = load_encoder("random:test_vit")
    assert encoder.embed(photos(2)).shape == (2, encoder.embed_dim)


def test_load_does_not_disturb_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_encoder("random:test_vit", seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_encoder_dataclass_is_plain():
    spec = resolve("random:test_vit")
    assert Encoder.__dataclass_fields__.keys() >= {"spec", "model", "preprocess", "embed_dim", "weights"}
    assert spec.names == ("random:test_vit",)


def test_row_preprocess_overrides(tmp_path):
    """A row's ``preprocess`` overrides change the eval transform of the key's model config."""
    overrides = (("interpolation", "bilinear"), ("mean", (0.485, 0.456, 0.406)), ("std", (0.229, 0.224, 0.225)))
    path = tmp_path / "vit.safetensors"
    safetensors_torch.save_file(load_encoder("random:test_vit").model.state_dict(), str(path))
    spec = EncoderSpec(key="timm:test_vit", family="timm", name="test_vit", preprocess=overrides)
    encoder = load_encoder(spec, weights=path)
    plain = load_encoder("timm:test_vit", weights=path)
    assert (plain.preprocess.interpolation, plain.preprocess.mean) == ("bicubic", (0.5, 0.5, 0.5))
    assert (encoder.preprocess.interpolation, encoder.preprocess.mean) == ("bilinear", (0.485, 0.456, 0.406))
