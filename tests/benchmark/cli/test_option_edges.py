"""Every option checked at the edge: one line, exit 2, no traceback, before any model loads."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

import benchmark.encoders.factory
from benchmark.cli.app import app
from benchmark.testing.datasets import split_folder

MODEL = "random:resnet10t"
runner = CliRunner()


@pytest.fixture
def folder(tmp_path):
    return split_folder(tmp_path / "imagenet", per_class=(4, 2))


@pytest.fixture
def no_model(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an encoder was loaded before the options were checked")

    monkeypatch.setattr(benchmark.encoders.factory, "load_encoder", refuse)


CASES = [
    (["--batch-size", "0"], "--batch-size must be >= 1, got 0"),
    (["--batch-size", "-1"], "--batch-size must be >= 1, got -1"),
    (["--workers", "-1"], "--workers must be >= 0, got -1"),
    (["--device", "nonsense"], "unknown --device 'nonsense': use cpu, cuda, cuda:N or mps"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--encoder-precision", "nosuch"], "'nosuch' is not one of"),
    (["--family", "nosuch"], "'nosuch' is not one of"),
    (["--executor", "nosuch"], "'nosuch' is not one of"),
    (["--vote-ties", "nosuch"], "'nosuch' is not one of"),
    (["--executor", "ray", "--ray-workers", "0"], "--ray-workers must be >= 1, got 0"),
    (["--ray-address", "head:6379"], "--ray-address and --ray-workers belong to --executor ray"),
    (["--weights", "missing.pt"], "weights file missing.pt does not exist"),
]


@pytest.mark.parametrize(("extra", "message"), CASES, ids=[" ".join(extra) for extra, _ in CASES])
def test_a_bad_option_is_one_line_before_any_work(folder, tmp_path, no_model, extra, message):
    args = ["knn", "--model", MODEL, "--dataset", str(folder), "--out", str(tmp_path / "out")]
    done = runner.invoke(app, [*args, *extra])
    assert done.exit_code == 2, done.output
    assert message in done.output and "Traceback" not in done.output
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a machine with a GPU runs --device cuda")
def test_device_cuda_without_a_gpu_says_so(folder, tmp_path, no_model):
    done = runner.invoke(app, ["knn", "-m", MODEL, "-d", str(folder), "-o", str(tmp_path / "o"), "--device", "cuda"])
    assert done.exit_code == 2
    assert done.output.strip() == "--device cuda, but torch sees no CUDA GPU here: use --device cpu (or leave it out)"


def test_an_empty_dataset_argument_names_nothing(tmp_path, no_model):
    done = runner.invoke(app, ["run", "--model", MODEL, "--dataset", "", "--out", str(tmp_path / "o")])
    assert done.exit_code == 2 and "--dataset '' names nothing" in done.output


def test_a_weights_file_that_is_not_a_state_dict_is_one_line(folder, tmp_path):
    (tmp_path / "w.pt").write_text("not a checkpoint")
    args = ["knn", "--model", "timm:resnet10t", "--weights", str(tmp_path / "w.pt"), "--dataset", str(folder)]
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "o"), "--device", "cpu"])
    assert done.exit_code == 2, done.output
    assert f"weights file {tmp_path / 'w.pt'} does not read as a state dict" in done.output
    assert "Traceback" not in done.output


def test_a_bug_keeps_its_traceback_under_a_line_asking_to_report_it(folder, tmp_path, monkeypatch):
    import benchmark.runs.sweep

    def bug(*args, **kwargs):
        raise ValueError("an internal mistake")

    monkeypatch.setattr(benchmark.runs.sweep, "run", bug)
    args = ["knn", "--model", MODEL, "--dataset", str(folder), "--out", str(tmp_path / "o"), "--device", "cpu"]
    done = runner.invoke(app, args)
    assert done.exit_code == 1 and isinstance(done.exception, ValueError)
    assert "a bug: please report it with the command you ran" in done.output


@pytest.mark.parametrize("option", [["--split", "validation"], ["--config", "Make"]])
def test_hugging_face_options_on_an_image_folder_are_refused(folder, tmp_path, no_model, option):
    done = runner.invoke(
        app, ["run", "--model", MODEL, "--dataset", str(folder), "--out", str(tmp_path / "o"), *option]
    )
    assert done.exit_code == 2 and f"{option[0]} chooses what a Hugging Face dataset loads" in done.output


def test_ctrl_c_while_the_command_line_loads_is_one_line_and_130(monkeypatch, capsys):
    import sys

    import benchmark.cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "benchmark.cli.app", type(sys)("benchmark.cli.app"))
    monkeypatch.setattr(sys.modules["benchmark.cli.app"], "app", interrupted, raising=False)
    with pytest.raises(SystemExit) as exit_info:
        benchmark.cli.main()
    assert exit_info.value.code == 130 and capsys.readouterr().err.strip() == "Interrupted."
