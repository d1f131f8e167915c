"""``trace-bench audit``: is a labelled dataset confounded by camera and processing, and does an encoder follow it?

:func:`run_audit` checks everything it can before any work (the dataset has images and two classes or
more, the encoder's name resolves, the output folder can be written), then:

1. reads every image's metadata from its header, once and cached (:mod:`.reading`);
2. measures each attribute's association with the class (:mod:`.association`: bias-corrected Cramér's
   V, normalised mutual information, a seeded permutation test, Holm-adjusted over the attributes),
   how well the metadata alone predicts the class (:mod:`.shortcut`) and each class's most
   over-represented values (lift); an attribute is *confounded* when its adjusted p-value is below
   ``alpha`` and its V at least ``min_effect`` (a small effect: a significant V of 0.02 on a million
   images is not worth a line on a dataset card);
3. with an encoder, the kNN split by metadata and the flip rates of re-processed queries
   (:mod:`.encoder`), and with ``mitigate`` the erasers on the confounded attributes (:mod:`.mitigation`);
4. writes ``audit.json`` (every figure and the parameters) and ``audit.md`` (:mod:`.card`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from benchmark.audit.association import (
    codes,
    contingency,
    cramers_v,
    holm,
    lift_table,
    normalized_mutual_info,
    permutation_p_value,
)
from benchmark.audit.card import card_text
from benchmark.audit.encoder import AUDIT_FAMILIES, SetEmbeddings, embed_set, flip_rates, metadata_split
from benchmark.audit.metadata import AUDIT_ATTRIBUTES
from benchmark.audit.mitigation import mitigate_attributes
from benchmark.audit.reading import SetMetadata, read_metadata
from benchmark.audit.shortcut import FOLDS, majority_baseline, naive_bayes, one_attribute, stratified_folds
from benchmark.choices import EraserMethod, Family, VoteTies, chosen
from benchmark.embeddings.extract import ExtractionOptions, Extractor
from benchmark.encoders.factory import EncoderOptions
from benchmark.encoders.registry import resolve
from benchmark.errors import UsageError
from benchmark.protocols.erasers import EraserOptions
from benchmark.runs.results import AUDIT_FILE, ResultStore, now
from benchmark.runs.runner import skipped_record
from benchmark.runtime.files import writable_folder
from benchmark.sources.imageset import ImageSet
from benchmark.sources.kinds import Detected

FORMAT = "trace-bench audit 1"
CARD_FILE = "audit.md"
KS = (1, 10)  # k = 1 first: the headline (with natural metadata the restricted databases differ in size)
MIN_COUNT = 3  # images of a value in a class before its lift is shown
TOP_VALUES = 3  # over-represented values shown per class
TABLE_VALUES = 30  # values per attribute kept in the contingency tables of audit.json (the rest summed)


class Steps(Protocol):
    """How the audit shows its long steps: ``steps(name, total)`` starts one and returns its advance."""

    def __call__(self, name: str, total: int | None) -> Callable[[int], None]: ...


def no_steps(name: str, total: int | None) -> Callable[[int], None]:
    return lambda done: None


@dataclass(frozen=True)
class AuditOptions:
    """What the audit measures and how: ``--seed``, ``--permutations``, ``--family``, ``--mitigate`` (and its
    eraser, ``--method``, ``--iterations``); ``alpha``, ``min_effect``, ``folds`` and ``ks`` are fixed
    defaults that library callers may change."""

    seed: int = 0
    permutations: int = 1000
    families: tuple[str, ...] = AUDIT_FAMILIES
    mitigate: bool = False
    eraser: EraserOptions = field(default_factory=EraserOptions)
    alpha: float = 0.05
    min_effect: float = 0.1
    folds: int = FOLDS
    ks: tuple[int, ...] = KS
    vote_ties: VoteTies = VoteTies.RELEASED

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise UsageError(f"--seed must be >= 0, got {self.seed}")
        fewest = math.ceil(len(AUDIT_ATTRIBUTES) / self.alpha)  # Holm: the smallest p times the attributes
        if self.permutations < fewest:
            raise UsageError(
                f"--permutations {self.permutations} cannot give an adjusted p-value below {self.alpha} over "
                f"{len(AUDIT_ATTRIBUTES)} attributes: use {fewest} or more (1000 by default)"
            )
        families = tuple(chosen(Family, f, "--family").value for f in self.families)
        object.__setattr__(self, "families", families or AUDIT_FAMILIES)
        object.__setattr__(self, "vote_ties", chosen(VoteTies, self.vote_ties, "--vote-ties"))
        if self.mitigate and self.eraser.method == EraserMethod.PAIRED:
            raise UsageError(
                "--mitigate erases a metadata value, one per image: --method paired needs every image under "
                "every value; use leace or inlp"
            )


def labelled_set(found: Detected) -> ImageSet:
    """The dataset's image set, refused in one line when it cannot be audited: no images, no classes, one class."""
    config = found.config or next(iter(found.attributes()), None)
    image_set = found.open(config)
    if not image_set.items:
        raise UsageError(f"{found.dataset} has no images")
    if not image_set.has_labels:
        columns = sorted(image_set.items[0].extra)
        hint = (
            f": name the column that holds the classes with --label-column (its columns: {', '.join(columns)})"
            if columns
            else ": put each class's images in a folder of its own"
        )
        raise UsageError(f"{found.dataset} has no classes to audit{hint}")
    present = Counter(item.label for item in image_set.items if item.label is not None)
    if len(present) < 2:
        only = f" ({image_set.class_names[next(iter(present))]})" if present else ""
        raise UsageError(f"{found.dataset} has one class{only}: an audit compares classes, give two or more")
    return image_set


