"""The association statistics against known answers and reference loops: Cramér's V (plain and
bias-corrected), NMI, the permutation p-value, Holm, lift."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from benchmark.audit.association import (
    chi_square,
    codes,
    contingency,
    cramers_v,
    holm,
    lift_table,
    normalized_mutual_info,
    permutation_p_value,
)


def test_cramers_v_matches_the_published_example():
    # ClickHouse documents cramersV and cramersVBiasCorrected on number % 10 against number % 4 for
    # numbers(150): 0.5798088336225178 and 0.5305112825189074 (Bergsma's correction).
    n = np.arange(150)
    table = contingency(n % 10, n % 4)
    plain = math.sqrt(float(chi_square(table)) / 150 / (min(table.shape) - 1))
    assert plain == pytest.approx(0.5798088336225178, abs=1e-12)
    assert cramers_v(table) == pytest.approx(0.5305112825189074, abs=1e-12)


def test_cramers_v_is_one_for_a_class_that_fixes_the_value_and_near_zero_for_independence():
    labels = np.repeat(np.arange(4), 50)
    assert cramers_v(contingency(labels, labels)) == pytest.approx(1.0)
    balanced = np.tile(np.arange(5), 40)  # every value exactly as often in every class
    assert cramers_v(contingency(balanced, labels)) == 0.0
    rng = np.random.default_rng(0)
    independent = rng.integers(0, 6, 200)
    assert cramers_v(contingency(independent, labels)) < 0.1  # the plain V of such a table is ~0.2
    assert cramers_v(contingency(np.zeros(200, dtype=int), labels)) == 0.0  # one value: nothing to associate


def nmi_loop(a, b) -> float:
    """Mutual information over the mean entropy, by counting pairs (the definition, slowly)."""
    n = len(a)
    joint, left, right = Counter(zip(a, b)), Counter(a), Counter(b)
    mutual = sum(c / n * math.log(c * n / (left[x] * right[y])) for (x, y), c in joint.items())
    entropy = [-sum(c / n * math.log(c / n) for c in counts.values()) for counts in (left, right)]
    return mutual / (sum(entropy) / 2)


def test_nmi_against_the_definition():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5, 300)
    b = np.where(rng.random(300) < 0.6, a % 3, rng.integers(0, 3, 300))
    assert normalized_mutual_info(contingency(a, b)) == pytest.approx(nmi_loop(a.tolist(), b.tolist()), rel=1e-12)
    assert normalized_mutual_info(contingency(a, a)) == pytest.approx(1.0)


def test_permutation_p_value_finds_a_planted_association_and_not_an_absent_one():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 120)
    planted = np.where(rng.random(120) < 0.7, labels, rng.integers(0, 2, 120))
    assert permutation_p_value(planted, labels, 999, seed=0) == pytest.approx(1 / 1000)
    p_values = [permutation_p_value(rng.integers(0, 3, 120), labels, 199, seed=s) for s in range(40)]
    assert 0.25 < np.mean(p_values) < 0.75  # about uniform under independence
    assert sum(p < 0.05 for p in p_values) <= 6
    assert permutation_p_value(planted, labels, 199, seed=3) == permutation_p_value(planted, labels, 199, seed=3)


def test_permutation_p_value_counts_equal_statistics_as_reached():
    labels = np.repeat([0, 1], 24)
    balanced = np.tile(np.arange(4), 12)  # chi-square 0: every shuffling reaches it
    assert permutation_p_value(balanced, labels, 100, seed=0) == 1.0


def test_holm_matches_a_hand_computation():
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_lift_and_excess():
    values, names = codes(["a"] * 6 + ["b"] * 4 + ["a"] * 2 + ["b"] * 8)
    labels = np.array([0] * 10 + [1] * 10)
    table = lift_table(contingency(values, labels))
    a_in_0 = table[names.index("a")][0]
    assert (a_in_0.count, a_in_0.class_share, a_in_0.overall_share) == (6, 0.6, 0.4)
    assert a_in_0.lift == pytest.approx(1.5) and a_in_0.excess == pytest.approx(2.0)
