"""Hub weights: a model repository's file, downloaded on first use into the Hugging Face cache, or read from it.

Online, :func:`hub_file` calls ``huggingface_hub.hf_hub_download``, so ``HF_ENDPOINT``, ``HF_TOKEN``
(gated and private repositories), the normal cache (``HF_HUB_CACHE``) and its progress bar all work as
for any Hugging Face tool, and a later run that cannot reach the Hub is served from the cache.
Offline (``offline=True``, ``--offline`` or ``HF_HUB_OFFLINE=1``) only the cache is read, without a
connection. Every failure becomes one :class:`MissingWeightsError` saying what to do, so a run stops
before any work with one line and exit code 2, never a traceback.

Provenance is ``hf-cache:REPO@COMMIT/FILE``, the commit being the cache snapshot the file was read from.
huggingface_hub is imported inside the functions.
"""

from __future__ import annotations

import functools
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.encoders.weights.files import MissingWeightsError
from benchmark.errors import UsageError

if TYPE_CHECKING:
    from benchmark.encoders.registry import EncoderSpec

_DEFAULT_ENDPOINT = "https://huggingface.co"
logger = logging.getLogger(__name__)
# what may follow a family's "name:" besides its own names (see model_source)
SOURCE_PATTERN = r"hf-hub:[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+(@[A-Za-z0-9_.\-/]+)?|local-dir:\S.*"
_TRANSPORT_MODULES = ("httpx", "httpcore", "h11", "requests", "urllib3", "ssl")  # and httpx2, httpcore2...


def hub_file(
    spec: EncoderSpec,
    repo_id: str,
    filenames: Sequence[str],
    cache: Path,
    *,
    revision: str | None = None,
    offline: bool = False,
) -> tuple[Path, str]:
    """The first of ``filenames`` (in order of preference) that ``repo_id`` has, as a file in ``cache``,
    with its provenance; downloaded unless ``offline`` or already there."""
    if offline:
        if found := find_in_hf_cache(repo_id, filenames, cache, revision):
            return found
        raise MissingWeightsError(missing_weights_message(spec, repo_id, filenames, cache))
    endpoint = hub_endpoint()
    if (why := unreachable_hub(endpoint)) is not None:  # one quick look, instead of five retries per file
        if found := find_in_hf_cache(repo_id, filenames, cache, revision):
            return found
        reason = f"{endpoint} cannot be reached: {why}"
        raise MissingWeightsError(missing_weights_message(spec, repo_id, filenames, cache, reason=reason))
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    unreachable: BaseException | None = None
    for filename in filenames:
        try:
            path = hf_hub_download(
                repo_id, filename, revision=revision, cache_dir=cache, endpoint=endpoint, library_name="trace-bench"
            )
        except RemoteEntryNotFoundError:
            continue  # the repository has no such file: try the next name
        except GatedRepoError:
            raise MissingWeightsError(_access_message(spec, repo_id, endpoint, gated=True)) from None
        except RepositoryNotFoundError:
            raise MissingWeightsError(_access_message(spec, repo_id, endpoint, gated=False)) from None
        except RevisionNotFoundError:
            raise MissingWeightsError(
                f"{_name(spec)}: {repo_id} has no revision {revision!r} on {endpoint}; name one it has "
                f"(a branch, tag or commit)."
            ) from None
        except (HfHubHTTPError, OSError) as error:  # unreachable, refused, a server error: the cache may hold it
            unreachable = error
            break  # (huggingface_hub has retried already) the other names would fail alike
        except Exception as error:
            if not _is_transport_error(error):
                raise
            unreachable = error
            break
        else:
            return Path(path), _provenance(repo_id, filename, Path(path), cache)
    if unreachable is not None:
        if found := find_in_hf_cache(repo_id, filenames, cache, revision):
            return found
        raise MissingWeightsError(
            missing_weights_message(spec, repo_id, filenames, cache, reason=f"from {endpoint}: {_reason(unreachable)}")
        )
    at = f" at revision {revision}" if revision else ""
    raise MissingWeightsError(
        f"{_name(spec)}: {repo_id}{at} on {endpoint} has none of {', '.join(filenames)}; "
        f"pass a state dict file with weights=FILE (--weights FILE)."
    )


REACH_TIMEOUT_S = 5.0


@functools.cache
def unreachable_hub(endpoint: str) -> str | None:
    """Why ``endpoint`` cannot be reached (no route, no name, a timeout), or None when it answers at all.

    Checked once per process with a short timeout and said once: without it huggingface_hub retries
    each file five times over half a minute before the cache is read.
    """
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=REACH_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        return None  # it answered (even 404 or 401): the Hub is there
    except (urllib.error.URLError, OSError, ValueError) as error:
        why = _reason(error)
        logger.warning(
            "The Hugging Face Hub at %s cannot be reached (%s): only the local cache is read. --offline or "
            "HF_HUB_OFFLINE=1 skips this check.",
            endpoint,
            why,
        )
        return why
    return None


def hub_endpoint() -> str:
    """``HF_ENDPOINT``, read from the environment now (huggingface_hub reads it once, at import)."""
    return (os.environ.get("HF_ENDPOINT") or _DEFAULT_ENDPOINT).rstrip("/")


