"""flickrexif push: one commit with the release's files and a vX.Y.Z tag, against a loopback Hub."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from flickrexif.dataset.builder import FlickrExifDataset
from flickrexif.dataset.spec import BuildConfig
from flickrexif.publish.hub import PushConfig, PushError, push_release
from flickrexif.publish.manifest import MANIFEST_NAME, read_manifest, verify_manifest, write_manifest
from flickrexif.publish.release import release
from flickrexif.testing.hub import GITATTRIBUTES, HubStandin

TOKEN = "hf_loopback_token"
REPO = "flickrexif-org/FlickrExif"


@pytest.fixture
def hub():
    with HubStandin(token=TOKEN) as server:
        yield server


@pytest.fixture(autouse=True)
def online(monkeypatch):
    """Tests run with HF_HUB_OFFLINE unset and no token in the environment unless they set one."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)


@pytest.fixture(scope="module")
def built_release(crawled_db, small_specs, tmp_path_factory):
    config = BuildConfig(db=crawled_db.db, images=crawled_db.images, specs=small_specs, attributes=("Make",))
    return release(FlickrExifDataset(config), tmp_path_factory.mktemp("releases"), "1.0.0").path


def small_release(folder: Path, version: str, files: dict[str, bytes]) -> Path:
    """A release folder made by hand: the push code only knows manifests, not FlickrExif."""
    target = folder / f"v{version}"
    for path, content in files.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_bytes(content)
    write_manifest(target, name="Toy", version=version)
    return target


def test_push_commits_exactly_the_release_and_tags_it(hub, built_release, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    result = push_release(PushConfig(built_release, REPO, endpoint=hub.url))
    assert result.tag == "v1.0.0" and result.deleted == ()
    repo = hub.repos[REPO]
    assert repo.repo_type == "dataset"
    assert repo.tags == {"v1.0.0": result.commit} and repo.branches["main"] == result.commit
    committed = repo.files_at("v1.0.0")
    manifest = read_manifest(built_release)
    expected = {entry["path"] for entry in manifest["files"]} | {MANIFEST_NAME, ".gitattributes"}
    assert set(committed) == expected
    for path in expected - {".gitattributes", "README.md", MANIFEST_NAME}:
        assert committed[path] == (built_release / path).read_bytes(), path
    card = (built_release / "README.md").read_bytes()  # the card names the repository once pushed
    assert b"<this repository>" in card and committed["README.md"] == card.replace(b"<this repository>", REPO.encode())
    pushed = json.loads(committed[MANIFEST_NAME])
    readme = next(entry for entry in pushed["files"] if entry["path"] == "README.md")
    assert readme["sha256"] == hashlib.sha256(committed["README.md"]).hexdigest()
    assert {**pushed, "files": []} == {**manifest, "files": []}
    assert repo.commits[result.commit].message == "FlickrExif v1.0.0"
    api = HfApi(endpoint=hub.url, token=TOKEN)
    assert set(api.list_repo_files(REPO, repo_type="dataset", revision="v1.0.0")) == expected
    assert [tag.name for tag in api.list_repo_refs(REPO, repo_type="dataset").tags] == ["v1.0.0"]


def test_a_new_version_removes_stale_files_and_the_old_tag_keeps_its_files(hub, tmp_path):
    first = small_release(
        tmp_path,
        "1.0.0",
        {"README.md": b"# one\n", "data/a-00000-of-00002.parquet": b"a0", "data/a-00001-of-00002.parquet": b"a1"},
    )
    second = small_release(tmp_path, "1.1.0", {"README.md": b"# two\n", "data/a-00000-of-00001.parquet": b"b0"})
    one = push_release(PushConfig(first, REPO, token=TOKEN, endpoint=hub.url))
    two = push_release(PushConfig(second, REPO, token=TOKEN, endpoint=hub.url))
    assert set(two.deleted) == {"data/a-00000-of-00002.parquet", "data/a-00001-of-00002.parquet"}
    repo = hub.repos[REPO]
    assert set(repo.files_at("v1.1.0")) == {
        ".gitattributes",
        "README.md",
        "data/a-00000-of-00001.parquet",
        MANIFEST_NAME,
    }
    assert repo.files_at("v1.1.0")[".gitattributes"] == GITATTRIBUTES
    assert repo.files_at("v1.0.0")["data/a-00001-of-00002.parquet"] == b"a1"
    assert repo.tags == {"v1.0.0": one.commit, "v1.1.0": two.commit}
    assert repo.commits[two.commit].parent == one.commit


def test_an_existing_tag_stops_the_push_before_any_commit(hub, tmp_path):
    folder = small_release(tmp_path, "1.0.0", {"README.md": b"# one\n"})
    push_release(PushConfig(folder, REPO, token=TOKEN, endpoint=hub.url))
    commits = dict(hub.repos[REPO].commits)
    with pytest.raises(PushError, match="already has tag v1.0.0"):
        push_release(PushConfig(folder, REPO, token=TOKEN, endpoint=hub.url))
    assert hub.repos[REPO].commits == commits


def test_without_a_token_or_offline_nothing_is_requested(hub, tmp_path, monkeypatch):
    folder = small_release(tmp_path, "1.0.0", {"README.md": b"# one\n"})
    with pytest.raises(PushError, match="HF_TOKEN"):
        push_release(PushConfig(folder, REPO, endpoint=hub.url))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PushError, match="offline"):
        push_release(PushConfig(folder, REPO, token=TOKEN, endpoint=hub.url))
    assert hub.requests == []


