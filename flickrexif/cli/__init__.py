"""Command lines: the ``flickrexif`` app, shared options and writers, and the one error-to-exit-code
map that ``flickrexif``, ``paircams`` and ``trace-bench`` all use."""
