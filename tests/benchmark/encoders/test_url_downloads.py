"""URL weights: downloaded once into torch hub's cache from a loopback file host, resumably and checked."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import socket

import pytest
import torch
from loopback_weights import FileHost

from benchmark.encoders import MissingWeightsError, load_encoder
from benchmark.encoders.url_checkpoints import CHECKPOINTS
from benchmark.encoders.weights.urls import checkpoints_dir, url_file

FILE = "/moco-v3/tiny/tiny.pth.tar"
CONTENT = bytes(range(256)) * 4096  # 1 MiB: several pieces
SHA256 = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture
def host():
    with FileHost({FILE: CONTENT}) as server:
        yield server


def test_first_use_downloads_into_torch_hub_checkpoints(torch_home, host):
    path, provenance = url_file(host.url + FILE, name="tiny", sha256=SHA256)
    assert path == torch_home / "tiny.pth.tar" == checkpoints_dir() / "tiny.pth.tar"
    assert path.read_bytes() == CONTENT and provenance == f"url:{host.url}{FILE}#sha256={SHA256}"
    assert sorted(p.name for p in torch_home.iterdir() if not p.name.endswith(".lock")) == ["tiny.pth.tar"]
    host.close()  # the second use needs no server
    assert url_file(host.url + FILE, name="tiny", sha256=SHA256) == (path, provenance)


def test_an_interrupted_download_resumes_with_a_range_request(torch_home, host):
    host.cut_after = 300_000
    with pytest.raises(MissingWeightsError, match="kept in .*tiny.pth.tar.partial: run again to resume") as raised:
        url_file(host.url + FILE, name="tiny", sha256=SHA256)
    assert "\n" in str(raised.value) and "--weights FILE" in str(raised.value)
    partial = torch_home / "tiny.pth.tar.partial"
    assert partial.read_bytes() == CONTENT[:300_000] and not (torch_home / "tiny.pth.tar").exists()

    path, provenance = url_file(host.url + FILE, name="tiny", sha256=SHA256)
    assert host.requests[-1] == ("GET", FILE, "bytes=300000-")
    assert path.read_bytes() == CONTENT and provenance.endswith(SHA256) and not partial.exists()


def test_a_server_without_ranges_starts_over(torch_home, host):
    host.cut_after, host.ranges = 1000, False
    with pytest.raises(MissingWeightsError):
        url_file(host.url + FILE, name="tiny")
    path, provenance = url_file(host.url + FILE, name="tiny")  # no published hash: recorded
    assert path.read_bytes() == CONTENT and provenance.endswith(f"#sha256={SHA256}")


def test_a_wrong_checksum_deletes_the_download(torch_home, host):
    with pytest.raises(MissingWeightsError, match=f"has sha256 {SHA256}, not the published 0000"):
        url_file(host.url + FILE, name="tiny", sha256="0" * 64)
    assert [p.name for p in torch_home.iterdir() if not p.name.endswith(".lock")] == []
    torch_home.joinpath("tiny.pth.tar").write_bytes(b"damaged")
    with pytest.raises(MissingWeightsError, match="damaged or another file; delete it"):
        url_file(host.url + FILE, name="tiny", sha256=SHA256)


def test_offline_or_unreachable_is_one_message(torch_home, host, monkeypatch):
    with pytest.raises(MissingWeightsError, match=r"No local weights for tiny: .* this run is offline") as raised:
        url_file(host.url + FILE, name="tiny", offline=True)
    assert f"download_url_to_file('{host.url}{FILE}', 'tiny.pth.tar')" in str(raised.value)
    assert host.requests == []
    with pytest.raises(MissingWeightsError, match=r"Could not download .*/absent.pth \(HTTP 404"):
        url_file(host.url + "/absent.pth", name="tiny")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(MissingWeightsError, match=r"Could not download http://127.0.0.1:\d+/x.pth \(.*refused"):
        url_file(f"http://127.0.0.1:{port}/x.pth", name="tiny")


def test_dino_resnet50_downloads_from_its_url_on_first_use(torch_home, monkeypatch):
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(2)
    reference = torchvision.models.resnet50(weights=None)
    reference.fc = torch.nn.Identity()
    reference.eval()
    path = "/dino/dino_resnet50_pretrain/dino_resnet50_pretrain.pth"
    with FileHost() as host:
        buffer = io.BytesIO()
        torch.save(reference.state_dict(), buffer)
        host.files[path] = buffer.getvalue()
        published = CHECKPOINTS["dino"]["resnet50"]
        checkpoint = dataclasses.replace(
            published, url=host.url + path, sha256=hashlib.sha256(buffer.getvalue()).hexdigest()
        )
        monkeypatch.setitem(CHECKPOINTS["dino"], "resnet50", checkpoint)
        encoder = load_encoder("dino-resnet50")
    assert encoder.weights == f"url:{checkpoint.url}#sha256={checkpoint.sha256}"
    assert (torch_home / "dino_resnet50_pretrain.pth").is_file()
    loaded = encoder.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in reference.state_dict().items())
    with pytest.raises(MissingWeightsError, match="this run is offline"):
        load_encoder("mocov3-resnet50", offline=True)
