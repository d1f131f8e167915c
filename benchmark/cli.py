"""``trace-bench``: benchmark visual encoders (commands arrive with the trace-bench issue)."""

from __future__ import annotations

from flickrexif.cli_options import new_app, version_option

app = new_app("trace-bench: how much processing and acquisition information visual encoders carry.")
VersionOption = version_option("trace-bench")


@app.callback(invoke_without_command=True)
def main(version: VersionOption = False) -> None:
    """trace-bench command line."""
