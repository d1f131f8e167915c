"""Pixels: the paper's processing classes (:mod:`.processing`: decoding, JPEG, sharpening, resizing,
interpolation), the centre mask of the acquisition input (:mod:`.masking`) and an encoder's eval
transform (:mod:`.preprocess`).  Imports nothing of the benchmark but its errors."""
