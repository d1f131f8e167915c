"""How well the metadata alone predicts the class: the shortcut any model trained on the set can take.

Cross-validated on stratified folds (seeded), against the majority baseline (the training folds'
most frequent class).  Two classifiers, both with nothing to tune:

* one attribute: each value predicts the most frequent class of the training images with that value
  (a value the training folds never saw predicts their majority class): the best any model can do
  with that attribute alone, on these folds;
* every attribute together: categorical naive Bayes with add-one smoothing, which combines what the
  attributes say without fitting their interactions (the shortcut is at least this good).

Columns are integer codes per image (:func:`benchmark.audit.association.codes`); ties go to the lower class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FOLDS = 5
SMOOTHING = 1.0  # add-one (Laplace)


@dataclass(frozen=True)
class Scores:
    """Cross-validated accuracy and mean per-class accuracy of one classifier."""

    accuracy: float
    mean_per_class_accuracy: float


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """The fold of every image: each class's images shuffled (seeded) and dealt to the folds in turn."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    start = 0
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        fold[members] = (start + np.arange(len(members))) % folds
        start += len(members)  # the next class starts where this one stopped: folds stay the same size
    return fold


def _scores(predicted: np.ndarray, labels: np.ndarray) -> Scores:
    correct = predicted == labels
    per_class = [correct[labels == label].mean() for label in np.unique(labels)]
    return Scores(float(correct.mean()), float(np.mean(per_class)))


def _majority(labels: np.ndarray, classes: int) -> int:
    return int(np.bincount(labels, minlength=classes).argmax())


def majority_baseline(labels: np.ndarray, fold: np.ndarray) -> Scores:
    """Every test image predicted as its training folds' most frequent class."""
    classes = int(labels.max()) + 1
    predicted = np.empty_like(labels)
    for f in np.unique(fold):
        predicted[fold == f] = _majority(labels[fold != f], classes)
    return _scores(predicted, labels)


def one_attribute(values: np.ndarray, labels: np.ndarray, fold: np.ndarray) -> Scores:
    """Each value predicts its most frequent training class (unseen values: the training majority)."""
    classes, n_values = int(labels.max()) + 1, int(values.max()) + 1
    predicted = np.empty_like(labels)
    for f in np.unique(fold):
        train, test = fold != f, fold == f
        counts = np.zeros((n_values, classes), dtype=np.int64)
        np.add.at(counts, (values[train], labels[train]), 1)
        best = counts.argmax(1)
        best[counts.sum(1) == 0] = _majority(labels[train], classes)
        predicted[test] = best[values[test]]
    return _scores(predicted, labels)


def naive_bayes(columns: Sequence[np.ndarray], labels: np.ndarray, fold: np.ndarray) -> Scores:
    """Categorical naive Bayes over every column, add-one smoothed, cross-validated."""
    classes = int(labels.max()) + 1
    predicted = np.empty_like(labels)
    for f in np.unique(fold):
        train, test = fold != f, fold == f
        class_counts = np.bincount(labels[train], minlength=classes).astype(np.float64)
        score = np.tile(np.log(class_counts + SMOOTHING) - np.log(train.sum() + SMOOTHING * classes), (test.sum(), 1))
        for values in columns:
            n_values = int(values.max()) + 1
            counts = np.zeros((n_values, classes))
            np.add.at(counts, (values[train], labels[train]), 1)
            likelihood = np.log(counts + SMOOTHING) - np.log(class_counts + SMOOTHING * n_values)
            score += likelihood[values[test]]
        predicted[test] = score.argmax(1)
    return _scores(predicted, labels)
