"""``trace-bench extract``: embeddings of a dataset under processing variants, into the cache, and
optionally into the released code's layout (``--layout released``)."""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from benchmark.cli.options import DATA, encoder_group, extraction_group, single, source_group, with_groups
from benchmark.cli.output import INTERRUPTED, reported, stderr, warn_skipped
from benchmark.errors import UsageError
from flickrexif.cli.options import progress_bar


class Layout(StrEnum):
    """Where ``trace-bench extract`` writes: the cache only, or also the released code's layout."""

    CACHE = "cache"
    RELEASED = "released"


@with_groups(
    source=source_group(single("dataset", "Image folder, dataset folder (FlickrExif/PairCams release), Hub id, "
                                          "or `official:IMAGES:SPLITS`.")),
    encoder=encoder_group(single("model", "Encoder alias or key (see `trace-bench models`).")),
    extraction=extraction_group(),
)  # fmt: skip
def extract_command(
    variant: Annotated[
        Optional[list[str]],
        typer.Option(
            help="FAMILY/CLASS (e.g. jpeg/q75-420), FAMILY/all, or source; repeat for several (default: source).",
            rich_help_panel=DATA,
            metavar="VARIANT",
        ),
    ] = None,
    mask_ratio: Annotated[
        float, typer.Option(help="Centre mask ratio applied to every variant (0 = none).", metavar="RATIO")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the random processing draws.", metavar="SEED")] = 0,
    layout: Annotated[
        Layout,
        typer.Option(
            help="cache: the embedding cache only; released: also write OUT/PROCESSING/ holding "
            "model=M_variant=V_split=S.safetensors (S: train or val) as the released code does (train -> train, test split -> val), "
            "which `trace-bench knn|probe --embeddings OUT` and the released scripts read.",
            metavar="LAYOUT",
        ),
    ] = Layout.CACHE,
    out: Annotated[
        Optional[Path], typer.Option(help="Folder of the released layout (with --layout released).", metavar="DIR")
    ] = None,
    *,
    source,
    encoder,
    extraction,
) -> None:
    """Compute (or find in the cache) embeddings of a dataset under processing variants (every split, or
    those of --split)."""
    from benchmark.embeddings.released_layout import layout_split, model_and_variant, released_name, write
    from benchmark.embeddings.variants import Variant
    from benchmark.imaging.processing import FAMILIES
    from benchmark.runtime.files import writable_folder
    from benchmark.sources.imageset import split_key

    with reported(interrupted=INTERRUPTED):
        if extraction.cache is None:
            raise UsageError("give --cache FOLDER: the embedding cache to compute into (or find embeddings in)")
        if (layout == Layout.RELEASED) != (out is not None):
            raise UsageError("--layout released writes to --out DIR: give both or neither")
        if layout == Layout.RELEASED and mask_ratio:
            raise UsageError("the released layout names processings only: masked variants cannot be written to it")
        variants = []
        for text in variant or ["source"]:
            family, _, name = text.partition("/")
            if family == "source":
                variants.append(Variant(mask_ratio=mask_ratio))
            else:
                if family not in FAMILIES:
                    raise UsageError(f"unknown processing family {family!r}; choose from {', '.join(FAMILIES)}")
                names = FAMILIES[family] if name in ("", "all") else (name,)
                variants += [Variant(family, n, mask_ratio=mask_ratio) for n in names]
        found = source.detect(source.datasets[0])
        image_set = found.open()
        stderr.print(f"{found.label} ({found.kind.name}): {image_set.summary()}", highlight=False, markup=False)
        executor = extraction.chunk_executor()  # before the model loads: a bad choice or a missing ray costs nothing
        writable_folder(extraction.cache, "--cache")
        if out is not None:
            writable_folder(out, "--out")
        loaded = encoder.load(encoder.models[0])
        extractor = extraction.extractor(
            device=encoder.device, precision=encoder.precision, default_cache=extraction.cache, executor=executor
        )
        store = extractor.cache
        precision = extractor.encoder_precision(loaded)  # what extract resolves too, for the cache paths printed
        splits = [split_key(name) for name in source.splits or image_set.splits]
        unknown = [name for name in splits if name not in image_set.splits]
        if unknown:
            raise UsageError(
                f"{image_set.name} has no {', '.join(unknown)} split; it has: {', '.join(image_set.splits)}"
            )
        for split_name in splits:
            with progress_bar() as bar:
                task = bar.add_task(split_name, total=len(image_set.split(split_name)))

                def on_step(step: str, total: int | None, task=task) -> None:
                    if total is not None:  # no "measuring" step here: extract only embeds
                        bar.update(task, description=f"{image_set.name}: {step}", total=total, completed=0)

                with_bar = replace(extractor, on_batch=lambda n, task=task: bar.advance(task, n), on_step=on_step)
                found_embeddings = with_bar.embed(loaded, image_set, split_name, variants, seed)
            labels = {item.id: -1 if item.label is None else item.label for item in image_set.split(split_name)}
            for item_variant, embeddings in found_embeddings.items():
                key = store.key(loaded.describe(), image_set, split_name, item_variant, seed, precision)
                path = store.path(key)
                if layout == Layout.RELEASED and (to := layout_split(split_name, image_set.test_split)):
                    processing = released_name(item_variant.family, item_variant.class_name)
                    model_name, variant_name = model_and_variant(loaded.spec.released, loaded.spec.key)
                    ordered = [labels[i] for i in embeddings.ids]
                    path = write(out, processing, model_name, variant_name, to, embeddings.vectors, ordered)
                typer.echo(f"{split_name:10} {item_variant.name:28} {tuple(embeddings.vectors.shape)} {path}")
        left_out = image_set.skipped | extractor.take_skipped()
        warn_skipped(image_set.name, len(left_out), dict(sorted(left_out.items())), "the embeddings hold the rest")
