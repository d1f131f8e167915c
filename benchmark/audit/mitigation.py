"""``--mitigate``: erase each confounded attribute from the embeddings and measure the kNN on the user's
classes before and after.

Per attribute, a linear eraser (:func:`benchmark.protocols.erasers.fit_concept_eraser`, ``trace-bench
mitigate``'s LEACE or INLP; the concept is the attribute's value) is fitted on half of the images (a
seeded half of every class) and applied to every embedding; the other half are the queries, against
every other image, before and after: the natural kNN accuracy and the metadata split
(:func:`benchmark.audit.encoder.metadata_split`), and how well the neighbours still predict the
attribute itself (``attribute_accuracy``: its value by kNN, against the share of its most common value).
The eraser is linear and fitted in-sample on its half; a nonlinear model can still find some trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from benchmark.audit.encoder import metadata_split, natural_predictions, not_self
from benchmark.audit.shortcut import stratified_folds
from benchmark.errors import UsageError
from benchmark.protocols.erasers import EraserOptions, fit_concept_eraser
from benchmark.protocols.masked_knn import masked_knn

FIT_SHARE = "a seeded half of every class; the other half measured"


def _measured(embeddings: torch.Tensor, labels: np.ndarray, values: np.ndarray, queries: np.ndarray, ks, vote_ties):
    """Natural accuracy, the metadata split and the attribute's own kNN accuracy, on the ``queries`` (mask)."""
    n, rows = len(labels), np.flatnonzero(queries)
    natural = natural_predictions(embeddings, labels, ks, vote_ties, None)
    found = metadata_split(embeddings, labels, values, queries=queries)
    attribute = masked_knn(
        embeddings[rows],
        embeddings,
        values,
        ks,
        {"a": lambda r: not_self(torch.as_tensor(rows)[r], n)},
        vote_ties=vote_ties,
    )
    for k in ks:
        found[f"accuracy@k{k}"] = float((natural[k][rows] == torch.as_tensor(labels[rows])).double().mean())
        found[f"attribute_accuracy@k{k}"] = float((attribute["a"][k] == torch.as_tensor(values[rows])).double().mean())
    found["attribute_majority"] = float(np.bincount(values[rows]).max() / len(rows))
    return found


def mitigate_attributes(
    embeddings: torch.Tensor,
    labels: np.ndarray,
    coded: dict[str, np.ndarray],
    ks: Sequence[int],
    eraser: EraserOptions,
    *,
    seed: int,
    vote_ties: str,
) -> dict[str, Any]:
    """For each attribute of ``coded`` (integer-coded values per image): the eraser's rank and the
    measures before and after; an attribute whose fitting half has one value gets ``error``, one that divides
    the images as an earlier one does gets its figures and ``same_as``."""
    fit = stratified_folds(labels, 2, seed) == 0
    measured = ~fit
    found: dict[str, Any] = {}
    partitions: dict[tuple[int, ...], str] = {}
    for attribute, values in coded.items():
        partition = tuple(np.unique(values, return_index=True)[1][np.unique(values, return_inverse=True)[1]])
        if partition in partitions:  # another attribute divides the images alike (Make and Model of one camera each)
            found[attribute] = {**found[partitions[partition]], "same_as": partitions[partition]}
            continue
        partitions[partition] = attribute
        before = _measured(embeddings, labels, values, measured, ks, vote_ties)
        try:
            fitted = fit_concept_eraser(
                eraser.method,
                embeddings[torch.as_tensor(fit)],
                torch.as_tensor(values[fit]),
                iterations=eraser.iterations,
            )
        except UsageError as error:
            found[attribute] = {"error": str(error), "before": before}
            continue
        after = _measured(fitted(embeddings.double()).float(), labels, values, measured, ks, vote_ties)
        found[attribute] = {"rank": fitted.rank, "before": before, "after": after}
    return {
        "method": str(eraser.method),
        "iterations": eraser.iterations if eraser.method == "inlp" else None,
        "fitted_on": FIT_SHARE,
        "n_fit": int(fit.sum()),
        "n_measured": int(measured.sum()),
        "attributes": found,
    }
