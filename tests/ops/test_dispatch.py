"""genoseq.ops._dispatch: implementation resolution, fallbacks, errors, and whole ops through the
Triton interpreter (TRITON_INTERPRET=1, set before the kernels are imported) vs the PyTorch path."""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # must precede the first import of the kernels

import types

import pytest
import torch

from genoseq.errors import ConfigError, DependencyError, GenoseqError
from genoseq.ops import _dispatch


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for var in ("GENOSEQ_IMPL", *(f"GENOSEQ_IMPL_{op.upper()}" for op in _dispatch.OPS)):
        monkeypatch.delenv(var, raising=False)
    _dispatch.set_impl(None, None)
    _dispatch._warned.clear()
    yield
    _dispatch.set_impl(None, None)


def rel_rmse(got, ref):
    return ((got.double() - ref.double()).norm() / ref.double().norm()).item()


def test_resolution_order_set_impl_then_op_env_then_global_env(monkeypatch):
    assert _dispatch.get_impl("ssd") == "auto"
    monkeypatch.setenv("GENOSEQ_IMPL", "torch")
    _dispatch.set_impl(None, None)  # clears the resolved cache
    assert _dispatch.get_impl("ssd") == "torch"
    monkeypatch.setenv("GENOSEQ_IMPL_SSD", "TRITON")
    _dispatch.set_impl(None, None)
    assert _dispatch.get_impl("ssd") == "triton"
    assert _dispatch.get_impl("long_conv") == "torch"
    _dispatch.set_impl("ssd", "auto")
    assert _dispatch.get_impl("ssd") == "auto"


def test_bad_names_are_config_errors(monkeypatch):
    with pytest.raises(ConfigError, match="unknown operator 'conv'"):
        _dispatch.set_impl("conv", "torch")
    with pytest.raises(ConfigError, match="unknown implementation 'cuda'"):
        _dispatch.set_impl("ssd", "cuda")
    monkeypatch.setenv("GENOSEQ_IMPL_SHORT_CONV", "fast")
    _dispatch.set_impl(None, None)
    with pytest.raises(ConfigError, match="GENOSEQ_IMPL_SHORT_CONV: unknown implementation 'fast'"):
        _dispatch.get_impl("short_conv")


def test_auto_on_cpu_takes_the_torch_path_silently(recwarn):
    from genoseq.ops.short_conv import short_conv as ref

    x, w = torch.randn(2, 3, 20), torch.randn(3, 4)
    y, s = _dispatch.short_conv(x, w, activation="silu")
    y_ref, s_ref = ref(x, w, activation="silu")
    assert torch.equal(y, y_ref) and torch.equal(s, s_ref)
    assert not [w for w in recwarn if "genoseq" in str(w.message)]


def test_forced_triton_on_cpu_without_interpreter_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    _dispatch.set_impl("short_conv", "triton")
    with pytest.raises(GenoseqError, match="TRITON_INTERPRET=1"):
        _dispatch.short_conv(torch.randn(1, 2, 8), torch.randn(2, 3))


def test_forced_triton_with_unsupported_shape_names_the_reason():
    _dispatch.set_impl("short_conv", "triton")
    with pytest.raises(ConfigError, match=r"kernel size 5 \(the kernel supports 2..4\)"):
        _dispatch.short_conv(torch.randn(1, 2, 8), torch.randn(2, 5))


def test_missing_kernels_give_an_install_hint_or_a_single_warning(monkeypatch):
    monkeypatch.setattr(_dispatch, "_kernel_module", lambda op: (None, "genoseq_kernels could not be imported"))
    cuda_like = types.SimpleNamespace(is_cuda=True, device="cuda:0")
    _dispatch.set_impl("ssd", "triton")
    with pytest.raises(DependencyError, match=r"pip install triton"):
        _dispatch._use_triton("ssd", cuda_like, lambda m: None)
    _dispatch.set_impl("ssd", "auto")
    with pytest.warns(RuntimeWarning, match="ssd uses the PyTorch path: genoseq_kernels could not be imported"):
        assert _dispatch._use_triton("ssd", cuda_like, lambda m: None) is False
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second fallback for the same reason is silent
        assert _dispatch._use_triton("ssd", cuda_like, lambda m: None) is False


def test_auto_on_cuda_with_unsupported_shape_warns_once_and_falls_back():
    cuda_like = types.SimpleNamespace(is_cuda=True, device="cuda:0")
    with pytest.warns(RuntimeWarning, match="d_state 256"):
        assert _dispatch._use_triton("ssd", cuda_like, lambda m: "d_state 256 > 64") is False