def find_in_hf_cache(
    repo_id: str, filenames: Sequence[str], cache: Path, revision: str | None = None
) -> tuple[Path, str] | None:
    """A file of a model repo in the local hub cache (no network), with ``hf-cache:`` provenance."""
    from huggingface_hub import try_to_load_from_cache

    repo_dir = _repo_dir(repo_id, cache)
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache, revision=revision)
        path = Path(found) if isinstance(found, str) else None
        if path is None or not path.is_file():
            # A cache copied without refs/: take the newest snapshot that has the file.
            snapshots = sorted(repo_dir.glob(f"snapshots/*/{filename}"), key=lambda p: p.stat().st_mtime, reverse=True)
            path = next((p for p in snapshots if p.is_file()), None)
        if path is not None:
            return path, _provenance(repo_id, filename, path, cache)
    return None


def missing_weights_message(
    spec: EncoderSpec, repo_id: str, filenames: Sequence[str], cache: Path, reason: str | None = None
) -> str:
    """How to bring ``repo_id``'s weights file into ``cache``: offline (no ``reason``), or after a
    download failed for ``reason``."""
    alternatives = (
        f"(where the repository has no {filenames[0]}, use {' or '.join(filenames[1:])}) " if len(filenames) > 1 else ""
    )
    why = (
        f"could not be downloaded ({reason})"
        if reason
        else "is not in the Hugging Face cache, and this run is offline (--offline or HF_HUB_OFFLINE=1)"
    )
    return (
        f"No local weights for {_name(spec)}: {repo_id}/{filenames[0]} {why}; the cache is {cache}.\n"
        f"{'Check the connection and HF_ENDPOINT, or' if reason else 'Run online to download it, or'} "
        f"on a machine with internet run\n"
        f"    hf download {repo_id} {filenames[0]}\n"
        f"{alternatives}then copy its folder ~/.cache/huggingface/hub/{_repo_dir(repo_id, Path()).name} into "
        f"{cache} (or point HF_HUB_CACHE at a copied cache), or pass a state dict file with --weights FILE."
    )


def _access_message(spec: EncoderSpec, repo_id: str, endpoint: str, *, gated: bool) -> str:
    """Why a repository's files were refused: gated (terms to accept, a token to send) or not found (or private)."""
    from huggingface_hub import get_token

    token = get_token() is not None
    if gated and not token:
        return (
            f"{_name(spec)}: {repo_id} on {endpoint} is gated: accept its terms at {endpoint}/{repo_id} with your "
            f"Hugging Face account, then set HF_TOKEN to an access token of that account "
            f"(https://huggingface.co/settings/tokens) or run `hf auth login`."
        )
    if gated:
        return (
            f"{_name(spec)}: {repo_id} on {endpoint} is gated, and the token in HF_TOKEN (or from `hf auth login`) "
            f"has no access to it: accept its terms at {endpoint}/{repo_id} with the token's account, or use another token."
        )
    private = (
        "the token in HF_TOKEN (or from `hf auth login`) has no access to it"
        if token
        else "set HF_TOKEN to an access token (https://huggingface.co/settings/tokens) or run `hf auth login`"
    )
    return f"{_name(spec)}: {repo_id} was not found on {endpoint}: check the name; if it is private, {private}."


def _provenance(repo_id: str, filename: str, path: Path, cache: Path) -> str:
    snapshots = _repo_dir(repo_id, cache) / "snapshots"
    commit = path.relative_to(snapshots).parts[0] if path.is_relative_to(snapshots) else "?"
    return f"hf-cache:{repo_id}@{commit}/{filename}"


def _repo_dir(repo_id: str, cache: Path) -> Path:
    return cache / ("models--" + repo_id.replace("/", "--"))


def _name(spec: EncoderSpec) -> str:
    return f"{spec.alias} ({spec.key})" if spec.alias else spec.key


def _is_transport_error(error: BaseException) -> bool:
    """A connection, TLS or timeout error of the HTTP client huggingface_hub uses, whichever it is."""
    return any(type(e).__module__.startswith(_TRANSPORT_MODULES) for e in _chain(error))


def _reason(error: BaseException, limit: int = 200) -> str:
    """The innermost cause in one short line: ``Connection refused``, ``404 Client Error``..."""
    text = next((str(e) for e in reversed(_chain(error)) if str(e).strip()), type(error).__name__)
    line = next((part.strip() for part in text.splitlines() if part.strip()), text)
    return line if len(line) <= limit else line[:limit] + "..."


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def model_source(name: str) -> tuple[str | None, str, str | None]:
    """Split a family's name into ``(source, where, revision)``: ``("hf-hub", "ORG/REPO", REVISION or
    None)`` for ``hf-hub:ORG/REPO[@REVISION]``, ``("local-dir", FOLDER, None)`` for ``local-dir:FOLDER``
    (the prefixes open_clip and timm use themselves), else ``(None, name, None)``."""
    source, sep, rest = name.partition(":")
    if sep and source == "hf-hub":
        repo_id, _, revision = rest.partition("@")
        return source, repo_id, revision or None
    if sep and source == "local-dir":
        return source, rest, None
    return None, name, None


def folder_file(spec: EncoderSpec, folder: Path, filenames: Sequence[str]) -> Path:
    """The first of ``filenames`` in a local model folder; a ``UsageError`` naming them otherwise."""
    if not folder.is_dir():
        raise UsageError(f"{spec.key}: no folder {folder}")
    found = next((folder / name for name in filenames if (folder / name).is_file()), None)
    if found is None:
        raise UsageError(f"{spec.key}: {folder} has none of {', '.join(filenames)}")
    return found
