"""Probe precision: bfloat16 only in the GEMMs, agrees with float32; ``auto`` resolution per device."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

import benchmark.protocols.probe as probe
import benchmark.runtime.device as device
from benchmark.protocols.probe import ProbeConfig, linear_probe, train_linear_models

TINY = ProbeConfig(learning_rates=(1.0, 10.0), weight_decays=(0.0, 1e-4), epochs=8, batch_size=64, device="cpu")


def planted(n: int, classes: int = 16, dim: int = 256, separation: float = 4.0, seed: int = 0):
    """Planted class centroids (norm ~``separation`` noise units) + a shared offset + unit noise, 60/20/20."""
    gen = torch.Generator().manual_seed(seed)
    means = torch.randn(classes, dim, generator=gen) * (separation / dim**0.5)
    y = torch.arange(n) % classes
    x = 0.5 * torch.randn(dim, generator=gen) + means[y] + torch.randn(n, dim, generator=gen)
    perm = torch.randperm(n, generator=gen)
    x, y = x[perm], y[perm]
    a, b = int(0.6 * n), int(0.8 * n)
    return x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:]


@pytest.fixture
def fresh_capabilities():
    """The capability checks are cached for the process; clear them around a test that fakes them."""
    device.cpu_has_fast_bfloat16.cache_clear()
    device.cuda_has_fast_bfloat16.cache_clear()
    yield
    device.cpu_has_fast_bfloat16.cache_clear()
    device.cuda_has_fast_bfloat16.cache_clear()


# --------------------------------------------------------------------------------------------------
# bfloat16 numerics: only the GEMM inputs are rounded


def test_bfloat16_keeps_float32_master_weights_close_to_float32_training():
    """Weights stored in bf16 would be bf16-representable and drift from fp32 by far more than 1%."""
    x, y = (t for t in planted(800, classes=4, dim=32, separation=3.0)[:2])
    x = F.normalize(x, dim=1)
    lrs, wds = torch.tensor([0.3, 3.0]), torch.tensor([1e-4, 0.0])
    kw = dict(epochs=3, batch_size=64, seed=1)
    full = train_linear_models(x, y, 4, lrs, wds, precision="float32", **kw)
    half = train_linear_models(x, y, 4, lrs, wds, precision="bfloat16", **kw)
    assert half.weight_gcd.dtype == half.bias.dtype == torch.float32
    representable = half.weight_gcd == half.weight_gcd.bfloat16().float()
    assert representable.float().mean() < 0.1  # fp32 updates accumulate below bf16's resolution
    relative = (half.weight_gcd - full.weight_gcd).norm() / full.weight_gcd.norm()
    assert relative < 0.01


def test_bfloat16_training_is_float32_training_with_bf16_rounded_gemms(monkeypatch):
    """The same run with every GEMM's inputs and output rounded to bf16 by hand, all else float32."""
    x, y = (t for t in planted(600, classes=3, dim=24, separation=3.0)[:2])
    x = F.normalize(x, dim=1)
    lrs, wds = torch.tensor([1.0]), torch.tensor([1e-4])
    kw = dict(epochs=2, batch_size=50, seed=2)
    half = train_linear_models(x, y, 3, lrs, wds, precision="bfloat16", **kw)

    def rounded(a, b, dtype):
        r = lambda t: t.float().bfloat16().float()  # noqa: E731
        return r(r(a) @ r(b))

    monkeypatch.setattr(probe, "_matmul", rounded)
    by_hand = train_linear_models(x, y, 3, lrs, wds, precision="float32", **kw)
    # accumulation order differs between the bf16 and fp32 GEMM kernels: a few output ulps, no more
    torch.testing.assert_close(half.weight_gcd, by_hand.weight_gcd, rtol=2e-2, atol=2e-3)
    torch.testing.assert_close(half.bias, by_hand.bias, rtol=2e-2, atol=2e-3)


def _tolerance(accuracy: float, n_test: int) -> float:
    """Two standard errors of a test accuracy on n_test samples: the 95% band of its own sampling noise."""
    return 2 * (accuracy * (1 - accuracy) / n_test) ** 0.5


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_bfloat16_and_short_tuning_match_float32_accuracy_on_easy_planted_sets(seed):
    """The released grid and epochs; bf16 and the 10-epoch search within the test set's noise of fp32.

    Not a per-set identity: where float32 picks a large learning rate, the choice and its refit move
    with any perturbation, float32's own included (``scripts/bench_probe_precision.py``).
    """
    parts = planted(3200, classes=16, dim=256, separation=4.5, seed=seed)
    base = ProbeConfig(precision="float32", device="cpu")
    full = linear_probe(*parts, base)
    tolerance = _tolerance(full.test_accuracy, full.n_test)
    assert 0.9 < full.test_accuracy < 0.995 and tolerance > 0.004  # easy, not saturated
    for config in (
        replace(base, precision="bfloat16"),
        replace(base, tune_epochs=10),
        replace(base, precision="bfloat16", tune_epochs=10),
    ):
        other = linear_probe(*parts, config)
        assert other.precision_used == config.precision
        assert abs(other.test_accuracy - full.test_accuracy) <= tolerance, (config, other, full)
        per_class = other.test_mean_per_class_accuracy - full.test_mean_per_class_accuracy
        assert abs(per_class) <= tolerance