def run_audit(
    found: Detected,
    options: AuditOptions,
    out: Path,
    encoder_options: EncoderOptions = EncoderOptions(),
    extraction: ExtractionOptions = ExtractionOptions(),
    steps: Steps = no_steps,
) -> list[Path]:
    """The audit of ``found`` (with ``encoder_options.models``' one encoder, if any) into ``out``: its files."""
    if len(encoder_options.models) > 1:
        raise UsageError(f"an audit runs one --model, got {len(encoder_options.models)}: audit each into its own --out")
    model = encoder_options.models[0] if encoder_options.models else None
    if options.mitigate and model is None:
        raise UsageError("--mitigate erases the confounded attributes from an encoder's embeddings: give --model")
    image_set = labelled_set(found)
    if model is not None:
        resolve(model)  # an unknown name stops here, before any image is read
    executor = extraction.chunk_executor() if model is not None else None
    writable_folder(out, "--out")
    cache = writable_folder(extraction.cache or out / "cache", "--cache")
    metadata = read_metadata(image_set, cache / "metadata", steps("metadata", len(image_set.items)))
    if len(set(metadata.labels)) < 2:
        raise UsageError(f"the readable images of {found.dataset} are of one class: an audit compares classes")
    audit: dict[str, Any] = {
        "format": FORMAT,
        "created_at": now(),
        "dataset": dataset_record(found, image_set, metadata),
        "parameters": parameters(options),
        **association_section(
            metadata, image_set.class_names or (), options, steps("associations", len(AUDIT_ATTRIBUTES))
        ),
    }
    if model is not None:
        encoder = encoder_options.load(model)
        advance = steps(f"embeddings ({encoder.spec.key})", len(image_set.items))
        extractor = extraction.extractor(
            device=encoder_options.device,
            precision=encoder_options.precision,
            default_cache=out / "cache",
            executor=executor,
            on_batch=advance,
        )
        audit.update(encoder_section(encoder, image_set, metadata, extractor, options, audit["confounded"], steps))
    files = [out / AUDIT_FILE, out / CARD_FILE]
    ResultStore(out).write(files[0], audit)
    files[1].write_text(card_text(audit))
    return files


