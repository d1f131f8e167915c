"""Erase the trace, measure what is left: linear erasers of processing / acquisition information.

An encoder's embeddings carry how a photo was made (processing, camera type) next to what it shows.
Mitigation asks how much of that trace a linear map can remove, and what it costs the semantics: fit
an eraser on the training split only, apply it to every embedding, and measure before and after
with the benchmark's own tasks (processing probe against chance, kNN all-same / pos-same / neg-same
/ SPD_p; PairCams recall@1 both collections / SPD_a and a camera-type probe).

The concept is the position along axis 1 of aligned variants ``[N, P, D]``: the P processings of a
family for the same N images, or (camera, phone) for the N PairCams subjects.  Three erasers:

* ``leace`` (default): LEACE (``concept-erasure``), the closed-form affine map that makes the concept
  linearly unpredictable (equal class means) with the least mean squared change; rank <= P - 1.
* ``paired``: the difference between variants of one image is pure trace, so the top ``rank``
  principal directions of (variant - the image's mean over its variants) are projected out.
* ``inlp``: iterative nullspace projection, each iteration a ridge least-squares classifier of the
  concept whose P - 1 directions are projected out (Ravfogel et al. 2020), for comparison.

Every eraser is ``x -> x - ((x - bias) @ right.T) @ left.T`` on L2-normalised embeddings (the
benchmark compares directions: kNN and retrieval use cosine, the probe normalises); erased
coordinates are set to the training mean's.  :func:`save_eraser` writes it as safetensors so it
can be applied to new embeddings (:func:`load_eraser`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from benchmark.choices import EraserMethod, chosen
from benchmark.errors import UsageError

INLP_ITERATIONS = 4
FORMAT = "trace-bench eraser 1"


@dataclass(frozen=True)
class Eraser:
    """An affine eraser ``x - ((x - bias) @ right.T) @ left.T`` (left [D, r], right [r, D])."""

    method: str
    left: torch.Tensor
    right: torch.Tensor
    bias: torch.Tensor
    normalize: bool = True  # L2-normalise the input first (the space the benchmark measures in)

    @property
    def dim(self) -> int:
        return self.bias.shape[0]

    @property
    def rank(self) -> int:
        """How many directions it changes: the rank of ``left @ right``."""
        left, right = self.left.double(), self.right.double()
        if left.shape[1] < left.shape[0]:  # thin factors: the same singular values from an [r, r] product
            left, right = torch.linalg.qr(left).R, torch.linalg.qr(right.T).R.T
        values = torch.linalg.svdvals(left @ right)
        return int((values > 1e-6 * float(values.max())).sum()) if values.numel() else 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Erase the last axis of ``x`` (any leading shape); float64 arithmetic, x's dtype back."""
        if x.shape[-1] != self.dim:
            raise UsageError(f"the eraser was fit on {self.dim}-dimensional embeddings, got {x.shape[-1]}")
        flat = x.reshape(-1, self.dim).double()
        if self.normalize:
            flat = F.normalize(flat, dim=1)
        left, right, bias = self.left.double(), self.right.double(), self.bias.double()
        erased = flat - ((flat - bias) @ right.T) @ left.T
        return erased.reshape(x.shape).to(x.dtype)


def _prepared(variants: torch.Tensor, normalize: bool) -> torch.Tensor:
    if variants.ndim != 3 or variants.shape[1] < 2 or variants.shape[0] < 2:
        raise UsageError(
            f"an eraser needs aligned variants [N >= 2, P >= 2, D], got {tuple(variants.shape)}: "
            "every image under every class of the concept"
        )
    return _checked(variants, normalize)


def _checked(x: torch.Tensor, normalize: bool) -> torch.Tensor:
    """``x`` in float64, L2-normalised along its last axis when ``normalize``; NaN or inf refused."""
    x = x.double()
    if not torch.isfinite(x).all():
        raise UsageError("the embeddings contain NaN or infinite values")
    return F.normalize(x, dim=-1) if normalize else x


def _concept(variants: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x [N * P, D], class index [N * P])``: every variant as a row, labelled by its position."""
    n, p, d = variants.shape
    return variants.reshape(n * p, d), torch.arange(p).repeat(n)


def fit_leace(variants: torch.Tensor, *, normalize: bool = True) -> Eraser:
    """LEACE on every variant against its one-hot class (``concept_erasure.LeaceEraser.fit``)."""
    x, labels = _concept(_prepared(variants, normalize))
    return _leace(x, labels, variants.shape[1], normalize)


def _leace(x: torch.Tensor, labels: torch.Tensor, classes: int, normalize: bool) -> Eraser:
    from concept_erasure import LeaceEraser

    fitted = LeaceEraser.fit(x, F.one_hot(labels, classes).double())
    return Eraser("leace", fitted.proj_left, fitted.proj_right, fitted.bias, normalize)


def fit_paired(variants: torch.Tensor, rank: int | None = None, *, normalize: bool = True) -> Eraser:
    """Project out the top ``rank`` (default P - 1) principal directions of within-image differences."""
    x = _prepared(variants, normalize)
    n, p, d = x.shape
    rank = p - 1 if rank is None else rank
    if not 1 <= rank <= min(d, n * (p - 1)):
        raise UsageError(f"paired rank must be in 1..{min(d, n * (p - 1))}, got {rank}")
    differences = (x - x.mean(1, keepdim=True)).reshape(n * p, d)
    _, _, vh = torch.linalg.svd(differences, full_matrices=False)
    basis = vh[:rank].T  # [D, rank], orthonormal
    return Eraser("paired", basis, basis.T.clone(), x.reshape(n * p, d).mean(0), normalize)


def _ridge_directions(x: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Orthonormal basis of a ridge least-squares classifier's weights (x centred; <= classes - 1)."""
    targets = F.one_hot(labels, classes).double()
    targets = targets - targets.mean(0)
    gram = x.T @ x
    ridge = 1e-3 * float(torch.trace(gram)) / x.shape[1] + 1e-12
    weights = torch.linalg.solve(gram + ridge * torch.eye(x.shape[1], dtype=x.dtype), x.T @ targets)
    u, s, _ = torch.linalg.svd(weights, full_matrices=False)
    return u[:, s > 1e-10 * float(s.max())]


