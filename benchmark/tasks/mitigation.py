"""The ``mitigate`` task: erase the trace, then measure how much trace and semantics remain.

Fit an eraser (:mod:`benchmark.protocols.erasers`) on the training split only, apply it to every
embedding, and measure before and after with the benchmark's own measurements: on an image set with
classes, per processing family, the processing probe against chance and kNN all-same / pos-same /
neg-same / SPD_p; on PairCams, for the camera type, recall@1 both collections / SPD_a (on held-out
subjects) and a camera-type probe.  Each result holds ``before`` and ``after`` metric sets
(``metrics`` is ``after``, so ``trace-bench report`` reads it as any result), and the eraser is
written beside it (``.safetensors``, :func:`benchmark.protocols.erasers.load_eraser`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.choices import EraserMethod
from benchmark.embeddings.extract import Extractor
from benchmark.errors import UsageError
from benchmark.imaging.processing import FAMILIES, assign_train_classes
from benchmark.protocols.erasers import INLP_ITERATIONS, Eraser, fit_eraser, save_eraser
from benchmark.protocols.probe import ProbeConfig, linear_probe
from benchmark.protocols.retrieval import paircams_recall
from benchmark.sources.imageset import STANDARD, ImageSet
from benchmark.tasks.knn import family_split, family_variants, knn_inputs, knn_result
from benchmark.tasks.probing import standard_probe_result
from benchmark.tasks.retrieval import embedded_pairs, retrieval_inputs
from benchmark.tasks.task import Attachment, Inputs, TaskOptions, TaskResult, image_set_parameters, probe_record

FIT_SPLIT = "train"
VALIDATION_SHARE = 0.2  # of the training subjects: the camera-type probe's tuning split
KS = (10, 1)
PAIRCAMS_TARGET = "paircams"


@dataclass(frozen=True)
class Mitigation:
    """One eraser and the metric sets measured before and after applying it."""

    eraser: Eraser
    before: dict[str, float]
    after: dict[str, float]

    def task_result(self, target: str, parameters: dict[str, Any], write_eraser) -> TaskResult:
        """The result: ``metrics`` (= after, what the report reads), ``before`` and ``after``, and the
        eraser as a file beside it (``write_eraser(path, stamp)``)."""
        return TaskResult(
            task="mitigate",
            target=target,
            metrics=dict(self.after),
            parameters={
                **parameters,
                "method": self.eraser.method,
                "rank": self.eraser.rank,
                "fitted_on": FIT_SPLIT,
                "normalized_input": self.eraser.normalize,
            },
            extra={"method": self.eraser.method, "before": dict(self.before), "after": dict(self.after)},
            attachments=(Attachment("eraser_file", ".safetensors", write_eraser),),
        )


@dataclass(frozen=True)
class Assigned:
    """The probe protocol of a set with its own validation split (what ``run``'s processing probe does
    there): each train and validation image under the one class drawn for it, every test image under
    every class; ``train_classes`` and ``validation_classes`` are those draws (class indices)."""

    validation: torch.Tensor  # [N_val, P, D]
    train_classes: torch.Tensor  # [N_train]
    validation_classes: torch.Tensor  # [N_val]

    @staticmethod
    def drawn(family: str, ids: Sequence[str], seed: int) -> torch.Tensor:
        """The class each image gets, as ``trace-bench run`` draws it (:func:`assign_train_classes`)."""
        names = FAMILIES[family]
        return torch.tensor([names.index(name) for name in assign_train_classes(list(ids), family, seed)])

    def erased(self, eraser: Eraser) -> Assigned:
        return replace(self, validation=eraser(self.validation))


def processing_metrics(
    family: str,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    ks: Sequence[int],
    probe: ProbeConfig,
    refits: int,
    device: str | None,
    seed: int,
    assigned: Assigned | None = None,
) -> dict[str, float]:
    """Processing probe (MP, chance) and kNN influence of ``[N, P, D]`` train / val, as the tasks compute
    them: the probe of the train/val layout (refits), or, with ``assigned``, that of a layout with its own
    validation split."""
    (database, database_labels), (queries, query_labels) = train, val
    common = {"seed": seed}
    metrics = knn_result(family, (database, database_labels), (queries, query_labels), ks, device, common).metrics
    classes = queries.shape[1]
    test_x = queries.transpose(0, 1).reshape(-1, queries.shape[2])  # class-major, as the probe task
    test_y = torch.arange(classes).repeat_interleave(queries.shape[0])
    if assigned is None:
        found = standard_probe_result(family, list(database.unbind(1)), test_x, test_y, probe, refits, common).metrics
    else:
        rows, val_rows = torch.arange(len(database)), torch.arange(len(assigned.validation))
        fitted = linear_probe(
            database[rows, assigned.train_classes],
            assigned.train_classes,
            assigned.validation[val_rows, assigned.validation_classes],
            assigned.validation_classes,
            test_x,
            test_y,
            replace(probe, seed=seed),
        )
        found = {
            "accuracy": fitted.test_accuracy,
            "mean_per_class_accuracy": fitted.test_mean_per_class_accuracy,
            "chance": 1 / classes,
        }
    return {
        "probe_accuracy": found["accuracy"],
        **({"probe_accuracy_std": found["accuracy_std"]} if "accuracy_std" in found else {}),
        "probe_mean_per_class_accuracy": found["mean_per_class_accuracy"],
        "chance": found["chance"],  # of the probe
        **{name: value for name, value in metrics.items() if name != "chance"},
        "knn_chance": metrics["chance"],
    }


def mitigate_processing(
    family: str,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    method: str = EraserMethod.LEACE,
    *,
    rank: int | None = None,
    iterations: int = INLP_ITERATIONS,
    ks: Sequence[int] = (10, 1),
    probe: ProbeConfig = ProbeConfig(),
    refits: int = 10,
    device: str | None = None,
    seed: int = 0,
    assigned: Assigned | None = None,
) -> Mitigation:
    """Fit on train's variants ``[N, P, D]`` only, erase train and val (and validation), measure both times."""
    eraser = fit_eraser(method, train[0], rank=rank, iterations=iterations)
    measure = dict(ks=ks, probe=probe, refits=refits, device=device, seed=seed)
    before = processing_metrics(family, train, val, **measure, assigned=assigned)
    erased = (eraser(train[0]), train[1]), (eraser(val[0]), val[1])
    after = processing_metrics(family, *erased, **measure, assigned=assigned.erased(eraser) if assigned else None)
    return Mitigation(eraser, before, after)


