"""Weight files: where pretrained weights are found offline, how state dict files are read, and provenance.

Nothing is downloaded. Hub weights are looked up in the local Hugging Face cache
(``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``; for timm's few URL-only
weights, torch hub's ``checkpoints`` folder) *before* open_clip or timm is called, and a miss raises
:class:`MissingWeightsError` saying how to fetch them elsewhere and copy them here. ``weights=FILE``
loads a state dict (``.safetensors`` or a torch file) into the architecture instead.

Shared by the family loaders; torch, safetensors and huggingface_hub are imported inside the functions.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from benchmark.encoders.registry import EncoderSpec

_WEIGHT_PREFIXES = ("module.", "model.", "backbone.", "encoder.")
_ENCODER_SUBMODULE = "base_encoder."  # MoCo-style checkpoints hold several networks side by side


class MissingWeightsError(ValueError):
    """Pretrained weights are not on this machine; the message says how to get them here."""


def default_hf_cache() -> Path:
    """The Hugging Face hub cache folder, read from the environment now (not at import)."""
    if cache := os.environ.get("HF_HUB_CACHE"):
        return Path(cache).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def find_in_hf_cache(
    repo_id: str, filenames: Iterable[str], cache: Path, revision: str | None = None
) -> tuple[Path, str] | None:
    """A file of a model repo in the local hub cache (no network), with ``hf-cache:`` provenance."""
    from huggingface_hub import try_to_load_from_cache

    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache, revision=revision)
        path = Path(found) if isinstance(found, str) else None
        if path is None or not path.is_file():
            # A cache copied without refs/: take the newest snapshot that has the file.
            snapshots = sorted(repo_dir.glob(f"snapshots/*/{filename}"), key=lambda p: p.stat().st_mtime, reverse=True)
            path = next((p for p in snapshots if p.is_file()), None)
        if path is not None:
            snapshot = (
                path.relative_to(repo_dir / "snapshots").parts[0]
                if path.is_relative_to(repo_dir / "snapshots")
                else "?"
            )
            return path, f"hf-cache:{repo_id}@{snapshot}/{filename}"
    return None


def missing_weights_message(spec: EncoderSpec, repo_id: str, filenames: Sequence[str], cache: Path) -> str:
    """How to bring ``repo_id``'s weights file into ``cache`` from a machine with internet."""
    name = spec.alias or spec.key
    alternatives = (
        f" (or {', '.join(filenames[1:])} where the repository has no {filenames[0]})" if len(filenames) > 1 else ""
    )
    return (
        f"No local weights for {name} ({spec.key}): {repo_id}/{filenames[0]} is not in the Hugging Face cache at "
        f"{cache}, and nothing is downloaded here.\n"
        f"On a machine with internet run\n"
        f"    hf download {repo_id} {filenames[0]}{alternatives}\n"
        f"(or: python -c \"from huggingface_hub import hf_hub_download; hf_hub_download('{repo_id}', '{filenames[0]}')\"),\n"
        f"then copy its folder ~/.cache/huggingface/hub/models--{repo_id.replace('/', '--')} into {cache} "
        f"(or point HF_HUB_CACHE at a copied cache), or pass a state dict file with weights=FILE (--weights FILE)."
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The raw contents of a ``.safetensors`` or torch file, on the CPU."""
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    return torch.load(path, map_location="cpu", weights_only=True)


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
        raise ValueError(
            f"{path} does not fit {model.pretrained_cfg.get('architecture', type(model).__name__)}: "
            f"missing {few_keys(result.missing_keys)}; unexpected {few_keys(result.unexpected_keys)}"
        )


def file_provenance(path: Path) -> str:
    """``file:PATH#sha256=HEX``: which file the weights came from, recorded with every result."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return f"file:{path.resolve()}#sha256={digest.hexdigest()}"


def few_keys(keys: Sequence[str], n: int = 5) -> str:
    if not keys:
        return "none"
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more
