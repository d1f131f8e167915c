"""Where an encoder's weights come from: files (:mod:`.files`: reading state dicts, the missing-weights
error, provenance), the Hugging Face Hub and its cache (:mod:`.hub`), published URLs (:mod:`.urls`)."""