def test_refused_token_unreachable_hub_and_bad_release_are_clear(hub, tmp_path):
    folder = small_release(tmp_path, "1.0.0", {"README.md": b"# one\n"})
    with pytest.raises(PushError, match="refused the token"):
        push_release(PushConfig(folder, REPO, token="hf_wrong", endpoint=hub.url))
    assert REPO not in hub.repos
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(PushError, match="cannot reach"):
        push_release(PushConfig(folder, REPO, token=TOKEN, endpoint=closed))
    with pytest.raises(PushError, match="ORG/NAME"):
        push_release(PushConfig(folder, "no-slash", token=TOKEN, endpoint=hub.url))
    (folder / "README.md").write_bytes(b"# tampered\n")
    with pytest.raises(PushError, match="does not match its manifest"):
        push_release(PushConfig(folder, REPO, token=TOKEN, endpoint=hub.url))
    with pytest.raises(PushError, match="not a release folder"):
        push_release(PushConfig(tmp_path, REPO, token=TOKEN, endpoint=hub.url))
    assert REPO not in hub.repos


def release_commits(hub: HubStandin) -> list[str]:
    """Messages of the commits on main, oldest first (the stand-in's initial commit left out)."""
    repo, messages = hub.repos[REPO], []
    oid = repo.branches["main"]
    while oid is not None:
        commit = repo.commits[oid]
        messages.append(commit.message)
        oid = commit.parent
    return messages[::-1][1:]


def test_a_refused_tag_is_reported_and_a_rerun_tags_the_landed_commit(hub, tmp_path):
    folder = small_release(tmp_path, "1.0.0", {"README.md": b"# one\n", "data/a-00000-of-00001.parquet": b"a"})
    hub.fail("tag", 500)
    with pytest.raises(PushError, match=r"is on main but is not tagged v1\.0\.0.*run the same push again") as caught:
        push_release(PushConfig(folder, REPO, token=TOKEN, endpoint=hub.url))
    assert "HTTP 500" in str(caught.value)
    repo = hub.repos[REPO]
    landed = repo.branches["main"]
    assert repo.tags == {} and release_commits(hub) == ["Toy v1.0.0"]
    again = push_release(PushConfig(folder, REPO, token=TOKEN, endpoint=hub.url))
    assert again.reused and again.commit == landed and again.added == ()
    assert repo.tags == {"v1.0.0": landed} and release_commits(hub) == ["Toy v1.0.0"]


def test_a_dropped_connection_is_a_message_and_a_rerun_does_not_commit_twice(hub, tmp_path):
    folder = small_release(tmp_path, "1.0.0", {"README.md": b"# one\n"})
    hub.fail("commit", None, after=True)  # the commit lands, its answer is lost
    with pytest.raises(PushError, match=r"connection to .* was lost while committing the release") as caught:
        push_release(PushConfig(folder, REPO, token=TOKEN, endpoint=hub.url))
    assert "if the commit did land, the re-run only tags it" in str(caught.value)
    assert release_commits(hub) == ["Toy v1.0.0"] and hub.repos[REPO].tags == {}
    again = push_release(PushConfig(folder, REPO, token=TOKEN, endpoint=hub.url))
    assert again.reused and release_commits(hub) == ["Toy v1.0.0"]
    assert hub.repos[REPO].tags == {"v1.0.0": hub.repos[REPO].branches["main"]}


def test_a_connection_dropped_before_the_commit_lands_is_retried_with_a_commit(hub, tmp_path):
    folder = small_release(tmp_path, "1.0.0", {"README.md": b"# one\n"})
    hub.fail("commit", None)
    with pytest.raises(PushError, match="was lost while committing"):
        push_release(PushConfig(folder, REPO, token=TOKEN, endpoint=hub.url))
    assert release_commits(hub) == []
    again = push_release(PushConfig(folder, REPO, token=TOKEN, endpoint=hub.url))
    assert not again.reused and release_commits(hub) == ["Toy v1.0.0"]
    hub.fail("tag", None)  # a tag request whose connection drops
    newer = small_release(tmp_path, "1.1.0", {"README.md": b"# two\n"})
    with pytest.raises(PushError, match=r"was lost while tagging .* is not tagged v1\.1\.0"):
        push_release(PushConfig(newer, REPO, token=TOKEN, endpoint=hub.url))


def test_the_cards_repository_placeholder_is_filled_on_push(hub, tmp_path):
    card = b'ds = load_dataset("<this repository>", "Make")\n'
    folder = small_release(tmp_path, "1.0.0", {"README.md": card, "data/a.parquet": b"a"})
    push_release(PushConfig(folder, REPO, token=TOKEN, endpoint=hub.url))
    files = hub.repos[REPO].files_at("v1.0.0")
    assert files["README.md"] == f'ds = load_dataset("{REPO}", "Make")\n'.encode()
    assert files["data/a.parquet"] == b"a" and (folder / "README.md").read_bytes() == card  # local release unchanged
    pushed = tmp_path / "pushed"
    for path, content in files.items():
        (pushed / path).parent.mkdir(parents=True, exist_ok=True)
        (pushed / path).write_bytes(content)
    (pushed / ".gitattributes").unlink()
    assert verify_manifest(pushed) == []  # the tag holds a release whose manifest matches its files
