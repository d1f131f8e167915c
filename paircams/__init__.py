"""PairCams: the same subject shot with a smartphone and with a camera, as a dataset."""
