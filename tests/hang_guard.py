"""One guard for the tests of things that used to hang (FIFOs, trickling servers, hour-long waits).

Not a speed limit: the work takes well under a second, and the tests' assertions check *how* it
ended (a timeout outcome, a skip reason).  The guard only turns a regression back into a hang into a
failure instead of a stuck CI job, so its limit is far above anything a loaded machine needs.
"""

from __future__ import annotations

import contextlib
import os
import threading

import pytest

HANG_S = 600.0


def finishes(work, *, fifos=(), seconds: float = HANG_S):
    """``work()``'s result (or its exception), or a test failure if it still runs after ``seconds``.

    ``fifos``: FIFOs a hung reader may be stuck opening; a writer that comes and goes frees it.
    """
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        for fifo in fifos:
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"still running after {seconds:.0f} s: it hangs")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
