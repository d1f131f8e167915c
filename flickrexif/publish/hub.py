"""Publish a release folder on the Hugging Face Hub: one commit with exactly its files, tagged ``vX.Y.Z``.

Knows nothing about Flickr: it reads the release's ``manifest.json`` (name, version, files).  The
order of operations makes a push safe to retry and the tag trustworthy:

1. everything that can be checked locally is checked first — the manifest matches the files, a
   token is present (``HF_TOKEN`` or the argument), offline mode is off — so a push that cannot
   succeed fails with a clear message before any request is made;
2. ``whoami`` proves the endpoint is reachable and the token valid, before anything is written;
3. the repository is created if needed, and an existing tag for this version stops the push
   (a published version is immutable);
4. a single commit on ``main`` adds every release file and deletes files of earlier releases that
   this one no longer has (stale shards would otherwise be picked up by globs);
5. the tag points at that commit, so ``load_dataset(repo, config, revision="vX.Y.Z")`` gets exactly
   the release, whatever is pushed later.

A push that fails after its commit landed (the tag refused, the connection dropped) says so; run
again, it finds ``main`` already holding exactly the release's files (compared by hash) and only
tags that commit, never committing the release twice.  The card's ``<this repository>``
placeholder is filled with the repository id as it is uploaded (the uploaded ``manifest.json``
lists the filled card's hash), so the card's ``load_dataset`` line works as written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
from huggingface_hub.hf_api import RepoFile

from flickrexif.publish.card import CARD_NAME, REPO_PLACEHOLDER
from flickrexif.publish.manifest import (
    MANIFEST_NAME,
    ReleaseError,
    read_manifest,
    release_name,
    sha256_file,
    verify_manifest,
)

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_KEEP_REMOTE = frozenset({".gitattributes"})  # the Hub's own file, not part of any release
_TRUE = {"1", "ON", "YES", "TRUE"}
# Where the HTTP client's own errors come from (huggingface_hub has used requests, httpx and httpx2).
_HTTP_LIBRARIES = frozenset({"httpx", "httpx2", "httpcore", "requests", "urllib3"})


class PushError(Exception):
    """The release cannot be pushed; the message says why and what to do."""


@dataclass(frozen=True)
class PushConfig:
    """Which release goes where; ``token=None`` reads ``HF_TOKEN``, ``endpoint=None`` the Hub's default."""

    release_dir: Path
    repo_id: str
    token: str | None = None
    endpoint: str | None = None
    private: bool = False
    verify: bool = True


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    tag: str
    commit: str
    added: tuple[str, ...]
    deleted: tuple[str, ...]
    reused: bool = False  # True: main already held this release (an earlier push's commit), only tagged


def _offline() -> bool:
    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return env.upper() in _TRUE or constants.is_offline_mode()


def _check_locally(config: PushConfig) -> tuple[dict, str, str]:
    """Everything checkable without the network: returns the manifest, the tag and the token."""
    if not _REPO_ID.match(config.repo_id):
        raise PushError(f"--repo {config.repo_id!r} is not of the form ORG/NAME")
    try:
        manifest = read_manifest(Path(config.release_dir))
        tag = release_name(str(manifest.get("version", "")))
    except ReleaseError as error:
        raise PushError(f"not a release folder: {error}") from None
    if config.verify:
        problems = verify_manifest(Path(config.release_dir))
        if problems:
            listed = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
            raise PushError(f"{config.release_dir} does not match its manifest ({listed}); rebuild the release")
    token = config.token or os.environ.get("HF_TOKEN")
    if not token:
        raise PushError(
            "no Hugging Face token: set HF_TOKEN to a token with write access "
            "(https://huggingface.co/settings/tokens); nothing was pushed"
        )
    if _offline():
        raise PushError("offline mode is on (HF_HUB_OFFLINE); unset it to push; nothing was pushed")
    return manifest, tag, token


def _reach(api: HfApi, endpoint: str) -> None:
    """Fail early and clearly when the Hub is unreachable or the token is refused."""
    try:
        api.whoami()
    except OfflineModeIsEnabled:
        raise PushError("offline mode is on (HF_HUB_OFFLINE); unset it to push; nothing was pushed") from None
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status in (401, 403):
            raise PushError(
                f"{endpoint} refused the token (HTTP {status}); check HF_TOKEN; nothing was pushed"
            ) from None
        raise PushError(f"{endpoint} answered HTTP {status} to a login check; nothing was pushed") from None
    except Exception as error:  # noqa: BLE001 - connection refused, DNS, TLS: all mean "cannot reach"
        raise PushError(f"cannot reach {endpoint} ({type(error).__name__}: {error}); nothing was pushed") from None


