"""Runs: one encoder on one dataset (:mod:`.runner`), encoders × datasets (:mod:`.sweep`, on Ray too),
tasks on a folder of released-layout embeddings (:mod:`.embedding_folder`), and the result files they
write (:mod:`.results`).  Imports the tasks and every layer below them; never the CLI."""
