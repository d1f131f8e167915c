#!/usr/bin/env python3
"""A labelled photo set to try ``trace-bench audit`` on, offline: classes that follow the camera, or not.

Usage: ``python scripts/labelled_photos.py OUT_DIR [--confound 0.8] [--per-class 32] [--class husky --class wolf]``.

Writes ``OUT_DIR/<class>/<class>-NNN.jpg`` (:func:`flickrexif.testing.labelled.labelled_photos`): each
photo its own scene with its class's subject in front, shot through one of eight built-in phones and
cameras, with that camera's Exif and processing.  ``--confound`` is the share of each class shot with
the class's own cameras (phones for the first class, cameras for the second): 0.8 plants a confound,
0 deals every camera alike to every class (a control; make ``--per-class`` a multiple of 8).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from flickrexif.testing.labelled import DEFAULT_CLASSES, labelled_photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--confound", type=float, default=0.8, help="share of a class shot with its own cameras")
    parser.add_argument("--per-class", type=int, default=32)
    parser.add_argument("--class", dest="classes", action="append", help="class names (default: husky, wolf)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 0 <= args.confound <= 1:
        parser.error("--confound is a share, from 0 to 1")
    written = labelled_photos(
        args.out,
        classes=args.classes or DEFAULT_CLASSES,
        per_class=args.per_class,
        confound=args.confound,
        seed=args.seed,
    )
    own = Counter(photo.label for photo in written if photo.own_camera)
    total = Counter(photo.label for photo in written)
    for label in total:
        print(f"{label}: {total[label]} photos, {own[label]} with its own cameras")
    print(f"Wrote {len(written)} photos under {args.out}")


if __name__ == "__main__":
    main()
