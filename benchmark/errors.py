"""What the user got wrong, told apart from what trace-bench got wrong.

A :class:`UsageError` (a bad option, a dataset that does not fit, a file that is not what it should
be) reaches the user as one red line and exit code 2 (``flickrexif.cli.errors``).  Every other
exception, ``ValueError`` included, is a bug: it keeps its traceback, under a line asking to report
it.  ``UsageError`` is a ``ValueError``, so library callers that catch ``ValueError`` keep working
(the pattern of ``huggingface_hub.errors``).
"""


class UsageError(ValueError):
    """The command cannot run as asked; the message names the problem and the fix."""
