"""Dataset cards: the YAML header of a dataset's ``README.md`` (local, or a Hub dataset's through the
Hugging Face cache), read once to tell a dataset's kind."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from benchmark.errors import UsageError

HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")  # ORG/NAME

Card = dict[str, Any]


def read_card(dataset: str, revision: str | None = None) -> Card | None:
    """The metadata (YAML header) of ``DATASET/README.md``, or of a Hub dataset's card at ``revision``;
    None without a card or a header."""
    from huggingface_hub.repocard import metadata_load

    path = Path(dataset) / "README.md"
    if not Path(dataset).exists() and HUB_ID.match(dataset):
        path = _hub_card(dataset, revision)
    if path is None or not path.is_file():
        return None
    try:
        card = metadata_load(path)
    except ValueError:  # a header that is not a mapping is no card
        return None
    except yaml.YAMLError as error:
        where = f" (line {error.problem_mark.line + 1})" if getattr(error, "problem_mark", None) else ""
        raise UsageError(
            f"{path}: its YAML header does not parse{where}: mend it (a Hugging Face dataset card), or remove "
            "the header"
        ) from None
    return card if isinstance(card, dict) and card else None


def _hub_card(repo_id: str, revision: str | None) -> Path | None:
    """A Hub dataset's README.md through the HF cache (offline: the cached copy); errors name the repo."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=revision))
    except GatedRepoError:
        raise UsageError(f"the Hub dataset {repo_id} is gated: accept its terms, then set HF_TOKEN") from None
    except RepositoryNotFoundError:
        raise UsageError(
            f"no dataset {repo_id} on the Hub (nor a folder of that name here); if it is private, set HF_TOKEN"
        ) from None
    except RevisionNotFoundError:
        raise UsageError(f"the Hub dataset {repo_id} has no revision {revision!r} (a tag, branch or commit)") from None
    except (EntryNotFoundError, LocalEntryNotFoundError):  # no card, or offline and not cached: datasets decides
        return None


def card_configs(card: Card | None) -> list[str]:
    """The card's configuration names (a FlickrExif release: its attributes)."""
    return [c["config_name"] for c in (card or {}).get("configs", []) if isinstance(c, dict) and "config_name" in c]


def card_features(card: Card | None) -> set[str]:
    """Every feature name of every configuration the card describes."""
    infos = (card or {}).get("dataset_info", [])
    infos = infos if isinstance(infos, list) else [infos]
    return {
        f.get("name")
        for info in infos
        if isinstance(info, dict)
        for f in info.get("features", [])
        if isinstance(f, dict)
    }
