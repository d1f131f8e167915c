"""PairCams near-duplicate retrieval: does the camera type steer which photo looks closest?

Each subject s has one smartphone photo and one camera photo.  A query is one photo of s; its
target is the other photo of s.  Recall@1 is the share of queries whose most similar photo (cosine
on L2-normalised embeddings) in the collection is the target, for two collections (the paper's):

- ``same_as_query``: the target plus the photos of all other subjects taken with the query's camera
  type (a phone query searches among other phone photos and its camera twin);
- ``same_as_target``: the target plus the photos of all other subjects taken with the target's
  camera type (a phone query searches among all camera photos).

Both directions are measured (phone -> camera and camera -> phone).  An encoder that encodes the
camera type finds same-type distractors closer than the cross-type target, which hurts only the
same-as-query collection, so ``spd_a = recall(same_as_target) - recall(same_as_query)``, averaged
over the two directions: bigger means more acquisition bias, 0 means none, negative means the
encoder prefers photos from the other camera type.

A hit needs the target strictly more similar than every distractor (exact ties count as misses);
similarities in float64 so the matrix and loop implementations agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.errors import UsageError
from benchmark.runtime.device import resolve_device

QUERY_CHUNK = 4096  # queries per similarity block


@dataclass(frozen=True)
class DirectionRecall:
    """Recall@1 of one query direction in both collections."""

    same_as_query: float
    same_as_target: float


@dataclass(frozen=True)
class RetrievalResult:
    """PairCams recall@1 per direction and collection, their means and the gap ``spd_a``."""

    n_subjects: int
    phone_to_camera: DirectionRecall
    camera_to_phone: DirectionRecall
    recall_same_as_query: float  # mean over the two directions
    recall_same_as_target: float
    spd_a: float  # recall_same_as_target - recall_same_as_query

    def to_json(self) -> dict:
        """Plain nested dict of floats and ints."""
        return asdict(self)


def recall_inputs(phone_emb, camera_emb, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated, L2-normalised float64 (phone, camera) embeddings, rows aligned by subject."""
    out = []
    for name, a in (("phone_emb", phone_emb), ("camera_emb", camera_emb)):
        t = (a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))).detach()
        if t.ndim != 2 or 0 in t.shape:
            raise UsageError(f"{name} must be a non-empty (subjects, D) array, got shape {tuple(t.shape)}")
        t = t.to(device, torch.float64)
        if not torch.isfinite(t).all():
            raise UsageError(f"{name} contains NaN or infinite values")
        out.append(F.normalize(t, dim=1))
    phone, camera = out
    if phone.shape != camera.shape:
        raise UsageError(
            f"phone_emb {tuple(phone.shape)} and camera_emb {tuple(camera.shape)} must have one row "
            "per subject, aligned, with the same dimension"
        )
    if len(phone) < 2:
        raise UsageError("retrieval needs at least 2 subjects (one target plus distractors)")
    return phone, camera


def _direction(queries: torch.Tensor, targets: torch.Tensor) -> DirectionRecall:
    """Recall@1 for queries[s] -> targets[s], distractors from the query's or the target's type."""
    n = len(queries)
    hits_query = hits_target = 0
    for start in range(0, n, QUERY_CHUNK):
        q = queries[start : start + QUERY_CHUNK]
        rows = torch.arange(len(q), device=q.device)
        own = rows + start  # column of the query's own subject
        to_targets = q @ targets.T
        target_sim = to_targets[rows, own]
        to_same_type = q @ queries.T
        for sims in (to_targets, to_same_type):
            sims[rows, own] = -torch.inf  # drop the target / the query itself from the distractors
        hits_target += int((target_sim > to_targets.max(1).values).sum())
        hits_query += int((target_sim > to_same_type.max(1).values).sum())
    return DirectionRecall(same_as_query=hits_query / n, same_as_target=hits_target / n)


def recall_result(phone_to_camera: DirectionRecall, camera_to_phone: DirectionRecall, n: int) -> RetrievalResult:
    same_query = (phone_to_camera.same_as_query + camera_to_phone.same_as_query) / 2
    same_target = (phone_to_camera.same_as_target + camera_to_phone.same_as_target) / 2
    return RetrievalResult(
        n_subjects=n,
        phone_to_camera=phone_to_camera,
        camera_to_phone=camera_to_phone,
        recall_same_as_query=same_query,
        recall_same_as_target=same_target,
        spd_a=same_target - same_query,
    )


def paircams_recall(phone_emb, camera_emb, device=None) -> RetrievalResult:
    """PairCams recall@1, both directions and collections; rows of the two arrays are subjects."""
    with torch.no_grad():
        phone, camera = recall_inputs(phone_emb, camera_emb, resolve_device(device))
        return recall_result(_direction(phone, camera), _direction(camera, phone), len(phone))