def dataset_record(found: Detected, image_set: ImageSet, metadata: SetMetadata) -> dict[str, Any]:
    """What was audited: the dataset argument, its kind, revision, configuration, fingerprint and classes."""
    names = image_set.class_names or ()
    counts = Counter(metadata.labels)
    return {
        "argument": found.dataset,
        "name": found.label,
        "kind": found.kind.name,
        "revision": found.revision,
        "config": found.config or next(iter(found.attributes()), None),
        "label_column": found.label_column,
        "target": image_set.target,
        "fingerprint": image_set.fingerprint,
        "images": len(image_set.items),
        "audited": len(metadata),
        "classes": list(names),
        "class_counts": {names[label]: counts[label] for label in sorted(counts)},
        "unreadable": skipped_record(metadata.unreadable),
        "unlabelled": len(metadata.unlabelled),
        "skipped_by_source": dict(image_set.skipped),
    }


def parameters(options: AuditOptions) -> dict[str, Any]:
    return {
        "seed": options.seed,
        "permutations": options.permutations,
        "alpha": options.alpha,
        "min_effect": options.min_effect,
        "multiple_testing": "Holm over the attributes",
        "cramers_v": "bias-corrected (Bergsma 2013)",
        "nmi": "mutual information / arithmetic mean of the entropies",
        "p_value": "permutation test of the chi-square statistic, classes shuffled: (1 + hits) / (1 + permutations)",
        "folds": options.folds,
        "metadata_classifiers": "one attribute: majority class per value; all: categorical naive Bayes, add-one",
        "attributes": list(AUDIT_ATTRIBUTES),
        "metadata_source": "file headers (Exif, JPEG tables and subsampling), never the pixels",
        "ks": list(options.ks),
        "families": list(options.families),
        "vote_ties": str(options.vote_ties),
    }


def association_section(
    metadata: SetMetadata, class_names, options: AuditOptions, advance: Callable[[int], None]
) -> dict[str, Any]:
    """``associations`` (one entry per attribute), ``shortcut``, ``over_represented``, ``contingency`` and
    ``confounded`` (the attributes found confounded, strongest first)."""
    labels = np.asarray(metadata.labels, dtype=np.int64)
    fold = stratified_folds(labels, options.folds, options.seed)
    coded = {attribute: codes(metadata.values[attribute]) for attribute in AUDIT_ATTRIBUTES}
    entries = []
    for attribute, (values, names) in coded.items():
        table = contingency(values, labels)
        entries.append(
            {
                "attribute": attribute,
                "cramers_v": cramers_v(table),
                "nmi": normalized_mutual_info(table),
                "p_value": permutation_p_value(values, labels, options.permutations, options.seed),
                "known": metadata.known(attribute),
                "unknown": len(metadata) - metadata.known(attribute),
                "values": len(names),
                "metadata_accuracy": one_attribute(values, labels, fold).accuracy,
            }
        )
        advance(1)
    for entry, adjusted in zip(entries, holm([entry["p_value"] for entry in entries])):
        entry["p_adjusted"] = adjusted
        entry["confounded"] = adjusted < options.alpha and entry["cramers_v"] >= options.min_effect
    confounded = [e["attribute"] for e in sorted(entries, key=lambda e: -e["cramers_v"]) if e["confounded"]]
    baseline = majority_baseline(labels, fold)
    together = naive_bayes([values for values, _ in coded.values()], labels, fold)
    present = sorted(set(metadata.labels))
    return {
        "associations": entries,
        "confounded": confounded,
        "shortcut": {
            "accuracy": together.accuracy,
            "mean_per_class_accuracy": together.mean_per_class_accuracy,
            "majority_baseline": baseline.accuracy,
            "majority_mean_per_class_accuracy": baseline.mean_per_class_accuracy,
        },
        "over_represented": over_represented(coded, labels, class_names, set(confounded)),
        "contingency": {
            attribute: value_table(values, names, labels, [class_names[c] for c in present], present)
            for attribute, (values, names) in coded.items()
        },
    }


