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


def test_rows_are_well_formed_and_resolve_to_known_ids():
    timm = pytest.importorskip("timm")
    open_clip = pytest.importorskip("open_clip")
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
    assert (free.family, free.name, free.alias, free.group) == (
        "timm",
        "vit_small_patch16_224.augreg_in21k",
        None,
        None,
    )
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


def test_key_parsing_follows_the_registered_families():
    assert set(FAMILIES) == {"open_clip", "timm", "random", "effnet-lite0"}
    assert key_forms() == "open_clip:MODEL/TAG, timm:MODEL.TAG, random:TIMM_MODEL or effnet-lite0"
    assert parse_key("effnet-lite0") == ("effnet-lite0", "")  # a family that declares a bare key
    with pytest.raises(ValueError, match="is not an encoder key; keys look like open_clip:MODEL/TAG"):
        parse_key("effnet-lite0:anything")
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
