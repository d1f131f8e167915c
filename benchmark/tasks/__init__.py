"""The benchmark's tasks, from an encoder and an image set to one result each: one module per task
(:mod:`.probing`: processing and acquisition probes, :mod:`.knn`, :mod:`.retrieval`, :mod:`.mitigation`),
what they share (:mod:`.task`) and the registry that declares them (:mod:`.registry`).  Imports the
benchmark's protocols, embeddings, sources, encoders, imaging and runtime; never runs or the CLI."""
