"""How strongly a metadata attribute goes with the class: pure maths on two columns of categories.

* :func:`cramers_v`: Cramér's V with Bergsma's (2013) bias correction, as ``scipy.stats.contingency.
  association(..., method="cramer")`` does not correct it: the plain V of a small table of independent
  columns is well above 0 (a few dozen images over many camera models), the corrected one near 0.
  0 is independence, 1 a class that fixes the value and the value the class.
* :func:`normalized_mutual_info`: mutual information over the arithmetic mean of the two entropies
  (scikit-learn's ``normalized_mutual_info_score`` default).
* :func:`permutation_p_value`: the share of class shufflings (seeded) whose chi-square statistic
  reaches the observed one, ``(1 + hits) / (1 + permutations)``: exact for any table size, so a small
  dataset does not cry wolf where the chi-square approximation would.
* :func:`holm`: Holm's step-down adjustment of the p-values of all attributes tested at once.
* :func:`lift_table`: per (value, class), the share of the class with that value over its share of the
  whole set (> 1: over-represented), with counts.

Categories are integer codes (``np.unique(..., return_inverse=True)``); both columns have one entry per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PERMUTATION_BATCH_CELLS = 20_000_000  # cells of the permuted tables counted at once (memory bound)


def codes(column: Sequence[object]) -> tuple[np.ndarray, list[str]]:
    """A column of categories as integer codes and the category names (sorted)."""
    names, inverse = np.unique(np.asarray([str(value) for value in column], dtype=object), return_inverse=True)
    return inverse.astype(np.int64), [str(name) for name in names]


def contingency(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Counts [values, classes] of integer-coded columns (every code up to the largest, present or not)."""
    rows, columns = int(values.max()) + 1, int(labels.max()) + 1
    return np.bincount(values * columns + labels, minlength=rows * columns).reshape(rows, columns)


def _present(table: np.ndarray) -> np.ndarray:
    """The table without empty rows and columns."""
    return table[table.sum(1) > 0][:, table.sum(0) > 0]


def chi_square(table: np.ndarray) -> np.ndarray:
    """Pearson's chi-square of a table [..., r, c] without empty rows or columns (batched over leading axes)."""
    table = table.astype(np.float64)
    n = table.sum((-2, -1), keepdims=True)
    expected = table.sum(-1, keepdims=True) * table.sum(-2, keepdims=True) / n
    return ((table - expected) ** 2 / expected).sum((-2, -1))


def cramers_v(table: np.ndarray) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013) of a contingency table; 0 with one value or one class."""
    table = _present(np.asarray(table))
    n, (r, k) = table.sum(), table.shape
    if min(r, k) < 2 or n < 2:
        return 0.0
    phi2 = float(chi_square(table)) / n
    phi2_corrected = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    r_corrected, k_corrected = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denominator = min(k_corrected - 1, r_corrected - 1)
    return float(np.sqrt(phi2_corrected / denominator)) if denominator > 0 else 0.0


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def normalized_mutual_info(table: np.ndarray) -> float:
    """Mutual information (nats) over the mean of the two entropies; 0 when either column is constant."""
    table = _present(np.asarray(table)).astype(np.float64)
    h_values, h_classes = _entropy(table.sum(1)), _entropy(table.sum(0))
    if h_values == 0 or h_classes == 0:
        return 0.0
    joint = table / table.sum()
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    inside = joint > 0
    mutual = float((joint[inside] * np.log(joint[inside] / outer[inside])).sum())
    return max(0.0, mutual / ((h_values + h_classes) / 2))


def permutation_p_value(values: np.ndarray, labels: np.ndarray, permutations: int, seed: int) -> float:
    """One-sided permutation p-value of the chi-square statistic under shuffled classes (seeded)."""
    values, _ = codes(values)
    labels, _ = codes(labels)
    rows, columns = int(values.max()) + 1, int(labels.max()) + 1
    if rows < 2 or columns < 2 or permutations < 1:
        return 1.0
    observed = float(chi_square(contingency(values, labels)))
    rng = np.random.default_rng(seed)
    cells = rows * columns
    batch = max(1, min(permutations, PERMUTATION_BATCH_CELLS // cells))
    hits, done = 0, 0
    while done < permutations:
        size = min(batch, permutations - done)
        shuffled = rng.permuted(np.broadcast_to(labels, (size, len(labels))), axis=1)
        offsets = (np.arange(size) * cells)[:, None]
        tables = np.bincount((offsets + values * columns + shuffled).ravel(), minlength=size * cells)
        statistics = chi_square(tables.reshape(size, rows, columns))
        hits += int((statistics >= observed * (1 - 1e-9) - 1e-12).sum())  # ties (a float's last bits) count
        done += size
    return (1 + hits) / (1 + permutations)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error over all the attributes tested)."""
    order = np.argsort(p_values, kind="stable")
    m, adjusted, running = len(p_values), [0.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


@dataclass(frozen=True)
class Lift:
    """One metadata value in one class: how many images, what share of the class and of the set."""

    count: int
    class_share: float  # of the class's images, those with the value
    overall_share: float  # of all images, those with the value
    lift: float  # class_share / overall_share: > 1 over-represented in the class
    excess: float  # images beyond what independence predicts: count - class size x overall share


def lift_table(table: np.ndarray) -> list[list[Lift]]:
    """[value][class] :class:`Lift` of a contingency table [values, classes]."""
    table = np.asarray(table, dtype=np.float64)
    n = table.sum()
    class_sizes, value_shares = table.sum(0), table.sum(1) / n
    return [
        [
            Lift(
                count=int(table[v, c]),
                class_share=float(table[v, c] / class_sizes[c]) if class_sizes[c] else 0.0,
                overall_share=float(value_shares[v]),
                lift=float(table[v, c] / class_sizes[c] / value_shares[v])
                if class_sizes[c] and value_shares[v]
                else 0.0,
                excess=float(table[v, c] - class_sizes[c] * value_shares[v]),
            )
            for c in range(table.shape[1])
        ]
        for v in range(table.shape[0])
    ]
