"""``paircams``: build and publish PairCams (commands arrive with the PairCams issue)."""

from __future__ import annotations

from flickrexif.cli_options import new_app, version_option

app = new_app("PairCams: pairs of photos of one subject, one from a smartphone and one from a camera.")
VersionOption = version_option("paircams")


@app.callback(invoke_without_command=True)
def main(version: VersionOption = False) -> None:
    """PairCams command line."""
