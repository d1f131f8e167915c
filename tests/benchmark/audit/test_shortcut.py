"""The metadata-only classifiers: cross-validated, against the majority baseline."""

from __future__ import annotations

import numpy as np

from benchmark.audit.shortcut import majority_baseline, naive_bayes, one_attribute, stratified_folds


def test_folds_are_stratified_and_seeded():
    labels = np.repeat([0, 1, 2], [30, 20, 10])
    fold = stratified_folds(labels, 5, seed=0)
    for label in range(3):
        counts = np.bincount(fold[labels == label], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert np.array_equal(fold, stratified_folds(labels, 5, seed=0))
    assert not np.array_equal(fold, stratified_folds(labels, 5, seed=1))


def test_a_value_that_names_the_class_is_found_and_noise_is_not():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    fold = stratified_folds(labels, 5, seed=0)
    telling = labels * 2 + rng.integers(0, 2, 300)  # two values per class
    assert one_attribute(telling, labels, fold).accuracy == 1.0
    noise = rng.integers(0, 4, 300)
    baseline = majority_baseline(labels, fold).accuracy
    assert abs(one_attribute(noise, labels, fold).accuracy - baseline) < 0.1
    assert naive_bayes([noise, telling], labels, fold).accuracy > 0.95
    assert naive_bayes([noise], labels, fold).accuracy < 0.5


def test_naive_bayes_combines_attributes_that_each_say_half():
    labels = np.repeat(np.arange(4), 50)
    fold = stratified_folds(labels, 5, seed=0)
    first, second = labels // 2, labels % 2  # each alone separates two pairs of classes
    assert one_attribute(first, labels, fold).accuracy == 0.5
    assert naive_bayes([first, second], labels, fold).accuracy == 1.0
