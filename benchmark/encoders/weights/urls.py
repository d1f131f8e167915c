"""URL weights: checkpoints published as plain files (DINO ResNet-50, MoCo v3, timm's few URL-only weights).

They are downloaded once into torch hub's ``checkpoints`` folder (``$TORCH_HOME/hub/checkpoints``,
where ``torch.hub.load_state_dict_from_url`` caches them too), with a progress bar. A download
writes ``<file>.partial`` and, after an interruption, the next run resumes it with an HTTP
``Range`` request (or starts over where the server ignores ranges). The finished file must match
the published sha256 where one is known; its sha256 is recorded in the provenance
(``url:URL#sha256=HEX``) always. Offline (``offline=True``, ``--offline``, ``HF_HUB_OFFLINE=1``)
only the cached file is used, and a missing one raises :class:`MissingWeightsError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from benchmark.encoders.weights.files import MissingWeightsError, sha256_of

_CHUNK = 1 << 20
_TIMEOUT_S = 60.0


def checkpoints_dir() -> Path:
    """torch hub's ``checkpoints`` folder, read from the environment (``TORCH_HOME``) now."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def url_file(url: str, *, name: str, sha256: str | None = None, offline: bool = False) -> tuple[Path, str]:
    """The checkpoint at ``url`` as a file in :func:`checkpoints_dir`, downloaded unless ``offline``
    or already there, with its provenance. ``name`` says which encoder wants it, for messages."""
    path = checkpoints_dir() / url.rsplit("/", 1)[-1]
    if path.is_file():
        digest = sha256_of(path)
        if sha256 and digest != sha256:
            raise MissingWeightsError(
                f"{path} (weights of {name}) has sha256 {digest}, not the published {sha256}: "
                f"it is damaged or another file; delete it to download it again."
            )
    elif offline:
        raise MissingWeightsError(_missing_message(name, url, path))
    else:
        digest = download(url, path, sha256)
    return path, f"url:{url}#sha256={digest}"


def download(url: str, path: Path, sha256: str | None = None) -> str:
    """Download ``url`` to ``path`` through ``<path>.partial``, resuming a part left by an earlier
    try; returns the file's sha256 (checked against ``sha256`` when given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with _locked(path):
        if path.is_file():  # another process finished it meanwhile
            return sha256_of(path)
        response, have = _open(url, path, partial)
        with response:
            length = response.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else None
            digest = hashlib.sha256()
            if have:
                with open(partial, "rb") as handle:
                    for chunk in iter(lambda: handle.read(_CHUNK), b""):
                        digest.update(chunk)
            try:
                _copy(response, partial, have, total, digest)
            except (OSError, http.client.HTTPException) as error:  # a dropped connection, a timeout
                raise MissingWeightsError(_failed_message(url, path, _reason(error), partial)) from None
        size = partial.stat().st_size
        if total is not None and size != total:
            ended = f"the connection ended at {size} of {total} bytes"
            raise MissingWeightsError(_failed_message(url, path, ended, partial))
        found = digest.hexdigest()
        if sha256 and found != sha256:
            partial.unlink()
            raise MissingWeightsError(
                f"The download of {url} has sha256 {found}, not the published {sha256}, so it was deleted; "
                f"run again, or check that the URL still serves the published file."
            )
        os.replace(partial, path)
        return found


def _open(url: str, path: Path, partial: Path):
    """The answer to a GET of ``url``, asking for the rest of ``partial`` where there is one, and
    how many bytes of ``partial`` it continues (0: the whole file comes, ``partial`` starts over)."""
    for _ in range(2):
        have = partial.stat().st_size if partial.is_file() else 0
        headers = {"User-Agent": "trace-bench", "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_TIMEOUT_S)
        except urllib.error.HTTPError as error:
            if error.code == 416 and have:  # the part is no prefix the server knows: start over
                partial.unlink()
                continue
            raise MissingWeightsError(_failed_message(url, path, f"HTTP {error.code} {error.reason}")) from None
        except OSError as error:  # urllib's URLError included: refused, unknown host, timeout
            raise MissingWeightsError(_failed_message(url, path, _reason(error), partial)) from None
        resumed = have and response.status == 206 and _range_start(response) == have
        return response, have if resumed else 0
    raise MissingWeightsError(_failed_message(url, path, "the server refused every byte range"))


def _copy(response, partial: Path, have: int, total: int | None, digest) -> None:
    from tqdm.auto import tqdm

    with (
        open(partial, "ab" if have else "wb") as out,
        tqdm(
            total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024, desc=partial.stem, disable=None
        ) as bar,
    ):
        while block := response.read(_CHUNK):
            out.write(block)
            digest.update(block)
            bar.update(len(block))


def _range_start(response) -> int | None:
    """The first byte of a ``206`` answer (``Content-Range: bytes START-END/TOTAL``)."""
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(match[1]) if match else None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One download of a file at a time, across processes (``<path>.lock``)."""
    try:
        from filelock import FileLock  # comes with torch and huggingface_hub
    except ImportError:
        yield
        return
    with FileLock(str(path) + ".lock"):
        yield


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or error
    return str(reason).strip() or type(error).__name__


def _failed_message(url: str, path: Path, reason: str, partial: Path | None = None) -> str:
    kept = (
        f" The {partial.stat().st_size} bytes received are kept in {partial}: run again to resume."
        if partial is not None and partial.is_file()
        else ""
    )
    return f"Could not download {url} ({reason}).{kept}\n" + _recipe(url, path)


def _missing_message(name: str, url: str, path: Path) -> str:
    return (
        f"No local weights for {name}: {path} is missing, and this run is offline (--offline or HF_HUB_OFFLINE=1).\n"
        f"Run online to download it, or " + _recipe(url, path, "on")
    )


def _recipe(url: str, path: Path, on: str = "On") -> str:
    return (
        f"{on} a machine with internet run\n"
        f"    python -c \"import torch; torch.hub.download_url_to_file('{url}', '{path.name}')\"\n"
        f"then copy {path.name} to {path.parent} (or set TORCH_HOME), or pass it with weights=FILE (--weights FILE)."
    )
