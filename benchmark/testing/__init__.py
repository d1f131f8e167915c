"""What trace-bench's tests and demos build on, like ``numpy.testing``: the plain reference loops the fast
code is tested against (:mod:`.knn`, :mod:`.retrieval`, :mod:`.probe`), generated datasets
(:mod:`.datasets`) and planted embeddings (:mod:`.embeddings`).  Nothing in the product imports it."""