def subject_split(n_subjects: int, seed: int, share: float = 0.5) -> torch.Tensor:
    """Which subjects the eraser and probe train on (``share`` of them, seeded); the rest are measured."""
    if n_subjects < 4:
        raise UsageError(f"mitigation on pairs needs at least 4 subjects, got {n_subjects}")
    chosen = np.random.default_rng(seed).permutation(n_subjects)[: max(2, round(share * n_subjects))]
    mask = torch.zeros(n_subjects, dtype=torch.bool)
    mask[torch.from_numpy(chosen)] = True
    return mask


def acquisition_metrics(
    cameras: torch.Tensor, phones: torch.Tensor, train: torch.Tensor, *, probe: ProbeConfig, device, seed: int
) -> dict[str, float]:
    """PairCams recall@1 / SPD_a on the held-out subjects and a camera-type probe (train subjects -> held-out)."""
    held = ~train
    recall = paircams_recall(phones[held], cameras[held], device=device)
    rows = np.flatnonzero(train.numpy())
    tuning = np.random.default_rng([seed, 1]).permutation(rows)[: max(1, int(VALIDATION_SHARE * len(rows)))]
    fit = torch.from_numpy(np.setdiff1d(rows, tuning))
    tuning = torch.from_numpy(np.sort(tuning))

    def photos(index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([cameras[index], phones[index]])
        return x, torch.arange(2).repeat_interleave(len(index))  # 0 camera, 1 smartphone

    found = linear_probe(*photos(fit), *photos(tuning), *photos(torch.from_numpy(np.flatnonzero(held.numpy()))), probe)
    return {
        "probe_accuracy": found.test_accuracy,
        "probe_mean_per_class_accuracy": found.test_mean_per_class_accuracy,
        "chance": 0.5,
        "recall_same_as_query": recall.recall_same_as_query,
        "recall_same_as_target": recall.recall_same_as_target,
        "spd_a": recall.spd_a,
    }


def mitigate_acquisition(
    cameras: torch.Tensor,
    phones: torch.Tensor,
    method: str = EraserMethod.LEACE,
    *,
    rank: int | None = None,
    iterations: int = INLP_ITERATIONS,
    probe: ProbeConfig = ProbeConfig(),
    device: str | None = None,
    seed: int = 0,
) -> tuple[Mitigation, torch.Tensor]:
    """PairCams camera type: fit on the training subjects' (camera, phone) pairs, measure on the others.

    Returns the mitigation and the training-subject mask (rows of ``cameras`` / ``phones``).
    """
    train = subject_split(len(cameras), seed)
    eraser = fit_eraser(method, torch.stack([cameras[train], phones[train]], 1), rank=rank, iterations=iterations)
    measure = dict(probe=probe, device=device, seed=seed)
    before = acquisition_metrics(cameras, phones, train, **measure)
    after = acquisition_metrics(eraser(cameras), eraser(phones), train, **measure)
    return Mitigation(eraser, before, after), train


def mitigation_result(
    target: str, arrays: tuple[Any, Any], common: dict[str, Any], options: TaskOptions, device: str | None
) -> TaskResult:
    """Fit, apply, measure: ``arrays`` are ``(train, val)`` ``([N, P, D], labels)`` of a processing family,
    or ``(cameras [S, D], phones [S, D])`` for the PairCams ``target``; ``common`` records the inputs."""
    eraser, probe, seed = options.eraser, options.probe, common["seed"]
    record = {**common, "probe": probe_record(probe)}
    record.update(
        rank_asked=eraser.rank, inlp_iterations=eraser.iterations if eraser.method == EraserMethod.INLP else None
    )
    fit = dict(rank=eraser.rank, iterations=eraser.iterations, probe=probe, device=device, seed=seed)
    if target == PAIRCAMS_TARGET:
        cameras, phones = arrays
        mitigation, fitted = mitigate_acquisition(cameras, phones, eraser.method, **fit)
        record.update(concept="camera type", classes=["camera", "smartphone"], n_subjects=len(cameras))
        record.update(
            fitted_subjects=int(fitted.sum()),
            measured_subjects=int((~fitted).sum()),
            subject_split="numpy default_rng(seed).permutation, first half fits the eraser and the probe",
        )
    else:
        train, val, *more = arrays
        assigned = more[0] if more else None
        mitigation = mitigate_processing(
            target, train, val, eraser.method, ks=KS, refits=options.refits, assigned=assigned, **fit
        )
        record.update(concept="processing class", classes=list(FAMILIES[target]), ks=list(KS), refits=options.refits)
        record.update(n_fit=int(train[0].shape[0] * train[0].shape[1]))

    def write_eraser(path: Path, stamp: dict[str, Any]) -> None:
        described = {"encoder": stamp["encoder"], "dataset": stamp["dataset"], "target": target}
        described.update(concept=record["concept"], classes=record["classes"], fitted_on=FIT_SPLIT, seed=seed)
        save_eraser(mitigation.eraser, path, described)

    return mitigation.task_result(target, record, write_eraser)


def paircams_arrays(encoder, image_set: ImageSet, extractor: Extractor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cameras [S, D], phones [S, D])`` of the PairCams subjects with one photo of each (at least 4)."""
    _, phones, cameras = embedded_pairs(encoder, image_set, extractor, seed, at_least=4)
    return cameras, phones


def mitigation_inputs(image_set: ImageSet, target: str) -> list[Inputs]:
    """What the mitigation embeds: retrieval's photos on PairCams; else kNN's splits (and, on a set with its
    own validation split, that split too: the probe's) under every class of the family."""
    if target == PAIRCAMS_TARGET:
        return retrieval_inputs(image_set)
    validation = [Inputs("validation", family_variants(target))] if image_set.layout != STANDARD else []
    return knn_inputs(image_set, target) + validation


def mitigation_task(
    encoder, image_set: ImageSet, target: str, extractor: Extractor, seed: int, options: TaskOptions
) -> TaskResult:
    """The task on an image set: a processing family of an image set with classes, or PairCams."""
    common = image_set_parameters(encoder, image_set, seed)
    if target == PAIRCAMS_TARGET:
        arrays = paircams_arrays(encoder, image_set, extractor, seed)
    else:
        if not image_set.has_labels:
            raise UsageError(
                f"{image_set.name} has no classes: the semantic kNN before and after needs labelled images"
            )
        common.update(database_split="train", query_split=image_set.test_split)
        train, test = (
            family_split(encoder, image_set, inputs.split, target, extractor, seed)
            for inputs in knn_inputs(image_set, target)
        )
        arrays = (train[:2], test[:2])
        if image_set.layout != STANDARD:  # the probe of run on a set with its own validation split
            validation = family_split(encoder, image_set, "validation", target, extractor, seed)
            assigned = Assigned(
                validation[0], Assigned.drawn(target, train[2], seed), Assigned.drawn(target, validation[2], seed)
            )
            arrays = (*arrays, assigned)
            common.update(
                probe_protocol="the assigned classes of run's processing probe (train, validation), every class of test"
            )
    return mitigation_result(target, arrays, common, options, extractor.device)
