"""Class labels as indices whose memory follows the classes present, not the largest label.

kNN votes and the probe's logits have one column per class index up to the largest one, so labels
that come from outside (a released-layout embedding file, a Hugging Face dataset) such as a single
label of 50,000,000 would allocate fifty million columns.  Labels that are sparse like that are
renumbered 0..C-1 in their order (what a lower-class tie rule sees is unchanged); dense labels,
gaps of a few missing classes included, are left exactly as they are, so results on them do not move.
"""

from __future__ import annotations

import torch

SPARSE_SLACK = 64  # unused class indices tolerated beyond 4x the classes present


def dense_labels(*labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``labels`` (1-D integer tensors sharing one class space), renumbered when sparse."""
    joined = torch.cat([t.reshape(-1) for t in labels])
    if not len(joined):
        return labels
    classes, inverse = torch.unique(joined, sorted=True, return_inverse=True)
    if int(classes[-1]) + 1 <= 4 * len(classes) + SPARSE_SLACK:
        return labels
    return tuple(inverse.split([len(t) for t in labels]))
