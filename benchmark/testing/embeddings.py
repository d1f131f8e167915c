"""Planted embeddings for tests: class signal plus processing signal plus noise, as tensors or as a folder
in the released code's layout."""

from __future__ import annotations

import torch

from benchmark.embeddings.released_layout import released_name, write
from benchmark.imaging.processing import FAMILIES

FAMILY = "sharpening"  # three classes: JPEG95_444, SHARPEN_2, SHARPEN_4
PAPER = "clip,ViT-B-16"  # a released (model, variant): results are keyed by the registry's encoder


def random_embeddings(n_db=90, n_q=25, n_proc=3, dim=8, classes=4, seed=0):
    """Class signal plus processing signal plus noise: every setup gives a different accuracy."""
    gen = torch.Generator().manual_seed(seed)
    class_vec, proc_vec = torch.randn(classes, dim, generator=gen), torch.randn(n_proc, dim, generator=gen)
    db_y = torch.randint(0, classes, (n_db,), generator=gen)
    q_y = torch.randint(0, classes, (n_q,), generator=gen)
    db = class_vec[db_y, None] + 0.7 * proc_vec + torch.randn(n_db, n_proc, dim, generator=gen)
    q = class_vec[q_y, None] + 0.7 * proc_vec + torch.randn(n_q, n_proc, dim, generator=gen)
    return db, db_y, q, q_y


def planted_folder(root, model=PAPER, seed=5):
    """Class + processing signal + noise, one file per processing and split, as the release writes them."""
    db, db_y, q, q_y = random_embeddings(n_db=120, n_q=40, n_proc=len(FAMILIES[FAMILY]), dim=12, seed=seed)
    name, variant = model.split(",")
    for i, class_name in enumerate(FAMILIES[FAMILY]):
        write(root, released_name(FAMILY, class_name), name, variant, "train", db[:, i], db_y.tolist())
        write(root, released_name(FAMILY, class_name), name, variant, "val", q[:, i], q_y.tolist())
    return root, (db, db_y, q, q_y)
