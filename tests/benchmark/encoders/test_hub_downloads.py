"""Hub weights on first use: downloaded from a loopback Hub into the HF cache, then read from it.

Tiny random-weight repositories (a timm ``test_vit``, a two-layer open_clip model) are pushed with
``HfApi`` to the Hub stand-in, and ``HF_ENDPOINT`` points at it: it serves their files as the Hub
does (see :mod:`flickrexif.testing.hub`).
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest
import torch

from benchmark.encoders import MissingWeightsError, load_encoder
from flickrexif.cli.errors import error_message, lookup
from flickrexif.testing.hub import HubStandin

timm = pytest.importorskip("timm")
open_clip = pytest.importorskip("open_clip")
safetensors_torch = pytest.importorskip("safetensors.torch")

TOKEN = "hf_loopback_token"
TIMM_REPO = "test-org/tiny-vit"
CLIP_REPO = "test-org/tiny-clip"
TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 1000, "width": 32, "heads": 2, "layers": 1},
}


def safetensors_bytes(state: dict[str, torch.Tensor]) -> bytes:
    return safetensors_torch.save({k: v.contiguous() for k, v in state.items()})


def tiny_timm_repo(folder) -> tuple[torch.nn.Module, dict[str, bytes]]:
    """``test_vit`` with random weights, saved as timm's ``save_for_hf`` writes a Hub repository."""
    from timm.models import save_for_hf

    torch.manual_seed(3)
    model = timm.create_model("test_vit", pretrained=False, num_classes=10).eval()
    save_for_hf(model, folder, safe_serialization=True)
    return model, {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def tiny_clip_repo() -> tuple[torch.nn.Module, dict[str, bytes]]:
    """A two-layer open_clip model with random weights, as open_clip's ``push_to_hf_hub`` lays it out."""
    from open_clip import factory

    factory._MODEL_CONFIGS["Tiny-Hub-Test"] = json.loads(json.dumps(TINY_CLIP))
    try:
        torch.manual_seed(4)
        model = open_clip.create_model("Tiny-Hub-Test", pretrained=None).eval()
    finally:
        factory._MODEL_CONFIGS.pop("Tiny-Hub-Test")
    config = {"model_cfg": TINY_CLIP, "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}
    return model, {
        "open_clip_config.json": json.dumps(config).encode(),
        "open_clip_model.safetensors": safetensors_bytes(model.state_dict()),
    }


def pooled(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.forward_head(model.forward_features(x), pre_logits=True)


def refuse_connections(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_timm_hub_repo_downloads_once_then_runs_from_the_cache(hub, env, tmp_path, monkeypatch):
    standin = hub
    source, repo_files = tiny_timm_repo(tmp_path / "export")
    commit = standin.push(TIMM_REPO, repo_files)

    encoder = load_encoder(f"timm:hf-hub:{TIMM_REPO}")
    assert encoder.weights == f"hf-cache:{TIMM_REPO}@{commit}/model.safetensors"
    snapshot = env / "models--test-org--tiny-vit" / "snapshots" / commit
    assert (snapshot / "model.safetensors").is_file() and (snapshot / "config.json").is_file()
    x = torch.randn(2, 3, 160, 160)
    with torch.no_grad():
        assert torch.allclose(encoder.model(x), pooled(source, x), atol=1e-6)
    assert any(method == "GET" and path.endswith("/model.safetensors") for method, path, _ in standin.requests)

    standin.close()  # the Hub is gone: the cache serves the second run
    again = load_encoder(f"timm:hf-hub:{TIMM_REPO}")
    assert again.weights == encoder.weights
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    refuse_connections(monkeypatch)  # offline: not even an attempt
    assert load_encoder(f"timm:hf-hub:{TIMM_REPO}").weights == encoder.weights


def test_open_clip_hub_repo_downloads_and_matches_encode_image(hub, env):
    standin = hub
    source, repo_files = tiny_clip_repo()
    commit = standin.push(CLIP_REPO, repo_files)

    encoder = load_encoder(f"open_clip:hf-hub:{CLIP_REPO}")
    assert encoder.weights == f"hf-cache:{CLIP_REPO}@{commit}/open_clip_model.safetensors"
    assert encoder.embed_dim == 32
    assert (encoder.preprocess.crop_size, encoder.preprocess.mean) == (64, (0.5, 0.5, 0.5))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(encoder.model(x), source.encode_image(x), atol=1e-6)
    seen = len(standin.requests)
    assert load_encoder(f"open_clip:hf-hub:{CLIP_REPO}", offline=True).weights == encoder.weights
    assert len(standin.requests) == seen  # offline=True: no request at all


def test_a_registry_tag_downloads_from_its_hub_repository(hub, env):
    """timm tags name their Hub repository (``timm/ARCH.TAG``): the first load fetches its file."""
    standin = hub
    source = timm.create_model("test_vit", pretrained=False, num_classes=1000).eval()
    commit = standin.push("timm/test_vit.r160_in1k", {"model.safetensors": safetensors_bytes(source.state_dict())})
    encoder = load_encoder("timm:test_vit.r160_in1k")
    assert encoder.weights == f"hf-cache:timm/test_vit.r160_in1k@{commit}/model.safetensors"
    x = torch.randn(1, 3, 160, 160)
    with torch.no_grad():
        assert torch.allclose(encoder.model(x), pooled(source, x), atol=1e-6)


def test_a_revision_pins_the_commit(hub, env, tmp_path):
    standin = hub
    _, repo_files = tiny_timm_repo(tmp_path / "export")
    first = standin.push(TIMM_REPO, repo_files)
    torch.manual_seed(5)
    changed = timm.create_model("test_vit", pretrained=False, num_classes=10)
    latest = standin.push(TIMM_REPO, {"model.safetensors": safetensors_bytes(changed.state_dict())})
    assert load_encoder(f"timm:hf-hub:{TIMM_REPO}").weights.startswith(f"hf-cache:{TIMM_REPO}@{latest}/")
    assert load_encoder(f"timm:hf-hub:{TIMM_REPO}@{first}").weights.startswith(f"hf-cache:{TIMM_REPO}@{first}/")


def test_offline_with_an_empty_cache_is_one_message_with_exit_code_2(hub, env, monkeypatch):
    standin = hub
    standin.push(CLIP_REPO, tiny_clip_repo()[1])
    pushed = len(standin.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError) as raised:
        load_encoder(f"open_clip:hf-hub:{CLIP_REPO}")
    message = str(raised.value)
    assert f"hf download {CLIP_REPO} open_clip_config.json" in message and str(env) in message
    assert "offline" in message and "--weights FILE" in message
    assert len(standin.requests) == pushed  # not even a HEAD
    report = lookup(raised.value)
    assert report is not None and report.code == 2
    assert error_message(raised.value, report).startswith("[red]Missing weights:[/red] No local weights")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    with pytest.raises(MissingWeightsError, match=f"hf download {TIMM_REPO} config.json"):
        load_encoder(f"timm:hf-hub:{TIMM_REPO}", offline=True)


def test_a_gated_repo_without_a_token_names_hf_token(hub, env, tmp_path, monkeypatch):
    standin = hub
    standin.push(TIMM_REPO, tiny_timm_repo(tmp_path / "export")[1])
    standin.gated.add(TIMM_REPO)
    with pytest.raises(MissingWeightsError) as raised:
        load_encoder(f"timm:hf-hub:{TIMM_REPO}")
    message = str(raised.value)
    assert f"{TIMM_REPO} on {standin.url} is gated" in message
    assert "set HF_TOKEN" in message and "hf auth login" in message and "\n" not in message
    monkeypatch.setenv("HF_TOKEN", "hf_someone_else")
    with pytest.raises(MissingWeightsError, match="the token in HF_TOKEN .* has no access"):
        load_encoder(f"timm:hf-hub:{TIMM_REPO}")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert load_encoder(f"timm:hf-hub:{TIMM_REPO}").weights.startswith(f"hf-cache:{TIMM_REPO}@")


def test_the_stand_in_answers_model_files_as_the_hub_does(hub):
    """Headers, byte ranges and error codes of ``/ORG/NAME/resolve/REV/PATH``; dataset routes stay apart."""
    standin = hub
    commit = standin.push(TIMM_REPO, {"model.safetensors": b"0123456789"})

    def fetch(path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(standin.url + path, headers=headers)
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    status, headers, body = fetch(f"/{TIMM_REPO}/resolve/main/model.safetensors")
    assert (status, body, headers["X-Repo-Commit"]) == (200, b"0123456789", commit)
    assert headers["ETag"].startswith('"')
    status, headers, body = fetch(f"/{TIMM_REPO}/resolve/{commit}/model.safetensors", Range="bytes=4-")
    assert (status, body, headers["Content-Range"]) == (206, b"456789", "bytes 4-9/10")
    assert standin.requests[-1] == ("GET", f"/{TIMM_REPO}/resolve/{commit}/model.safetensors", "bytes=4-")
    status, headers, _ = fetch(f"/{TIMM_REPO}/resolve/main/model.safetensors", Range="bytes=10-")
    assert (status, headers["Content-Range"]) == (416, "bytes */10")
    status, headers, _ = fetch("/test-org/absent/resolve/main/x")
    assert (status, headers["X-Error-Code"]) == (401, "RepoNotFound")
    assert fetch(f"/{TIMM_REPO}/resolve/v9/model.safetensors")[1]["X-Error-Code"] == "RevisionNotFound"
    assert fetch(f"/{TIMM_REPO}/resolve/main/absent.bin")[1]["X-Error-Code"] == "EntryNotFound"
    assert fetch("/datasets/test-org/absent/resolve/main/x")[0] == 404  # the dataset route, not the model's 401
    standin.gated.add(TIMM_REPO)
    status, headers, _ = fetch(f"/{TIMM_REPO}/resolve/main/model.safetensors")
    assert (status, headers["X-Error-Code"]) == (401, "GatedRepo") and "restricted" in headers["X-Error-Message"]
    assert fetch(f"/{TIMM_REPO}/resolve/main/model.safetensors", Authorization=f"Bearer {TOKEN}")[0] == 200


def test_an_unreachable_hub_or_a_missing_repo_is_one_message(env, monkeypatch, caplog):
    import huggingface_hub

    from benchmark.encoders.weights.hub import unreachable_hub

    def never(*args, **kwargs):
        raise AssertionError("an unreachable Hub is not asked again (five retries per file)")

    real = huggingface_hub.hf_hub_download
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", never)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")  # nothing listens there
    unreachable_hub.cache_clear()
    with pytest.raises(MissingWeightsError) as raised, caplog.at_level("WARNING", logger="benchmark"):
        load_encoder("siglip")
    message = str(raised.value)
    assert f"could not be downloaded (http://127.0.0.1:{port} cannot be reached:" in message
    command = "    hf download timm/vit_base_patch16_siglip_256.webli model.safetensors\n"
    assert command in message, "the command stands alone on its line: it pastes as is"
    assert "only the local cache is read. --offline or HF_HUB_OFFLINE=1 skips this check" in caplog.text
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", real)
    with HubStandin(token=TOKEN) as standin:
        monkeypatch.setenv("HF_ENDPOINT", standin.url)
        with pytest.raises(
            MissingWeightsError,
            match="test-org/absent was not found on .*: check the name; if it is private, set HF_TOKEN",
        ):
            load_encoder("timm:hf-hub:test-org/absent")


def test_local_model_folders(tmp_path, env, no_network):
    source, _ = tiny_timm_repo(tmp_path / "timm-model")
    encoder = load_encoder(f"timm:local-dir:{tmp_path / 'timm-model'}")
    assert encoder.weights.startswith(f"file:{tmp_path / 'timm-model' / 'model.safetensors'}#sha256=")
    x = torch.randn(1, 3, 160, 160)
    with torch.no_grad():
        assert torch.allclose(encoder.model(x), pooled(source, x), atol=1e-6)

    clip, clip_files = tiny_clip_repo()
    (tmp_path / "clip-model").mkdir()
    for name, content in clip_files.items():
        (tmp_path / "clip-model" / name).write_bytes(content)
    encoder = load_encoder(f"open_clip:local-dir:{tmp_path / 'clip-model'}")
    assert encoder.weights.startswith(f"file:{tmp_path / 'clip-model' / 'open_clip_model.safetensors'}#sha256=")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(encoder.model(x), clip.encode_image(x), atol=1e-6)

    with pytest.raises(ValueError, match="has none of open_clip_config.json"):
        load_encoder(f"open_clip:local-dir:{tmp_path / 'timm-model'}")
    with pytest.raises(ValueError, match="no folder"):
        load_encoder(f"timm:local-dir:{tmp_path / 'absent'}")