def fit_inlp(variants: torch.Tensor, iterations: int = INLP_ITERATIONS, *, normalize: bool = True) -> Eraser:
    """INLP: ``iterations`` rounds of fitting a linear classifier and projecting out its directions."""
    x, labels = _concept(_prepared(variants, normalize))
    return _inlp(x, labels, variants.shape[1], iterations, normalize)


def _inlp(x: torch.Tensor, labels: torch.Tensor, classes: int, iterations: int, normalize: bool) -> Eraser:
    if iterations < 1:
        raise UsageError(f"INLP needs at least one iteration, got {iterations}")
    mean = x.mean(0)
    centred = x - mean
    basis = torch.zeros(x.shape[1], 0, dtype=x.dtype)
    for _ in range(iterations):
        remaining = centred - (centred @ basis) @ basis.T
        found = _ridge_directions(remaining, labels, classes)
        found = found - basis @ (basis.T @ found)  # keep the basis orthonormal
        q, r = torch.linalg.qr(found)
        keep = r.diagonal().abs() > 1e-8
        if not keep.any():
            break
        basis = torch.cat([basis, q[:, keep]], dim=1)
    return Eraser("inlp", basis, basis.T.clone(), mean, normalize)


def fit_eraser(method: str, variants: torch.Tensor, *, rank: int | None = None, iterations: int = INLP_ITERATIONS):
    """The eraser of ``method`` (an :class:`EraserMethod`) for the concept "which of the P variants"."""
    method = chosen(EraserMethod, method, "eraser method")
    if method == EraserMethod.LEACE:
        return fit_leace(variants)
    if method == EraserMethod.PAIRED:
        return fit_paired(variants, rank)
    return fit_inlp(variants, iterations)


def fit_concept_eraser(
    method: str, x: torch.Tensor, labels: torch.Tensor, *, iterations: int = INLP_ITERATIONS, normalize: bool = True
) -> Eraser:
    """The eraser of ``method`` for a concept given as a label per embedding (``x`` [N, D], ``labels`` [N]):
    natural metadata such as a camera model, one value per image.  ``paired`` needs the same image under
    several variants, which such a concept does not have, and is refused."""
    method = chosen(EraserMethod, method, "eraser method")
    if method == EraserMethod.PAIRED:
        raise UsageError(
            "the paired eraser needs every image under every class of the concept (processings of one image); "
            "a metadata value is one per image: use --method leace or inlp"
        )
    values, dense = torch.unique(torch.as_tensor(labels), return_inverse=True)
    if x.ndim != 2 or len(x) != len(dense) or len(values) < 2:
        raise UsageError(
            f"an eraser needs [N, D] embeddings with a label each, of two values or more; got {tuple(x.shape)} "
            f"and {len(dense)} labels of {len(values)} values"
        )
    prepared, classes = _checked(x, normalize), len(values)
    if method == EraserMethod.LEACE:
        return _leace(prepared, dense, classes, normalize)
    return _inlp(prepared, dense, classes, iterations, normalize)


def save_eraser(eraser: Eraser, path: Path, metadata: dict[str, Any]) -> Path:
    """Write ``left``, ``right``, ``bias`` (float32) and the method, rank and ``metadata`` (JSON strings)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: getattr(eraser, name).float().contiguous() for name in ("left", "right", "bias")}
    header = {"format": FORMAT, "method": eraser.method, "rank": str(eraser.rank), "normalize": str(eraser.normalize)}
    header.update({key: json.dumps(value, default=str) for key, value in metadata.items()})
    partial = path.with_name(path.name + ".partial")
    save_file(tensors, str(partial), metadata=header)
    partial.replace(path)
    return path


def load_eraser(path: Path) -> tuple[Eraser, dict[str, str]]:
    """``(eraser, metadata)`` of a file :func:`save_eraser` wrote."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as handle:
        metadata = handle.metadata() or {}
        if metadata.get("format") != FORMAT:
            raise UsageError(f"{path} is not a trace-bench eraser (format {metadata.get('format')!r})")
        tensors = {name: handle.get_tensor(name) for name in ("left", "right", "bias")}
    return Eraser(metadata["method"], normalize=metadata.get("normalize") == "True", **tensors), metadata


@dataclass(frozen=True)
class EraserOptions:
    """The eraser of ``trace-bench mitigate``: ``--method``, ``--rank`` (paired), ``--iterations`` (inlp)."""

    method: EraserMethod = EraserMethod.LEACE
    rank: int | None = None  # paired: directions projected out (None: classes - 1)
    iterations: int = INLP_ITERATIONS

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", chosen(EraserMethod, self.method, "--method"))
        if self.iterations < 1:
            raise UsageError(f"--iterations must be >= 1, got {self.iterations}")
        if self.rank is not None and self.rank < 1:
            raise UsageError(f"--rank must be >= 1, got {self.rank}")
