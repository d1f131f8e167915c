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
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

from flickrexif.publish.manifest import MANIFEST_NAME, ReleaseError, read_manifest, release_name, verify_manifest

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_KEEP_REMOTE = frozenset({".gitattributes"})  # the Hub's own file, not part of any release
_TRUE = {"1", "ON", "YES", "TRUE"}


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


def push_release(config: PushConfig) -> PushResult:
    """Upload ``config.release_dir`` to the dataset repo ``config.repo_id`` and tag it (see module doc)."""
    manifest, tag, token = _check_locally(config)
    api = HfApi(endpoint=config.endpoint, token=token)
    endpoint = api.endpoint
    _reach(api, endpoint)
    repo = config.repo_id
    try:
        api.create_repo(repo, repo_type="dataset", private=config.private, exist_ok=True)
        refs = api.list_repo_refs(repo, repo_type="dataset")
        if any(ref.name == tag for ref in refs.tags):
            raise PushError(f"{repo} already has tag {tag}; a published version is immutable, release a new version")
        has_main = any(ref.name == constants.DEFAULT_REVISION for ref in refs.branches)
        remote = set(api.list_repo_files(repo, repo_type="dataset")) if has_main else set()
        folder = Path(config.release_dir)
        files = sorted({entry["path"] for entry in manifest["files"]} | {MANIFEST_NAME})
        stale = sorted(remote - set(files) - _KEEP_REMOTE)
        operations = [CommitOperationDelete(path_in_repo=path) for path in stale]
        operations += [CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(folder / path)) for path in files]
        name = manifest.get("name") or "dataset"
        commit = api.create_commit(
            repo,
            operations,
            commit_message=f"{name} {tag}",
            repo_type="dataset",
            commit_description=f"Release {tag}: {len(files)} files from the release manifest.",
        )
        api.create_tag(repo, tag=tag, revision=commit.oid, repo_type="dataset", tag_message=f"{name} {tag}")
    except PushError:
        raise
    except HfHubHTTPError as error:
        raise PushError(f"the Hub refused the push to {repo}: {error}") from None
    return PushResult(repo, tag, commit.oid, tuple(files), tuple(stale))
