"""Class selection, owner-disjoint train/validation/test split and exact balancing for one attribute.

A probe that sees one photographer's photos in training and in test can learn the photographer
(their scenes, their editing) instead of the camera, so **no owner appears in two splits**.  The
algorithm, for one attribute, on items ``(key, owner, class)``:

1. **Classes**: the ``top_k`` most frequent classes (ties by name) among those with at least
   ``min_photos`` items.  Class names are sorted (like scikit-learn's ``LabelEncoder``, as the
   paper's split files) to give the label indices.
2. **Owners to splits**: owners are sorted, then shuffled with a generator seeded by the build seed
   and the attribute name.  Test and validation each need ``test_per_class`` /
   ``validation_per_class`` photos of every class.  Each owner in turn goes to the split (test
   first on ties) where its photos fill the most of what is still needed — but only if at least
   half of its photos are useful there; otherwise (and once test and validation are full) it goes
   to train.  So a prolific owner lands in train rather than filling a test class alone.
3. **Feasibility**: a class with no photo in some split it must appear in cannot be balanced; the
   least frequent such class is dropped and step 2 is redone (ever fewer classes, so it ends).
   Fewer than two classes left means the configuration cannot be built.
4. **Exact balance**: in every balanced split each class gets the same number of photos: the
   smallest number any class has there, capped by the split's target (train: ``train_per_class``,
   unlimited when ``None``).  Which photos are kept is a seeded sample per (split, class).  Splits
   left out of ``balance`` keep every photo of their owners (up to the cap).

Guarantees: every owner is in at most one split; in each balanced split all classes have exactly
the same count; the result is a pure function of the items, the spec and the seed (no hashing of
Python objects, no dict-order or set-order dependence), and a different seed gives a different
owner assignment.  What is *not* guaranteed: reaching the targets — a class whose photos come from
a few prolific owners may leave test short, and then every class gets that smaller count (the
shortfall is reported in ``available``).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

TRAIN, VALIDATION, TEST = "train", "validation", "test"
SPLITS = (TRAIN, VALIDATION, TEST)
DEVICE_KINDS = ("camera", "smartphone")


@dataclass(frozen=True)
class SplitSpec:
    """Class selection and split sizes for one configuration (defaults: ``flickrexif/data/build.json``)."""

    top_k: int
    min_photos: int
    validation_per_class: int
    test_per_class: int
    train_per_class: int | None = None
    device_kinds: tuple[str, ...] = DEVICE_KINDS

    def __post_init__(self) -> None:
        if self.top_k < 2:
            raise ValueError("top_k must be at least 2 (a classifier needs two classes)")
        if min(self.min_photos, self.validation_per_class, self.test_per_class) < 0:
            raise ValueError("min_photos and the per-class split sizes cannot be negative")
        if self.train_per_class is not None and self.train_per_class < 1:
            raise ValueError("train_per_class must be positive (or None for no cap)")
        if not self.device_kinds:
            raise ValueError("device_kinds cannot be empty")

    def target(self, split: str) -> int | None:
        """Photos per class wanted in ``split`` (``None``: as many as available)."""
        return {TRAIN: self.train_per_class, VALIDATION: self.validation_per_class, TEST: self.test_per_class}[split]


class Item(NamedTuple):
    """One photo as the split sees it; ``key`` orders rows (the caller's photo order)."""

    key: int
    owner: str
    label: str


@dataclass(frozen=True)
class SplitResult:
    """The chosen rows per split as ``(key, class index)`` sorted by key, and what led to them."""

    classes: tuple[str, ...]
    rows: Mapping[str, tuple[tuple[int, int], ...]]
    per_class: Mapping[str, int]  # split → photos per class (balanced splits) or the largest count
    owners: Mapping[str, frozenset[str]]  # split → owners whose photos are in it
    available: Mapping[str, Mapping[str, int]]  # split → class → photos its owners offered
    dropped_classes: Mapping[str, str] = field(default_factory=dict)  # class → why it was left out
    skipped: str | None = None  # why the configuration cannot be built, when it cannot

    @property
    def size(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def select_classes(counts: Mapping[str, int], top_k: int, min_photos: int) -> tuple[list[str], dict[str, str]]:
    """The kept classes (most frequent first) and a reason for each class left out."""
    ranked = sorted(counts, key=lambda name: (-counts[name], name))
    kept, dropped = [], {}
    for name in ranked:
        if counts[name] < min_photos:
            dropped[name] = f"{counts[name]} photos, fewer than the minimum {min_photos}"
        elif len(kept) >= top_k:
            dropped[name] = f"not in the top {top_k} classes"
        else:
            kept.append(name)
    return kept, dropped


def _assign_owners(
    by_owner: Mapping[str, Counter], classes: Sequence[str], spec: SplitSpec, rng: random.Random
) -> dict[str, str]:
    """Owner → split, greedily filling test and validation toward their per-class targets."""
    order = sorted(by_owner)
    rng.shuffle(order)
    need = {split: dict.fromkeys(classes, spec.target(split)) for split in (TEST, VALIDATION)}
    assignment = {}
    for owner in order:
        have = by_owner[owner]
        best, best_gain = TRAIN, 0
        for split in (TEST, VALIDATION):
            gain = sum(min(count, need[split][name]) for name, count in have.items())
            if gain > best_gain:
                best, best_gain = split, gain
        if best != TRAIN and 2 * best_gain >= sum(have.values()):
            for name, count in have.items():
                need[best][name] -= min(count, need[best][name])
        else:
            best = TRAIN
        assignment[owner] = best
    return assignment


def owner_disjoint_split(
    items: Sequence[Item], spec: SplitSpec, seed: str, balance: Sequence[str] = SPLITS
) -> SplitResult:
    """Select classes, split ``items`` by owner and balance them (see the module docstring)."""
    unknown = set(balance) - set(SPLITS)
    if unknown:
        raise ValueError(f"balance names unknown splits {sorted(unknown)}; splits are {SPLITS}")
    counts = Counter(item.label for item in items)
    classes, dropped = select_classes(counts, spec.top_k, spec.min_photos)
    needed = [split for split in SPLITS if spec.target(split) != 0]
    while True:
        if len(classes) < 2:
            return _empty(dropped, f"{len(classes)} class(es) qualify; a configuration needs at least 2")
        kept = set(classes)
        by_owner: dict[str, Counter] = defaultdict(Counter)
        for item in items:
            if item.label in kept:
                by_owner[item.owner][item.label] += 1
        assignment = _assign_owners(by_owner, classes, spec, random.Random(f"{seed}/owners/{len(classes)}"))
        pools: dict[str, dict[str, list[int]]] = {split: {name: [] for name in classes} for split in SPLITS}
        for item in items:
            if item.label in kept:
                pools[assignment[item.owner]][item.label].append(item.key)
        empty = [name for name in classes if any(not pools[split][name] for split in needed)]
        if not empty:
            break
        weakest = min(empty, key=lambda name: (counts[name], name))
        missing = next(split for split in needed if not pools[split][weakest])
        dropped[weakest] = f"no owner could give it {missing} photos without sharing owners across splits"
        classes = [name for name in classes if name != weakest]

    names = tuple(sorted(classes))
    index = {name: i for i, name in enumerate(names)}
    rows, per_class = {}, {}
    for split in SPLITS:
        target = spec.target(split)
        sizes = [len(pools[split][name]) for name in names]
        if split in balance:
            take = min(sizes) if target is None else min(min(sizes), target)
        else:
            take = max(sizes) if target is None else min(max(sizes), target)
        per_class[split] = take
        chosen = []
        for name in names:
            pool = sorted(pools[split][name])
            if len(pool) > take:
                pool = random.Random(f"{seed}/sample/{split}/{name}").sample(pool, take)
            chosen.extend((key, index[name]) for key in pool)
        rows[split] = tuple(sorted(chosen))
    owner_of = {item.key: item.owner for item in items if item.label in index}
    owners = {split: frozenset(owner_of[key] for key, _ in rows[split]) for split in SPLITS}
    available = {split: {name: len(pools[split][name]) for name in names} for split in SPLITS}
    return SplitResult(names, rows, per_class, owners, available, dropped)


def _empty(dropped: Mapping[str, str], reason: str) -> SplitResult:
    nothing = {split: () for split in SPLITS}
    return SplitResult(
        (),
        nothing,
        dict.fromkeys(SPLITS, 0),
        {s: frozenset() for s in SPLITS},
        {s: {} for s in SPLITS},
        dict(dropped),
        reason,
    )
