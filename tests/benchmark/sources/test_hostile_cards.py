"""Dataset cards that do not parse, and Hugging Face folders that do not fit: one line naming the file."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from benchmark.cli.app import app
from benchmark.sources.kinds import detect
from benchmark.testing.datasets import tiny_class_folder, write_card

runner = CliRunner()


def test_a_card_whose_yaml_does_not_parse_is_named(tmp_path):
    folder = write_card(tmp_path / "data", "configs: [unclosed\n")
    with pytest.raises(ValueError, match=r"README.md: its YAML header does not parse \(line \d+\)"):
        detect(str(folder))
    done = runner.invoke(
        app, ["run", "--model", "random:resnet10t", "--dataset", str(folder), "--out", str(tmp_path / "o")]
    )
    assert done.exit_code == 2 and "its YAML header does not parse" in done.output and "Traceback" not in done.output


def test_a_card_that_is_a_list_is_no_card(tmp_path):
    folder = write_card(tiny_class_folder(tmp_path / "images"), "- one\n- two\n")
    assert detect(str(folder)).kind.name == "image-folder"
