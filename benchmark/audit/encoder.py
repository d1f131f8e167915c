"""Does the encoder follow the metadata?  kNN on the user's classes, with the database chosen by metadata,
and predictions that flip when only the processing changes.

Every image is a query against the others.  Per metadata attribute, the paper's setups are made of
natural data: the nearest-neighbour decision between one image of the query's class and one of another
class, averaged over every such pair (:func:`benchmark.protocols.masked_knn.pairwise_nearest`), where the pair
is drawn from

* ``natural``: any image of its class and any of the others (the dataset as it is);
* ``pos-same``: its class's images that share its value, and the others' that do not;
* ``neg-same``: its class's images that do not share its value, and the others' that do;
* ``all-same`` / ``all-diff``: images that share it / that do not, on both sides.

Chance is 50% whatever the classes, and a pair has one image per side whatever the pool sizes, so the
setups compare only whether the images share the value (a kNN over the whole pools would compare pool
sizes too, and those are set by the confound itself).  A query counts where its four pools are not
empty (``n_queries``).  ``spd`` = pos-same - neg-same is how far the encoder's neighbours follow the value
(the paper's SPD_p on natural metadata: a property of the encoder); ``drop`` = natural - neg-same is what
this dataset's nearest-neighbour decisions would lose if the value pointed to the wrong class: large
where the dataset ties the value to the class (natural is then near pos-same) and the encoder follows it,
about half ``spd`` where the value is independent of the class.  ``reliance`` = natural - independent
says how much the dataset's nearest-neighbour decisions owe to the value: ``independent`` is what
natural would be were the value independent of the class (each side sharing the query's value as often
as the whole set does, the four setups mixed in those proportions), so it is near 0 on a control and
positive where the encoder follows a value that the dataset ties to the class.  The plain kNN accuracy
(every other image in the database) is reported with the flip rates.

The counterfactual (:func:`flip_rates`): each query is re-processed with the paper's classes (JPEG
quality and chroma, sharpening, resizing; every one ends in a JPEG re-encode, ``none`` is that
re-encode alone) and classified against the unprocessed database; the flip rate is the share of
predictions that differ from the unprocessed query's.  Only the processing changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from benchmark.embeddings.extract import Extractor
from benchmark.embeddings.variants import Variant
from benchmark.imaging.processing import FAMILIES
from benchmark.protocols.masked_knn import masked_knn, pairwise_nearest
from benchmark.sources.imageset import ImageSet
from benchmark.tasks.knn import aligned_variants

SETUPS = ("pos-same", "neg-same", "all-same", "all-diff")  # the metadata split (module notes)
AUDIT_FAMILIES = ("jpeg", "sharpening", "resizing")  # the processing classes; interpolation on demand


@dataclass(frozen=True)
class SetEmbeddings:
    """The unprocessed and re-processed embeddings of every image that could be read under every variant."""

    ids: list[str]
    source: torch.Tensor  # [N, D]
    processed: dict[tuple[str, str], torch.Tensor]  # (family, class) -> [N, D]


def embed_set(encoder, image_set: ImageSet, extractor: Extractor, families: Sequence[str], seed: int) -> SetEmbeddings:
    """Every split under the source variant and every class of ``families``, each image decoded once."""
    classes = [(family, name) for family in families for name in FAMILIES[family]]
    variants = [Variant(), *(Variant(family, name) for family, name in classes)]
    ids, parts = [], []
    for split in image_set.splits:
        found, stacked = aligned_variants(encoder, image_set, split, variants, extractor, seed)
        ids += found
        parts.append(stacked)
    stacked = torch.cat(parts)
    return SetEmbeddings(ids, stacked[:, 0], {key: stacked[:, 1 + i] for i, key in enumerate(classes)})


def not_self(rows: torch.Tensor, n: int) -> torch.Tensor:
    """[rows, n]: every database image but the query's own."""
    return torch.arange(n)[None, :] != rows[:, None]


def natural_predictions(embeddings: torch.Tensor, labels: np.ndarray, ks, vote_ties, device) -> dict[int, torch.Tensor]:
    """Each image classified by its neighbours among all the others."""
    n = len(labels)
    databases = {"natural": lambda rows: not_self(rows, n)}
    return masked_knn(embeddings, embeddings, labels, ks, databases, device, vote_ties=vote_ties)["natural"]