def _uploads(folder: Path, manifest: dict, repo: str) -> dict[str, Path | bytes]:
    """Path in the repository → what to upload: the release's files, the card with its placeholder filled."""
    files = sorted({entry["path"] for entry in manifest["files"]} | {MANIFEST_NAME})
    uploads: dict[str, Path | bytes] = {path: folder / path for path in files}
    card = folder / CARD_NAME
    if CARD_NAME in uploads and REPO_PLACEHOLDER.encode() in (text := card.read_bytes()):
        filled = text.replace(REPO_PLACEHOLDER.encode(), repo.encode())
        uploads[CARD_NAME] = filled
        entries = [
            {**e, "size": len(filled), "sha256": hashlib.sha256(filled).hexdigest()} if e["path"] == CARD_NAME else e
            for e in manifest["files"]
        ]
        uploads[MANIFEST_NAME] = (json.dumps({**manifest, "files": entries}, indent=2, sort_keys=True) + "\n").encode()
    return uploads


def _remote_files(api: HfApi, repo: str, revision: str) -> dict[str, RepoFile]:
    tree = api.list_repo_tree(repo, recursive=True, revision=revision, repo_type="dataset")
    return {entry.path: entry for entry in tree if isinstance(entry, RepoFile)}


def _same(remote: RepoFile | None, content: Path | bytes) -> bool:
    """Whether the file on the Hub has ``content`` (LFS files by sha256, others by git blob id)."""
    if remote is None:
        return False
    size = content.stat().st_size if isinstance(content, Path) else len(content)
    if remote.size != size:
        return False
    if remote.lfs is not None:  # shards: streamed, never read whole
        digest = sha256_file(content) if isinstance(content, Path) else hashlib.sha256(content).hexdigest()
        return remote.lfs.sha256 == digest
    data = content.read_bytes() if isinstance(content, Path) else content  # small files only
    return remote.blob_id == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _network_failure(error: BaseException) -> bool:
    """A refusal by the Hub or a transport failure (reset, timeout, dropped connection): not a bug."""
    if isinstance(error, (HfHubHTTPError, OSError)):
        return True
    return any(cls.__module__.split(".")[0] in _HTTP_LIBRARIES for cls in type(error).__mro__)


def _failure(error: Exception, endpoint: str, repo: str, tag: str, step: str, commit: str | None) -> str:
    """What went wrong while ``step``, what has landed on the Hub, and what running again does."""
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code if error.response is not None else None
        what = f"the Hub refused {step} for {repo} (HTTP {status}: {error})"
    else:
        what = f"the connection to {endpoint} was lost while {step} for {repo} ({type(error).__name__}: {error})"
    if step == "tagging":
        return (
            f"{what}: commit {commit[:12]} with the release is on main but is not tagged {tag}; "
            "run the same push again to tag that commit (the release is not committed twice)"
        )
    if step == "committing the release":
        return f"{what}; {tag} is not tagged; run the same push again: if the commit did land, the re-run only tags it"
    return f"{what}; nothing was committed; run the same push again"


def push_release(config: PushConfig) -> PushResult:
    """Upload ``config.release_dir`` to the dataset repo ``config.repo_id`` and tag it (see module doc)."""
    manifest, tag, token = _check_locally(config)
    api = HfApi(endpoint=config.endpoint, token=token)
    endpoint = api.endpoint
    _reach(api, endpoint)
    repo = config.repo_id
    name = manifest.get("name") or "dataset"
    uploads = _uploads(Path(config.release_dir), manifest, repo)
    step, commit_oid = "creating the repository", None
    try:
        api.create_repo(repo, repo_type="dataset", private=config.private, exist_ok=True)
        step = "reading its branches and tags"
        refs = api.list_repo_refs(repo, repo_type="dataset")
        if any(ref.name == tag for ref in refs.tags):
            raise PushError(f"{repo} already has tag {tag}; a published version is immutable, release a new version")
        head = next((ref.target_commit for ref in refs.branches if ref.name == constants.DEFAULT_REVISION), None)
        remote = _remote_files(api, repo, head) if head else {}
        stale = sorted(set(remote) - set(uploads) - _KEEP_REMOTE)
        if head and not stale and all(_same(remote.get(path), content) for path, content in uploads.items()):
            commit_oid = head  # an earlier push committed this release but did not tag it: tag that commit
        else:
            step = "committing the release"
            operations = [CommitOperationDelete(path_in_repo=path) for path in stale]
            operations += [CommitOperationAdd(path_in_repo=p, path_or_fileobj=c) for p, c in uploads.items()]
            commit = api.create_commit(
                repo,
                operations,
                commit_message=f"{name} {tag}",
                repo_type="dataset",
                commit_description=f"Release {tag}: {len(uploads)} files from the release manifest.",
            )
            commit_oid = commit.oid
        step = "tagging"
        api.create_tag(repo, tag=tag, revision=commit_oid, repo_type="dataset", tag_message=f"{name} {tag}")
    except PushError:
        raise
    except Exception as error:
        if not _network_failure(error):
            raise
        raise PushError(_failure(error, endpoint, repo, tag, step, commit_oid)) from None
    reused = commit_oid == head
    return PushResult(repo, tag, commit_oid, () if reused else tuple(uploads), tuple(stale), reused)
