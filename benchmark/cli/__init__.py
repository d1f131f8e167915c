"""The ``trace-bench`` command line: thin commands that parse options into groups, call the library and
print.  Nothing in the product imports it."""

import sys


def main() -> None:
    """The console script: Ctrl-C at any moment, even while the command line loads, is one line and 130."""
    try:
        from benchmark.cli.app import app

        app()
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
