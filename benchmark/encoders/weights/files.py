"""Weight files: how state dict files are read and loaded, the error when weights cannot be had, provenance.

Where the files come from is :mod:`.hub` (the Hugging Face Hub and its cache) and
:mod:`.urls` (published URLs, into torch hub's cache); ``weights=FILE`` (``--weights FILE``)
loads a state dict (``.safetensors`` or a torch file) into the architecture instead.

Shared by the family loaders; torch and safetensors are imported inside the functions.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.errors import UsageError

if TYPE_CHECKING:
    import torch

_WEIGHT_PREFIXES = ("module.", "model.", "backbone.", "encoder.")
_ENCODER_SUBMODULE = "base_encoder."  # MoCo-style checkpoints hold several networks side by side


class MissingWeightsError(UsageError):
    """Pretrained weights could not be had (offline and not cached, gated, unreachable); the message
    says how to get them: command lines report it in one line with exit code 2."""


def default_hf_cache() -> Path:
    """The Hugging Face hub cache folder, read from the environment now (not at import)."""
    if cache := os.environ.get("HF_HUB_CACHE"):
        return Path(cache).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def offline_mode(offline: bool = False) -> bool:
    """Whether only local caches may be used: asked for, or ``HF_HUB_OFFLINE`` (or
    ``TRANSFORMERS_OFFLINE``) set, read from the environment now."""
    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return offline or any((flag or "").strip().upper() in {"1", "ON", "YES", "TRUE"} for flag in flags)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The raw contents of a ``.safetensors`` or torch file, on the CPU (tensors only: a pickle that
    would run code is refused); a file that does not read is a UsageError naming it."""
    import torch

    if not Path(path).is_file():
        raise UsageError(f"weights file {path} is not a regular file")
    try:
        if Path(path).suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, not a checkpoint, a pickle of more than tensors
        why = (str(error) or type(error).__name__).splitlines()[0]
        raise UsageError(f"weights file {path} does not read as a state dict ({why})") from None


def clean_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint: unwraps ``state_dict``/``model`` containers, keeps a MoCo-style
    ``base_encoder``, strips ``module.``-like prefixes shared by every key."""
    import torch

    for container in ("state_dict", "model", "module"):
        if isinstance(obj, Mapping) and isinstance(obj.get(container), Mapping):
            obj = obj[container]
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    changed = True
    while changed and state:
        changed = False
        encoder_keys = [k for k in state if k.startswith(_ENCODER_SUBMODULE)]
        if encoder_keys:
            state = {k[len(_ENCODER_SUBMODULE) :]: state[k] for k in encoder_keys}
            changed = True
        for prefix in _WEIGHT_PREFIXES:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix) :]: v for k, v in state.items()}
                changed = True
    return state


def load_file_into(model: torch.nn.Module, path: Path) -> None:
    """Strictly load a state dict file into a timm model built with ``num_classes=0``; classifier
    weights in the file (the model has none) are dropped."""
    state = clean_state_dict(read_state_dict(path))
    classifiers = model.pretrained_cfg.get("classifier") or ()
    classifiers = (classifiers,) if isinstance(classifiers, str) else tuple(classifiers)
    own = model.state_dict()
    state = {k: v for k, v in state.items() if k in own or not any(k.startswith(c + ".") for c in classifiers)}
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise UsageError(
            f"{path} does not fit {model.pretrained_cfg.get('architecture', type(model).__name__)}: "
            f"missing {few_keys(result.missing_keys)}; unexpected {few_keys(result.unexpected_keys)}"
        )


def file_provenance(path: Path) -> str:
    """``file:PATH#sha256=HEX``: which file the weights came from, recorded with every result."""
    return f"file:{path.resolve()}#sha256={sha256_of(path)}"


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def few_keys(keys: Sequence[str], n: int = 5) -> str:
    if not keys:
        return "none"
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more
