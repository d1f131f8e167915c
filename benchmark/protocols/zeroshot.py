"""Zero-shot classification with class prompts, as CLIP_benchmark and the CLIP paper score it.

Each prompt's text embedding is L2-normalised, the prompts of a class are averaged and the mean
normalised again (prompt ensembling); an image goes to the class whose embedding has the largest
cosine similarity with its own (ties: the lower class index).  Nothing is trained, so the accuracy
says how much of a label is aligned with language, where a linear probe says how much is in the
embedding at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchmark.protocols.probe import mean_per_class_accuracy


def class_embeddings(prompts: torch.Tensor, prompt_classes: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``[n_classes, D]`` unit vectors: the normalised mean of each class's normalised prompt embeddings
    (``prompts`` ``[P, D]``, ``prompt_classes`` ``[P]`` the class of each prompt; every class needs one)."""
    classes = torch.as_tensor(prompt_classes).long()
    counts = torch.bincount(classes, minlength=n_classes)
    if len(counts) > n_classes or bool((counts == 0).any()):
        raise ValueError(f"every one of {n_classes} classes needs a prompt, got prompts per class {counts.tolist()}")
    unit = torch.nn.functional.normalize(prompts.float(), dim=1)
    summed = torch.zeros(n_classes, unit.shape[1]).index_add_(0, classes, unit)
    return torch.nn.functional.normalize(summed / counts[:, None], dim=1)


def predict(images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """The class of each image (``[N, D]``): largest cosine similarity with a class embedding (``[C, D]``)."""
    similarity = torch.nn.functional.normalize(images.float(), dim=1) @ classes.float().T
    return similarity.argmax(dim=1)


@dataclass(frozen=True)
class ZeroShotResult:
    accuracy: float
    mean_per_class_recall: float
    per_class_recall: list[float | None]  # in class order; None for a class without test samples
    predicted_per_class: list[int]  # how many test images went to each class (a collapse shows here)
    n_test: int

    def to_json(self) -> dict:
        return {
            "n_test": self.n_test,
            "per_class_recall": self.per_class_recall,
            "predicted_per_class": self.predicted_per_class,
        }


def zero_shot(images: torch.Tensor, labels: torch.Tensor, classes: torch.Tensor) -> ZeroShotResult:
    """Score ``images`` (``[N, D]``, labels ``[N]``) against the class embeddings ``classes`` (``[C, D]``)."""
    labels = torch.as_tensor(labels).long()
    if not len(labels):
        raise ValueError("zero-shot needs test images")
    predicted = predict(images, classes)
    right = predicted == labels
    recall = [float(right[labels == c].float().mean()) if (labels == c).any() else None for c in range(len(classes))]
    return ZeroShotResult(
        accuracy=float(right.float().mean()),
        mean_per_class_recall=mean_per_class_accuracy(predicted, labels),
        per_class_recall=recall,
        predicted_per_class=torch.bincount(predicted, minlength=len(classes)).tolist(),
        n_test=len(labels),
    )
