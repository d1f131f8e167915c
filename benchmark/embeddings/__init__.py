"""Embeddings: what the encoder sees (:mod:`.variants`), the cache (:mod:`.cache`), batches from images
(:mod:`.batches`), the extraction (:mod:`.extract`) and who computes it (:mod:`.executors`, Ray in
:mod:`.ray_executor`), and the released code's embedding folders (:mod:`.released_layout`).  Imports
the benchmark's runtime, imaging, sources and encoders."""