def test_describe_names_every_operator():
    desc = _dispatch.describe()
    assert set(desc) == set(_dispatch.OPS)
    for path in desc.values():
        assert path == "triton" or path.startswith("triton (") or path.startswith("torch (")
    _dispatch.set_impl("long_conv", "torch")
    assert _dispatch.describe()["long_conv"] == "torch (forced by set_impl / GENOSEQ_IMPL)"


@pytest.mark.interpreter
def test_forced_triton_runs_every_op_through_the_interpreter():
    torch.manual_seed(0)
    _dispatch.set_impl(None, "triton")
    # short_conv
    x, w, b = torch.randn(2, 3, 40), torch.randn(3, 4), torch.randn(3)
    from genoseq.ops.short_conv import short_conv as sc_ref

    y, s = _dispatch.short_conv(x, w, b, activation="silu")
    y_ref, s_ref = sc_ref(x.double(), w.double(), b.double(), activation="silu")
    assert rel_rmse(y, y_ref) < 1e-5 and torch.equal(s, x[..., -3:])
    # selective_scan
    from genoseq.ops.selective_scan import selective_scan_ref

    u, dl = torch.randn(1, 4, 33), torch.randn(1, 4, 33)
    A, Bm, Cm, D = -torch.rand(4, 8) - 0.1, torch.randn(1, 8, 33), torch.randn(1, 8, 33), torch.randn(4)
    y, h = _dispatch.selective_scan(u, dl, A, Bm, Cm, D, delta_softplus=True, return_final_state=True)
    y_ref, h_ref = selective_scan_ref(*(t.double() for t in (u, dl, A, Bm, Cm, D)), delta_softplus=True,
                                      return_final_state=True)
    assert rel_rmse(y, y_ref) < 1e-5 and rel_rmse(h, h_ref) < 1e-5
    # ssd
    from genoseq.ops.ssd import ssd_ref

    xs, dt = torch.randn(1, 40, 2, 16), torch.rand(1, 40, 2) * 0.3
    A2, B2, C2 = -torch.rand(2) - 0.1, torch.randn(1, 40, 1, 16), torch.randn(1, 40, 1, 16)
    y = _dispatch.ssd(xs, dt, A2, B2, C2, chunk_size=16)  # chunk_size only tunes the torch path
    assert rel_rmse(y, ssd_ref(*(t.double() for t in (xs, dt, A2, B2, C2)))) < 1e-5
    # long_conv
    from genoseq.ops.fftconv import long_conv_direct

    u, k = torch.randn(2, 2, 50), torch.randn(2, 50) * 0.1
    y = _dispatch.long_conv(u, k)
    assert rel_rmse(y, long_conv_direct(u.double(), k.double())) < 1e-4


@pytest.mark.slow
@pytest.mark.interpreter
def test_whole_tiny_hybrid_model_forced_triton_matches_torch_path():
    """Hyena + Mamba + Mamba-2 blocks: logits and every parameter gradient, kernels vs PyTorch path."""
    from genoseq.model.build import build_model
    from genoseq.model.config import ModelConfig

    cfg = ModelConfig(d_model=16, n_layer=3, layer_pattern="HMS", mlp_type="none", norm="rmsnorm", max_len=64,
                      mamba={"d_state": 16, "d_conv": 4, "expand": 2}, mamba2={"d_state": 16, "head_dim": 16})
    torch.manual_seed(0)
    model = build_model(cfg)
    ids = torch.randint(5, 9, (1, 16))

    def run(impl):
        _dispatch.set_impl(None, impl)
        model.zero_grad()
        logits = model(ids)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ids.reshape(-1))
        loss.backward()
        return logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    logits_t, grads_t = run("torch")
    logits_k, grads_k = run("triton")
    assert rel_rmse(logits_k, logits_t) < 1e-5
    assert grads_k.keys() == grads_t.keys() and grads_t
    for name, g in grads_t.items():
        if g.norm() > 0:
            assert rel_rmse(grads_k[name], g) < 1e-4, name


def test_public_names_stay_the_dispatcher_after_submodule_imports():
    import importlib

    import genoseq.ops as ops

    for name in ("short_conv", "selective_scan", "ssd", "fftconv"):
        importlib.import_module(f"genoseq.ops.{name}")
    for name in ("long_conv", "short_conv", "selective_scan", "ssd"):
        assert getattr(ops, name) is getattr(_dispatch, name)
