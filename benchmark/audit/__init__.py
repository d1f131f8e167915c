"""``trace-bench audit``: is a labelled dataset confounded by camera and processing, and does an encoder follow
it?  What each file says (:mod:`.metadata`, read once and cached by :mod:`.reading`), its association with the
class (:mod:`.association`, :mod:`.shortcut`), an encoder's neighbours split by it and under re-processing
(:mod:`.encoder`), erasers on what is confounded (:mod:`.mitigation`), ``audit.json`` (:mod:`.audit`) and
``audit.md`` (:mod:`.card`).  Imports the benchmark's tasks, runs and every layer below; never the CLI."""