def over_represented(coded, labels: np.ndarray, class_names, confounded: set[str]) -> dict[str, list[dict]]:
    """Per class, its :data:`TOP_VALUES` most over-represented metadata values: those of confounded
    attributes first, then by the images beyond what independence predicts (``excess``); a value that
    describes the same photos as one already listed (same counts) is skipped."""
    candidates: dict[int, list[dict]] = {}
    for attribute, (values, names) in coded.items():
        if len(names) < 2:
            continue
        for v, row in enumerate(lift_table(contingency(values, labels))):
            for c, lift in enumerate(row):
                if lift.count >= MIN_COUNT and lift.lift > 1:
                    entry = {"attribute": attribute, "value": names[v], "confounded": attribute in confounded}
                    entry.update(count=lift.count, class_share=lift.class_share, overall_share=lift.overall_share)
                    entry.update(lift=lift.lift, excess=lift.excess)
                    candidates.setdefault(c, []).append(entry)
    shown: dict[str, list[dict]] = {}
    for c, entries in sorted(candidates.items()):
        kept: list[dict] = []
        for entry in sorted(
            entries, key=lambda e: (not e["confounded"], -e["excess"], AUDIT_ATTRIBUTES.index(e["attribute"]))
        ):
            if not any(e["count"] == entry["count"] and e["overall_share"] == entry["overall_share"] for e in kept):
                kept.append(entry)
        shown[str(class_names[c])] = kept[:TOP_VALUES]
    return shown


def value_table(values: np.ndarray, names: list[str], labels: np.ndarray, classes: list[str], present) -> dict:
    """An attribute's counts [value, class], its :data:`TABLE_VALUES` most common values (the rest summed)."""
    table = contingency(values, labels)[:, present] if len(values) else np.zeros((0, len(present)))
    order = np.argsort(-table.sum(1), kind="stable")
    kept, rest = order[:TABLE_VALUES], order[TABLE_VALUES:]
    rows = [table[i].tolist() for i in kept] + ([table[rest].sum(0).tolist()] if len(rest) else [])
    return {
        "values": [names[i] for i in kept] + (["(other values)"] if len(rest) else []),
        "classes": classes,
        "counts": rows,
    }


def encoder_section(
    encoder: Any,
    image_set: ImageSet,
    metadata: SetMetadata,
    extractor: Extractor,
    options: AuditOptions,
    confounded: list[str],
    steps: Steps,
) -> dict[str, Any]:
    """``encoder`` (the kNN split per attribute and the flip rates) and, with ``mitigate``, ``mitigation``."""
    embedded = embed_set(encoder, image_set, extractor, options.families, options.seed)
    index = {image: row for row, image in enumerate(metadata.ids)}
    keep = [i for i, image in enumerate(embedded.ids) if image in index]
    rows = [index[embedded.ids[i]] for i in keep]
    source = embedded.source[keep]
    labels = np.asarray(metadata.labels, dtype=np.int64)[rows]
    coded = {attribute: codes([metadata.values[attribute][r] for r in rows])[0] for attribute in AUDIT_ATTRIBUTES}
    common = dict(vote_ties=options.vote_ties, device=extractor.device)
    advance = steps("kNN by metadata", len(AUDIT_ATTRIBUTES) + 1)
    split = {}
    for attribute, values in coded.items():
        split[attribute] = metadata_split(source, labels, values, device=extractor.device)
        advance(1)
    processed = {key: vectors[keep] for key, vectors in embedded.processed.items()}
    kept = SetEmbeddings([embedded.ids[i] for i in keep], source, processed)
    flips = flip_rates(kept, labels, options.ks, **common)
    advance(1)
    section: dict[str, Any] = {
        "encoder": {
            "encoder": encoder.describe(),
            "encoder_precision": extractor.encoder_precision(encoder),
            "execution": extractor.execution(),
            "n_images": len(rows),
            "skipped_images": skipped_record(extractor.take_skipped()),
            "knn": split,
            "flips": flips,
        }
    }
    if options.mitigate:
        erased = {attribute: coded[attribute] for attribute in confounded}
        advance = steps("mitigation", None)
        section["mitigation"] = mitigate_attributes(
            source, labels, erased, options.ks, options.eraser, seed=options.seed, vote_ties=options.vote_ties
        )
        advance(1)
    return section
