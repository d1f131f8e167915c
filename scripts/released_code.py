"""Run the paper's released code itself (a local checkout) on this machine, for side-by-side benchmarks.

``--released PATH`` of the ``bench_*.py`` scripts points at a checkout of
github.com/ryan-caesar-ramos/visual-encoder-traces.  Its scripts are imported from there, never copied:
:func:`released_module` loads one by path, with ``torch.Tensor.cuda`` made a no-op when there is no GPU
(the scripts call ``.cuda()`` unconditionally), and :func:`released_knn_summary` runs the kNN protocol
exactly as ``processing_semantic_influence/scripts/processing_influence.sh`` does — ``knn_classifier.py``
once per (test, positives, negatives) processing triple and per uniform seed, then
``generate_results.py`` — but in this process, so Python's start-up is not timed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
import time
from argparse import Namespace
from pathlib import Path
from types import ModuleType

import torch

UNIFORM_SEEDS = range(10)  # processing_influence.sh: for seed in {0..9}


def released_module(checkout: Path, relative: str) -> ModuleType:
    """``checkout/relative`` imported as a module (its folder on sys.path for its own imports)."""
    path = Path(checkout) / relative
    if not path.is_file():
        raise SystemExit(f"{path} not found: --released must point at a checkout of visual-encoder-traces")
    if not torch.cuda.is_available():
        torch.Tensor.cuda = lambda self, *args, **kwargs: self  # the scripts move every tensor to CUDA
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(f"released_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def released_knn_summary(
    checkout: Path, embeddings: Path, processings: list[str], model: str, variant: str, k: int, work: Path
) -> tuple[dict, float]:
    """The released summary (baseline, all_diff, pos_same, neg_same, uniform; percent) and its seconds."""
    knn = released_module(checkout, "processing_semantic_influence/knn_classifier.py")
    results = released_module(checkout, "processing_semantic_influence/generate_results.py")
    folder = work / f"model={model}_variant={variant}" / " ".join(processings)
    common = {"model": model, "variant": variant, "embeddings_dir": str(embeddings), "nb_knn": k, "num_chunks": 100}
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for test in processings:
            for positives in processings:
                for negatives in processings:
                    out = folder / f"{test}_{positives}_{negatives}.txt"
                    knn.main(
                        Namespace(
                            **common,
                            test_processing_type=test,
                            positives_processing_type=[positives],
                            negatives_processing_type=[negatives],
                            seed=0,
                            output_name=str(out),
                        )
                    )
            for seed in UNIFORM_SEEDS:
                out = folder / f"{test}_uniform_seed={seed}.txt"
                knn.main(
                    Namespace(
                        **common,
                        test_processing_type=test,
                        positives_processing_type=list(processings),
                        negatives_processing_type=list(processings),
                        seed=seed,
                        output_name=str(out),
                    )
                )
        results.main(Namespace(model=model, variant=variant, processing_type=list(processings), output_dir=str(work)))
    seconds = time.perf_counter() - start
    return json.loads((folder / "summary.json").read_text()), seconds
