"""Zero-shot scoring: prompt ensembling, the nearest class, and the known answers (planted prompts near
100%, prompts that know nothing of the classes at chance)."""

from __future__ import annotations

import pytest
import torch

from benchmark.protocols.zeroshot import class_embeddings, predict, zero_shot


def planted(classes=4, per_class=300, dim=16, seed=0, noise=1.0):
    """Images around one direction per class, split in half: (train x, train y, test x, test y)."""
    gen = torch.Generator().manual_seed(seed)
    directions = torch.randn(classes, dim, generator=gen) * 2
    y = torch.arange(classes).repeat_interleave(per_class)
    x = directions[y] + noise * torch.randn(len(y), dim, generator=gen)
    order = torch.randperm(len(y), generator=gen)
    half = len(y) // 2
    return x[order[:half]], y[order[:half]], x[order[half:]], y[order[half:]]


def centroids(x: torch.Tensor, y: torch.Tensor, classes: int) -> torch.Tensor:
    return torch.stack([x[y == c].mean(0) for c in range(classes)])


def test_prompts_along_the_class_centroids_classify_near_perfectly():
    train_x, train_y, test_x, test_y = planted()
    # three "prompts" per class, each the centroid plus its own noise: the ensemble is the centroid's direction
    gen = torch.Generator().manual_seed(1)
    prompts = centroids(train_x, train_y, 4).repeat_interleave(3, dim=0) + 0.1 * torch.randn(12, 16, generator=gen)
    result = zero_shot(test_x, test_y, class_embeddings(prompts, torch.arange(4).repeat_interleave(3), 4))
    assert result.accuracy > 0.95 and result.mean_per_class_recall > 0.95
    assert result.n_test == len(test_y) and len(result.per_class_recall) == 4
    assert sum(result.predicted_per_class) == len(test_y)


def test_prompts_that_know_nothing_of_the_classes_score_chance():
    """Centroids of shuffled labels: the prompts say nothing about the images, so over many shuffles
    the accuracy averages 1 / classes (each run within a few binomial standard deviations)."""
    train_x, train_y, test_x, test_y = planted(classes=4)
    gen = torch.Generator().manual_seed(2)
    scores = []
    for _ in range(40):
        shuffled = train_y[torch.randperm(len(train_y), generator=gen)]
        classes = class_embeddings(centroids(train_x, shuffled, 4), torch.arange(4), 4)
        scores.append(zero_shot(test_x, test_y, classes).mean_per_class_recall)
    mean = sum(scores) / len(scores)
    assert abs(mean - 0.25) < 0.05, scores
    aligned = zero_shot(test_x, test_y, class_embeddings(centroids(train_x, train_y, 4), torch.arange(4), 4))
    assert aligned.mean_per_class_recall > max(scores)


def test_a_class_embedding_is_the_normalised_mean_of_its_normalised_prompts():
    prompts = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, -5.0], [2.0, 2.0]])
    got = class_embeddings(prompts, torch.tensor([0, 0, 1, 1]), 2)
    # class 0: (1, 0) and (0, 1) average to (0.5, 0.5); class 1: (0, -1) and (0.71, 0.71)
    expected = torch.nn.functional.normalize(torch.tensor([[0.5, 0.5], [0.5**0.5 / 2, (0.5**0.5 - 1) / 2]]), dim=1)
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.allclose(got.norm(dim=1), torch.ones(2))


def test_scale_of_an_image_does_not_change_its_class_and_a_tie_goes_to_the_lower_class():
    classes = torch.nn.functional.normalize(torch.tensor([[1.0, 1.0], [1.0, -1.0]]), dim=1)
    images = torch.tensor([[1.0, 0.0], [10.0, -1.0], [0.1, -0.01]])
    assert predict(images, classes).tolist() == [0, 1, 1]


def test_every_class_needs_a_prompt():
    with pytest.raises(ValueError, match="every one of 3 classes needs a prompt"):
        class_embeddings(torch.randn(2, 4), torch.tensor([0, 2]), 3)
