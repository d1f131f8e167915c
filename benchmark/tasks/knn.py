"""The ``knn`` task: kNN semantic classification when database and query processing agree or not
(all-same, all-diff, pos-same, neg-same, uniform; :mod:`benchmark.protocols.knn`); SP accuracy and
SPD_p = pos-same - neg-same.  Database: the train split; queries: the test split (val in the standard
layout)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from benchmark.choices import VoteTies
from benchmark.embeddings.extract import Extractor
from benchmark.embeddings.variants import Variant
from benchmark.errors import UsageError
from benchmark.imaging.processing import FAMILIES
from benchmark.protocols.knn import UNIFORM_SEEDS, knn_all_ks
from benchmark.sources.imageset import ImageSet
from benchmark.tasks.task import Inputs, TaskResult, image_set_parameters


def family_variants(family: str) -> tuple[Variant, ...]:
    """Every class of ``family``, in label order."""
    return tuple(Variant(family=family, class_name=name) for name in FAMILIES[family])


def knn_inputs(image_set: ImageSet, family: str) -> list[Inputs]:
    """What kNN embeds: the database (train) and the queries (the test split) under every class."""
    return [Inputs(split, family_variants(family)) for split in ("train", image_set.test_split)]


def family_split(
    encoder, image_set: ImageSet, split: str, family: str, extractor: Extractor, seed: int
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """``(embeddings [N, P, D], labels [N], ids)`` of a split under every class of ``family``: the images
    that could be read under every class, in split order."""
    variants = list(family_variants(family))
    ids, stacked = aligned_variants(encoder, image_set, split, variants, extractor, seed)
    labels = {item.id: item.label for item in image_set.split(split)}
    return stacked, torch.tensor([labels[i] for i in ids]), ids


def aligned_variants(
    encoder, image_set: ImageSet, split: str, variants: Sequence[Variant], extractor: Extractor, seed: int
) -> tuple[list[str], torch.Tensor]:
    """``(ids, embeddings [N, V, D])`` of a split under every variant (one extraction, each image decoded
    once): the images that could be read under every variant, in split order."""
    embeddings = extractor.embed(encoder, image_set, split, variants, seed)
    read = [set(embeddings[v].ids) for v in variants]
    ids = [i for i in embeddings[variants[0]].ids if all(i in found for found in read)]
    rows = [{i: row for row, i in enumerate(embeddings[v].ids)} for v in variants]
    stacked = torch.stack([embeddings[v].vectors[[r[i] for i in ids]] for v, r in zip(variants, rows)], dim=1)
    return ids, stacked


def knn_influence(
    encoder,
    image_set: ImageSet,
    family: str,
    extractor: Extractor,
    *,
    seed: int = 0,
    ks: Sequence[int] = (10, 1),
    vote_ties: str = VoteTies.RELEASED,
) -> TaskResult:
    if not image_set.has_labels:
        raise UsageError(f"{image_set.name} has no classes: kNN needs labelled images")
    database, queries = (
        family_split(encoder, image_set, inputs.split, family, extractor, seed)[:2]
        for inputs in knn_inputs(image_set, family)
    )
    common = image_set_parameters(encoder, image_set, seed)
    common.update(database_split="train", query_split=image_set.test_split)
    return knn_result(family, database, queries, ks, extractor.device, common, vote_ties, image_set.class_names)


def small_classes(labels: torch.Tensor, ks: Sequence[int], names: Sequence[str] | None = None) -> list[str]:
    """A warning per k above the database size of some class: its queries cannot get a majority of
    neighbours of their own class, so accuracy is bounded below 1 whatever the encoder."""
    classes, counts = torch.unique(labels, return_counts=True)
    warnings = []
    for k in sorted(set(ks), reverse=True):
        small = [(int(c), int(n)) for c, n in zip(classes, counts) if n < k]
        if small:
            shown = ", ".join(f"{names[c] if names else c} ({n})" for c, n in small[:5])
            more = f" and {len(small) - 5} more" if len(small) > 5 else ""
            warnings.append(f"k={k} is above the database size of {len(small)} classes: {shown}{more}")
    return warnings


def knn_result(
    family: str,
    database: tuple[torch.Tensor, torch.Tensor],
    queries: tuple[torch.Tensor, torch.Tensor],
    ks: Sequence[int],
    device: str | None,
    common: dict[str, Any],
    vote_ties: str = VoteTies.RELEASED,
    class_names: Sequence[str] | None = None,
) -> TaskResult:
    """kNN influence on embeddings ([N, P, D] and labels per role), shared by image and embedding folders."""
    # float32 products with the near-ties scored again in float64: the exact similarities' neighbours (those
    # of the per-query reference); kNN streams the database in blocks, so device memory stays bounded.
    used = {k: min(k, len(database[1])) for k in ks}  # a k above the database: all of it
    found = knn_all_ks(*database, *queries, sorted(set(used.values())), device, vote_ties=vote_ties)
    metrics = {f"{setup}@k{k}": value for k in ks for setup, value in found[used[k]].items()}
    metrics["chance"] = 1 / len(torch.unique(database[1]))  # a vote drawn at random among the classes
    return TaskResult(
        task="knn",
        target=family,
        metrics=metrics,
        parameters={
            **common,
            "warnings": small_classes(database[1], ks, class_names),
            "n_database": len(database[1]),
            "n_queries": len(queries[1]),
            "ks": list(ks),
            "classes": list(FAMILIES[family]),
            "similarity_dtype": "float32, near-ties in float64 (exact)",
            "protocol": "released: one run per ordered pair (p, q != p); uniform over seeds",
            "uniform_seeds": list(UNIFORM_SEEDS),
            "vote_ties": vote_ties,
        },
    )