# --------------------------------------------------------------------------------------------------
# auto: bfloat16 only where the device multiplies it natively


def test_explicit_precisions_are_kept_on_any_device():
    for dev in ("cpu", "cuda", "mps"):
        assert device.resolve_precision("float32", dev) == "float32"
        assert device.resolve_precision("bfloat16", dev) == "bfloat16"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"avx2", "avx512f", "avx512_bf16"}, "bfloat16"),
        ({"avx2", "amx_tile", "amx_bf16"}, "bfloat16"),
        ({"avx2", "avx512f", "avx512bw"}, "float32"),  # AVX-512 without BF16: bf16 is emulated
        ({"neon"}, "float32"),
    ],
)
def test_auto_on_cpu_follows_the_bf16_flags(monkeypatch, fresh_capabilities, flags, expected):
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset(flags))
    assert device.resolve_precision("auto", "cpu") == expected
    assert device.resolve_precision("auto", torch.device("cpu")) == expected


@pytest.mark.parametrize("native", [True, False])
def test_auto_on_cpu_without_proc_cpuinfo_asks_torch(monkeypatch, fresh_capabilities, native):
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset())
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert device.resolve_precision("auto", "cpu") == ("bfloat16" if native else "float32")


def test_cpu_flags_are_read_once(monkeypatch, fresh_capabilities):
    reads = []
    monkeypatch.setattr(device, "cpu_flags", lambda: reads.append(1) or frozenset({"avx512_bf16"}))
    assert [device.resolve_precision("auto", "cpu") for _ in range(3)] == ["bfloat16"] * 3
    assert len(reads) == 1


@pytest.mark.parametrize("native", [True, False])
def test_auto_on_cuda_asks_for_native_bf16_without_emulation(monkeypatch, fresh_capabilities, native):
    asked = []

    def is_bf16_supported(including_emulation=True):
        asked.append(including_emulation)
        return native

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "device", lambda index: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    expected = "bfloat16" if native else "float32"
    assert device.resolve_precision("auto", "cuda") == expected
    assert device.resolve_precision("auto", "cuda:0") == expected  # cached per GPU: asked once
    assert asked == [False]


def test_auto_without_a_gpu_or_on_other_devices_is_float32(monkeypatch, fresh_capabilities):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.resolve_precision("auto", "cuda") == "float32"
    assert device.resolve_precision("auto", "mps") == "float32"


def test_auto_is_the_default_and_other_names_are_refused():
    assert ProbeConfig().precision == "auto"
    with pytest.raises(ValueError, match="auto"):
        ProbeConfig(precision="half")


@pytest.mark.parametrize("fast", [True, False])
def test_probe_records_the_resolved_precision_and_trains_with_it(monkeypatch, fast):
    monkeypatch.setattr(device, "has_fast_bfloat16", lambda dev: fast)
    parts = planted(240, classes=4, dim=16, separation=4.0)
    auto = linear_probe(*parts, replace(TINY, precision="auto"))
    resolved = "bfloat16" if fast else "float32"
    assert auto.precision_used == resolved
    explicit = linear_probe(*parts, replace(TINY, precision=resolved))
    assert auto.grid == explicit.grid and auto.test_accuracy == explicit.test_accuracy
    assert auto.to_json()["precision_used"] == resolved


def test_config_reports_the_precision_its_device_gets(monkeypatch):
    monkeypatch.setattr(device, "has_fast_bfloat16", lambda dev: torch.device(dev).type == "cuda")
    assert ProbeConfig(device="cpu").precision_used() == "float32"
    assert ProbeConfig(device="cuda").precision_used() == "bfloat16"
    assert ProbeConfig(device="cuda", precision="float32").precision_used() == "float32"


@pytest.mark.parametrize("native", [True, False])
def test_an_explicit_bfloat16_on_a_device_that_emulates_it_is_said(monkeypatch, capsys, native):
    from benchmark.cli.options import probe_config

    monkeypatch.setattr("benchmark.runtime.device.has_fast_bfloat16", lambda device: native)
    config = probe_config(None, "bfloat16", "cpu")
    assert config.precision == "bfloat16"  # the choice is kept, only said
    said = capsys.readouterr().err
    assert ("emulated on this device" in said) is not native
    probe_config(None, "auto", "cpu")
    assert "emulated" not in capsys.readouterr().err
