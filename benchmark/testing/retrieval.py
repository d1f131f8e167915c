"""PairCams recall@1 with each collection built explicitly: the reference
:func:`benchmark.protocols.retrieval.paircams_recall` is tested against."""

from __future__ import annotations

import torch

from benchmark.protocols.retrieval import DirectionRecall, RetrievalResult, recall_inputs, recall_result


def _direction_loop(queries: torch.Tensor, targets: torch.Tensor) -> DirectionRecall:
    n = len(queries)
    hits = {"same_as_query": 0, "same_as_target": 0}
    for s in range(n):
        others = [t for t in range(n) if t != s]
        collections = {"same_as_query": queries[others], "same_as_target": targets[others]}
        target_sim = float(targets[s] @ queries[s])
        for name, distractors in collections.items():
            hits[name] += target_sim > float((distractors @ queries[s]).max())
    return DirectionRecall(same_as_query=hits["same_as_query"] / n, same_as_target=hits["same_as_target"] / n)


def paircams_recall_loop(phone_emb, camera_emb) -> RetrievalResult:
    """Per-query reference for ``paircams_recall`` (CPU): builds each collection explicitly."""
    phone, camera = recall_inputs(phone_emb, camera_emb, torch.device("cpu"))
    return recall_result(_direction_loop(phone, camera), _direction_loop(camera, phone), len(phone))
