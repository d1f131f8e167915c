"""Run the paper's released code itself (a local checkout) on this machine, for side-by-side benchmarks.

``--released PATH`` of the ``bench_*.py`` scripts points at a checkout of
github.com/ryan-caesar-ramos/visual-encoder-traces.  Its scripts are imported from there, never copied:
:func:`released_module` loads one by path, with ``torch.Tensor.cuda`` made a no-op when there is no GPU
(the scripts call ``.cuda()`` unconditionally), and :func:`released_knn_summary` runs the kNN protocol
exactly as ``processing_semantic_influence/scripts/processing_influence.sh`` does — ``knn_classifier.py``
once per (test, positives, negatives) processing triple and per uniform seed, then
``generate_results.py`` — but in this process, so Python's start-up is not timed.
:func:`released_probe` runs the released linear-probe trainer (``metadata_prediction/logreg_trainer.py``,
``logreg_torch`` with ``--features_norm l2`` as ``processing_prediction.sh`` passes) through the study
``processing_prediction.py`` runs: Optuna TPE (multivariate, grouped, seed 22), 30 trials of 100
epochs on train/val, then the best point refit on train + val and tested (one refit; the release
repeats it over 10 class draws).  Needs ``optuna`` and ``scikit-learn`` (the release's requirements).
:func:`released_processing_probe` runs ``metadata_prediction/processing_prediction.py`` whole (tuning, 10 refits)
on a released-layout embedding folder.
:func:`released_retrieval` runs ``near_duplicate_retrieval/retrieval.py``'s ``main`` on one PairCams
embedding file and returns the ``results.json`` it writes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import pickle
import sys
import tempfile
import time
from argparse import Namespace
from pathlib import Path
from types import ModuleType
from unittest import mock

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


def released_probe(
    checkout: Path, splits, *, trials: int = 30, epochs: int = 100, seed: int = 22
) -> tuple[float, float]:
    """(test accuracy in percent, seconds) of the released trainer on ``splits`` (train/val/test tensors)."""
    import optuna

    trainer = released_module(checkout, "metadata_prediction/logreg_trainer.py")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as out:
        args = Namespace(
            features_norm="l2",
            clf_type="logreg_torch",
            clf_lr_min=1e-1,
            clf_lr_max=1e2,
            clf_wd_min=1e-12,
            clf_wd_max=1e-4,
            clf_mom=0.9,
            clf_epochs=epochs,
            clf_batch_size=1024,
            device="cuda" if torch.cuda.is_available() else "cpu",
            output_dir=out,
            seed=seed,
        )
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            tuning = trainer.LogregTorchTrainer(splits.train_x, splits.train_y, splits.val_x, splits.val_y, args)
            sampler = optuna.samplers.TPESampler(multivariate=True, group=True, seed=seed)
            study = optuna.create_study(sampler=sampler, direction="maximize")
            study.optimize(tuning, n_trials=trials, n_jobs=1, show_progress_bar=False)
            final = trainer.LogregTorchTrainer(
                torch.cat([splits.train_x, splits.val_x]),
                torch.cat([splits.train_y, splits.val_y]),
                splits.test_x,
                splits.test_y,
                args,
            )
            final.set_hps(study.best_params)
            accuracy = final()
        return float(accuracy), time.perf_counter() - start


def released_processing_probe(
    checkout: Path, embeddings: Path, processings: list[str], model: str, variant: str, *, seed: int = 22
) -> tuple[list[float], float, dict]:
    """(accuracy of each of the 10 refits in percent, seconds, the Optuna study's best parameters) of
    ``processing_prediction.py``'s ``main``.

    Run as ``processing_prediction.sh`` runs it (``logreg_torch``, ``--features_norm l2``, the script's
    defaults otherwise: 30 Optuna trials on 80% of the drawn training rows, then 10 refits on all of them
    tested on every val image under every processing), its seeds set as its ``__main__`` sets them.  The
    Optuna contour plot it writes needs plotly and is no part of the protocol: it is skipped.
    """
    import random
    from types import SimpleNamespace

    import numpy as np
    import optuna

    script = released_module(checkout, "metadata_prediction/processing_prediction.py")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as out:
        args = Namespace(
            model=model,
            variant=variant,
            processing=list(processings),
            embeddings_dir=str(embeddings),
            features_norm="l2",
            clf_type="logreg_torch",
            dataset_per_val=0.2,
            clf_lr_min=1e-1,
            clf_lr_max=1e2,
            clf_wd_min=1e-12,
            clf_wd_max=1e-4,
            clf_mom=0.9,
            clf_epochs=100,
            clf_batch_size=1024,
            n_optuna_workers=1,
            n_optuna_trials=30,
            seed=seed,
            device="cuda" if torch.cuda.is_available() else "cpu",
            output_dir=out,
        )
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        no_plot = mock.patch(
            "optuna.visualization.plot_contour", lambda *a, **k: SimpleNamespace(write_html=lambda path: None)
        )
        start = time.perf_counter()
        with no_plot, contextlib.redirect_stdout(io.StringIO()):
            script.main(args)
        seconds = time.perf_counter() - start
        accuracies = pickle.loads((Path(out) / "accs_per_seed.pkl").read_bytes())
        chosen = pickle.loads((Path(out) / "study.pkl").read_bytes()).best_params
    return [float(a) for a in accuracies], seconds, chosen


def released_retrieval(checkout: Path, embeddings: Path, model: str, variant: str, work: Path) -> tuple[dict, float]:
    """(released ``results.json``, seconds) of ``retrieval.py`` on ``embeddings/model=M_variant=V.safetensors``.

    ``retrieval.py`` moves its tensors with ``.to("cuda")``, which the ``.cuda`` no-op of
    :func:`released_module` does not cover: without a GPU that call leaves them on the CPU, for this run only.
    """
    retrieval = released_module(checkout, "near_duplicate_retrieval/retrieval.py")
    to = torch.Tensor.to

    def to_or_stay(self, *args, **kwargs):
        return self if args == ("cuda",) and not kwargs and not torch.cuda.is_available() else to(self, *args, **kwargs)

    args = Namespace(model=model, variant=variant, embeddings_dir=str(embeddings), output_dir=str(work))
    with mock.patch.object(torch.Tensor, "to", to_or_stay), contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        retrieval.main(args)
        seconds = time.perf_counter() - start
    return json.loads((work / "results.json").read_text()), seconds


def released_extraction(
    checkout: Path, root: Path, processings: list[str], encoder, batch_size: int, workers: int, out: Path
) -> float:
    """Seconds of the released ``feature_extraction/extract_embeddings.py`` ``main``, once per processing.

    ``root`` is an ImageNet folder (``meta.bin``, ``train/<wnid>/*``) that the released ``get_dataloader``
    reads through torchvision; ``encoder`` is ours (``benchmark.encoders.load_encoder``), handed to the
    released loop through a stand-in for its ``encoders`` module (which would load the 47 encoders'
    weights): the released eval transform (``Resize`` shorter side, ``CenterCrop``, ``ToTensor``,
    ``Normalize``, as its ``validate_transforms`` requires), ``embed_images`` = the forward pass.
    """
    import torchvision.transforms as T

    preprocess = encoder.preprocess
    size, interpolation = preprocess.crop_size, T.InterpolationMode(preprocess.interpolation)

    class StandIn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = encoder.model
            self.preprocess = T.Compose(
                [
                    T.Resize(size, interpolation=interpolation),
                    T.CenterCrop(size),
                    T.ToTensor(),
                    T.Normalize(preprocess.mean, preprocess.std),
                ]
            )

        def embed_images(self, images):
            return self.model(images)

    if "feature_extraction.encoders" not in sys.modules:  # imported once: datasets registers types on import
        encoders = ModuleType("feature_extraction.encoders")
        encoders.variant_registry, encoders.custom_variant_registry = {"bench": ["ours"]}, {}
        encoders.load_encoder = encoders.load_custom_encoder = None
        sys.modules[encoders.__name__] = encoders
        sys.path.insert(0, str(Path(checkout)))
    extract = importlib.import_module("feature_extraction.extract_embeddings")
    with mock.patch.object(extract, "load_encoder", lambda model, variant, device: StandIn()):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for name in processings:
                extract.main(
                    Namespace(
                        model="bench",
                        variant="ours",
                        output_dir=str(out),
                        dataset="ImageNet",
                        data_path=str(root),
                        split="train",
                        processing=extract.Processor[name],
                        device=0,
                        batch_size=batch_size,
                        num_workers=workers,
                        use_custom_models=False,
                        custom_model_weights_dir=None,
                    )
                )
        return time.perf_counter() - start