def metadata_split(
    embeddings: torch.Tensor, labels: np.ndarray, values: np.ndarray, *, device=None, queries: np.ndarray | None = None
) -> dict[str, float]:
    """The setups of the module notes for one attribute (integer-coded ``values``): each one's accuracy,
    ``spd``, ``drop`` and ``n_queries``; only ``queries`` (a bool mask) are asked."""
    n = len(labels)
    rows = np.arange(n) if queries is None else np.flatnonzero(queries)
    y, v = torch.as_tensor(labels), torch.as_tensor(values)

    def pool(own: bool | None, shares: bool | None):
        def allowed(chunk: torch.Tensor) -> torch.Tensor:
            query = torch.as_tensor(rows)[chunk]
            same_class, same_value = y[query, None] == y[None, :], v[query, None] == v[None, :]
            keep = not_self(query, n) & (same_class if own else ~same_class)
            return keep if shares is None else keep & (same_value if shares else ~same_value)

        return allowed

    pairs = {
        "natural": (pool(True, None), pool(False, None)),
        "pos-same": (pool(True, True), pool(False, False)),
        "neg-same": (pool(True, False), pool(False, True)),
        "all-same": (pool(True, True), pool(False, True)),
        "all-diff": (pool(True, False), pool(False, False)),
    }
    found = pairwise_nearest(embeddings[rows], embeddings, pairs, device)
    counted = ~torch.stack([found[s].isnan() for s in SETUPS]).any(0)
    metrics: dict[str, float] = {"n_queries": int(counted.sum())}
    if not metrics["n_queries"]:
        return metrics
    # the share of the other images with the query's value: how often a side would share it, were the value
    # independent of the class
    share = torch.as_tensor((np.bincount(values)[values[rows]] - 1) / (n - 1))
    independent = (
        share * (1 - share) * (found["pos-same"] + found["neg-same"])
        + share**2 * found["all-same"]
        + (1 - share) ** 2 * found["all-diff"]
    )
    metrics.update({setup: float(found[setup][counted].mean()) for setup in ("natural", *SETUPS)})
    metrics["independent"] = float(independent[counted].mean())
    metrics["spd"] = metrics["pos-same"] - metrics["neg-same"]
    metrics["drop"] = metrics["natural"] - metrics["neg-same"]
    metrics["reliance"] = metrics["natural"] - metrics["independent"]
    return metrics


def flip_rates(
    embeddings: SetEmbeddings, labels: np.ndarray, ks: Sequence[int], *, vote_ties: str, device=None
) -> dict[str, dict]:
    """Per family: per class the flip rate and accuracy at each k, and the share of queries that flip
    under at least one class of the family (``any_flip``); plus the unprocessed accuracy."""
    n, truth = len(labels), torch.as_tensor(labels)
    before = natural_predictions(embeddings.source, labels, ks, vote_ties, device)
    result: dict[str, dict] = {
        "unprocessed": {f"accuracy@k{k}": float((before[k] == truth).double().mean()) for k in ks}
    }
    for (family, name), queries in embeddings.processed.items():
        found = masked_knn(
            queries, embeddings.source, labels, ks, {name: lambda r: not_self(r, n)}, device, vote_ties=vote_ties
        )
        predictions = found[name]
        entry = result.setdefault(
            family, {"classes": {}, "_flipped": {k: torch.zeros(n, dtype=torch.bool) for k in ks}}
        )
        metrics = {}
        for k in ks:
            flipped = predictions[k] != before[k]
            entry["_flipped"][k] |= flipped
            metrics[f"flip_rate@k{k}"] = float(flipped.double().mean())
            metrics[f"accuracy@k{k}"] = float((predictions[k] == truth).double().mean())
        entry["classes"][name] = metrics
    for family, entry in result.items():
        if family == "unprocessed":
            continue
        flipped = entry.pop("_flipped")
        for k in ks:
            entry[f"any_flip@k{k}"] = float(flipped[k].double().mean())
            entry[f"mean_flip_rate@k{k}"] = float(np.mean([c[f"flip_rate@k{k}"] for c in entry["classes"].values()]))
    return result
