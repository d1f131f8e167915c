"""The paper's measurements on embeddings, pure maths with no tasks, files or encoders: the linear probe
(:mod:`.probe`) and its train/val refit protocol (:mod:`.refit`), kNN influence (:mod:`.knn`),
PairCams retrieval (:mod:`.retrieval`) and linear erasers of a trace (:mod:`.erasers`).  Imports the
benchmark's errors and runtime only."""
