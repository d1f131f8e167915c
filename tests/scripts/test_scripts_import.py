"""Every script under scripts/ imports: a bench script that names a moved function fails here, not on a user's run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.py")))
def test_script_imports(script, monkeypatch):
    monkeypatch.setattr(sys, "path", [str(SCRIPTS), *sys.path])
    monkeypatch.setattr(torch.Tensor, "cuda", torch.Tensor.cuda)
    spec = importlib.util.spec_from_file_location(f"script_{Path(script).stem}", SCRIPTS / script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)  # the module body only: every script runs under `if __name__ == "__main__"`
    assert callable(getattr(module, "main", None)) or script == "released_code.py", f"{script} has no main()"
