"""Triton long_conv (Monarch FFT) kernel: interpreter runs against the float64 oracle, and AOT builds.

Kernels run on CPU through the Triton interpreter (TRITON_INTERPRET=1, set before triton is first
imported; its tl.dot is exact fp32, so fp32 inputs must match the float64 O(L^2) oracle to a relative RMSE
of 1e-5). Ahead-of-time compilation for sm_80 and sm_90 (no GPU: 0 register spills, shared memory within
164 / 227 KiB) runs in a subprocess without the interpreter, since triton fixes the mode at import.
"""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # must precede the first import of the kernels

import inspect
import json
import subprocess
import sys

import pytest
import torch

from genoseq.ops.fftconv import long_conv_direct

FP32_TOL = 1e-5  # relative RMSE, fp32 inputs vs the float64 oracle on the same values
FP16_TOL = 2e-3  # fp16 inputs/outputs (output rounding alone is ~3e-4)
BF16_TOL = 1.5e-2  # bf16 inputs/outputs (output rounding alone is ~2e-3)


@pytest.fixture(scope="module")
def lc():
    from genoseq_kernels import long_conv as module

    if os.environ.get("TRITON_INTERPRET") != "1":
        pytest.skip("TRITON_INTERPRET was changed before this module was imported")
    return module


def rrmse(got: torch.Tensor, ref: torch.Tensor) -> float:
    ref = ref.double()
    return ((got.double() - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def _inputs(B, H, L, bidirectional, seed=0):
    g = torch.Generator().manual_seed(seed)
    kl = 2 * L - 1 if bidirectional else L
    mk = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    return mk(B, H, L), mk(H, kl) / max(1, L) ** 0.5, mk(H), mk(B, H, L), mk(B, H, L)


GATINGS = {
    "plain": lambda skip, pre, post: {},
    "skip": lambda skip, pre, post: {"skip": skip},
    "gated": lambda skip, pre, post: {"skip": skip, "pre_gate": pre, "post_gate": post},
}


@pytest.mark.interpreter
@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("L", [1, 2, 7, 64, 100, 256])
def test_forward_matches_direct_fp32(lc, L, bidirectional):
    u, k, skip, pre, post = _inputs(3, 2, L, bidirectional)  # B = 3: the second pair has one row
    for name, kw in GATINGS.items():
        kw64 = kw(skip, pre, post)
        kw32 = {key: val.float() for key, val in kw64.items()}
        y = lc.long_conv(u.float(), k.float(), bidirectional=bidirectional, **kw32)
        ref = long_conv_direct(u, k, bidirectional=bidirectional, **kw64)
        assert y.dtype == torch.float32 and y.shape == (3, 2, L)
        assert rrmse(y, ref) < FP32_TOL, (name, rrmse(y, ref))


def _check_grads(lc, B, H, L, bidirectional, inner_max=None, seed=1):
    u, k, skip, pre, post = _inputs(B, H, L, bidirectional, seed=seed)
    gy = torch.randn(B, H, L, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 7))
    t64 = [t.clone().requires_grad_() for t in (u, k, skip, pre, post)]
    t32 = [t.float().requires_grad_() for t in (u, k, skip, pre, post)]
    kwargs = {} if inner_max is None else {"inner_max": inner_max}
    y = lc.long_conv(*t32, bidirectional=bidirectional, **kwargs)
    ref = long_conv_direct(*t64, bidirectional=bidirectional)
    assert rrmse(y, ref) < FP32_TOL
    got = torch.autograd.grad((y.double() * gy).sum(), t32)
    want = torch.autograd.grad((ref * gy).sum(), t64)
    for name, a, b in zip(("u", "k", "skip", "pre", "post"), got, want, strict=True):
        assert a.dtype == torch.float32 and a.shape == b.shape, name
        if name == "skip":  # a sum over (b, t) that may nearly cancel: scale by the sum of |terms|
            assert (a.double() - b).abs().max() < FP32_TOL * (gy * u).abs().sum(), name
        else:
            assert rrmse(a, b) < FP32_TOL, (name, rrmse(a, b))


@pytest.mark.interpreter
@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("L", [1, 7, 100])
def test_backward_matches_direct_fp32(lc, L, bidirectional):
    _check_grads(lc, 3, 2, L, bidirectional)


@pytest.mark.interpreter
@pytest.mark.slow
@pytest.mark.parametrize("L,bidirectional", [(300, True), (2000, False)], ids=["L300-bidir", "L2000-causal"])
def test_three_pass_path_matches_direct(lc, L, bidirectional):
    # inner_max=256 forces N = 4096 = P 16 x M 256: outer DFT kernel, inner kernel in OUTER mode, inverse outer
    assert lc.plan(L, 256) == dict(N=4096, P=16, P1=16, P2=1, M1=16, M2=16)
    _check_grads(lc, 2, 1, L, bidirectional, inner_max=256)


@pytest.mark.interpreter
@pytest.mark.slow
def test_three_pass_path_wide_outer_tiles(lc):
    # default inner_max=512 at L=5000: N = 16384 = P 32 x M 512, 32-row outer tiles, two reduction chunks
    L = 5000
    assert lc.plan(L) == dict(N=16384, P=32, P1=32, P2=1, M1=16, M2=32)
    u, k, skip, pre, post = _inputs(1, 1, L, False, seed=3)
    y = lc.long_conv(u.float(), k.float(), skip.float(), pre.float(), post.float())
    assert rrmse(y, long_conv_direct(u, k, skip, pre, post)) < FP32_TOL


@pytest.mark.interpreter
@pytest.mark.slow
def test_five_pass_path_matches_direct(lc):
    # the outer DFT split P = P1 x P2 (the plan for P > OUTER_MAX, i.e. L > 256K at the defaults), forced at
    # N = 65536 = (16 x 16) x 256 for a short row: both outer steps, in both directions, plus the inner step
    L = 40
    cfg = lc.plan(32768, inner_max=256, outer_max=16)
    assert cfg == dict(N=65536, P=256, P1=16, P2=16, M1=16, M2=16)
    u, k, skip, pre, post = (t.float() for t in _inputs(1, 1, L, True, seed=8))
    y = lc.conv_launch(u, lc.spectrum(k, L, True, cfg), cfg, pre, post, skip)
    ref = long_conv_direct(*(t.double() for t in (u, k, skip, pre, post)), bidirectional=True)
    assert rrmse(y, ref) < FP32_TOL


@pytest.mark.interpreter
@pytest.mark.parametrize("dtype,tol", [(torch.float16, FP16_TOL), (torch.bfloat16, BF16_TOL)], ids=["fp16", "bf16"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
def test_half_precision_inputs(lc, dtype, tol, bidirectional):
    u, k, skip, pre, post = (t.to(dtype) for t in _inputs(2, 3, 64, bidirectional, seed=5))
    y = lc.long_conv(u, k, skip, pre, post, bidirectional)
    assert y.dtype == dtype
    ref = long_conv_direct(*(t.double() for t in (u, k, skip, pre, post)), bidirectional=bidirectional)
    assert rrmse(y, ref) < tol


@pytest.mark.interpreter
@pytest.mark.parametrize("dtype,tol", [(torch.float16, FP16_TOL), (torch.bfloat16, BF16_TOL)], ids=["fp16", "bf16"])
def test_three_pass_half_precision(lc, dtype, tol):
    # the three-pass intermediate stays fp32 for half inputs: error is the output rounding plus tf32-free dots
    assert lc.buffer_dtype(dtype) == torch.float32
    u, k, skip, pre, post = (t.to(dtype) for t in _inputs(1, 2, 1500, True, seed=6))
    y = lc.long_conv(u, k, skip, pre, post, True, inner_max=256)
    assert y.dtype == dtype
    ref = long_conv_direct(*(t.double() for t in (u, k, skip, pre, post)), bidirectional=True)
    assert rrmse(y, ref) < tol, rrmse(y, ref)


@pytest.mark.interpreter
def test_dispatcher_routes_to_kernel(lc):
    # forced "triton" + TRITON_INTERPRET=1: CPU tensors go through genoseq_kernels.long_conv
    from genoseq.ops import _dispatch

    u, k, skip, pre, post = (t.float() for t in _inputs(2, 2, 50, True, seed=9))
    _dispatch.set_impl("long_conv", "triton")
    try:
        calls = []
        original = lc.LongConvFn.apply
        lc.LongConvFn.apply = lambda *a: calls.append(a[-2]) or original(*a)  # records inner_max
        try:
            y = _dispatch.long_conv(u, k, skip, pre, post, bidirectional=True)
        finally:
            lc.LongConvFn.apply = original
        assert calls == [lc.INNER_MAX]
        with pytest.raises(Exception, match="float64"):
            _dispatch.long_conv(u.double(), k.double())
    finally:
        _dispatch.set_impl("long_conv", None)
    ref = long_conv_direct(*(t.double() for t in (u, k, skip, pre, post)), bidirectional=True)
    assert rrmse(y, ref) < FP32_TOL


def test_noncontiguous_inputs(lc):
    u, k, skip, pre, post = (t.float() for t in _inputs(2, 3, 40, False, seed=10))
    ut = u.transpose(0, 1).contiguous().transpose(0, 1)  # same values, non-contiguous (B, H, L) view
    y = lc.long_conv(ut, k, skip, pre.transpose(0, 1).contiguous().transpose(0, 1), post)
    assert rrmse(y, long_conv_direct(u.double(), k.double(), skip.double(), pre.double(), post.double())) < FP32_TOL


def test_cost_model_paper_shape(lc):
    # the figures quoted in kernels/README.md (L = 131072, d = 1024, batch 8, bf16)
    c = lc.cost_model(8, 1024, 131072)
    elems = 8 * 1024 * 131072
    assert (c["N"], c["P"], c["P2"], c["M1"], c["M2"]) == (1 << 18, 512, 1, 16, 32)
    assert round(c["flops"] / 1e12, 2) == 5.22
    assert c["bytes"] / elems == 44 and c["min_bytes"] / elems == 10 and c["torch_bytes"] / elems == 129
    assert lc.cost_model(8, 1024, 131072, fft_passes=2)["torch_bytes"] / elems == 161
    short = lc.cost_model(8, 1024, 200)  # single pass: u, gates, y once + spectrum
    assert short["P"] == 1 and short["bytes"] == short["min_bytes"]


def test_plan_covers_every_length(lc):
    for L in list(range(1, 600)) + [2047, 2048, 2049, 131072, 1 << 20, 3_000_001]:
        cfg = lc.plan(L)
        n, p, m1, m2 = cfg["N"], cfg["P"], cfg["M1"], cfg["M2"]
        assert n >= 2 * L - 1 and n == p * m1 * m2 and n & (n - 1) == 0
        assert 16 <= m1 <= m2 and m1 * m2 <= lc.INNER_MAX
        assert p == 1 or p >= 16
        assert cfg["P1"] * cfg["P2"] == p and (cfg["P2"] == 1 or 16 <= cfg["P1"] <= cfg["P2"])
    assert lc.plan(131072)["P2"] == 1  # the paper shape runs three passes
    assert lc.plan(1 << 20) == dict(N=1 << 21, P=4096, P1=64, P2=64, M1=16, M2=32)  # 2M-point FFT, five passes


def test_unsupported_reasons(lc):
    assert lc.unsupported(torch.zeros(1, 1, 8), torch.zeros(1, 8)) is None
    assert "dtype" in lc.unsupported(torch.zeros(1, 1, 8, dtype=torch.float64), torch.zeros(1, 8))
    long = torch.empty(1, 1, lc.MAX_N, dtype=torch.float16)
    assert "length" in lc.unsupported(long, long[0])
    with pytest.raises(ValueError, match="k must be"):
        lc.long_conv(torch.zeros(1, 2, 8), torch.zeros(2, 7))


# ---- ahead-of-time compilation (no GPU) -------------------------------------------------------------

def test_aot_configs_shape(lc):
    cfgs = list(lc.aot_configs())
    names = {c["fn"].__name__ for c in cfgs}
    assert names == {"long_conv_inner_kernel", "long_conv_outer_fwd_kernel", "long_conv_outer_inv_kernel"}
    assert {c["dtype"] for c in cfgs} == {"fp32", "bf16", "fp16"}
    for c in cfgs:
        assert set(c) >= {"fn", "config", "dtype", "fp32_ptrs", "constexprs", "num_warps"}
        params = inspect.signature(getattr(c["fn"], "fn", c["fn"])).parameters  # JIT or interpreted
        assert set(c["constexprs"]) <= set(params)


AOT_SCRIPT = """
import json
from genoseq_kernels import aot, long_conv
# fp32 (tf32x3 dots) is the register-heaviest variant of each kernel; all variants: genoseq doctor --compile
heavy = [c for c in long_conv.aot_configs() if c["dtype"] == "fp32" and (
         "M=16x32" in c["config"] or (c["config"].startswith("rows=32") and (c["fn"].__name__.endswith("fwd_kernel")
                                                                               == ("u/y" in c["config"]))))]
for cap in (80, 90):
    for cfg in heavy:
        row = aot.compile_one(cfg, cap)
        print(json.dumps(dict(row.__dict__, limit=aot.TARGETS[cap])))
"""


@pytest.mark.slow
def test_aot_compiles_without_spills():
    pytest.importorskip("triton")
    env = dict(os.environ, TRITON_INTERPRET="0", TRITON_DEFAULT_FP_FUSION="1")
    out = subprocess.run([sys.executable, "-c", AOT_SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 8 and {r["target"] for r in rows} == {"sm_80", "sm_90"}
    for r in rows:
        assert r["ok"] and r["spills"] == 0 and 0 < r["shared_bytes"] <= r["limit"], r


def test_filter_grad_channel_blocks_equal_one_block(lc, monkeypatch):
    """The filter gradient is computed over channel blocks (bounded spectra memory); blocks of 2 channels and
    one block of all 5 give the same (H, N) correlation (float32 FFTs: values ~20, abs. tolerance 1e-4)."""
    g = torch.Generator().manual_seed(3)
    u, pre, post, gy = (torch.randn(3, 5, 40, generator=g, dtype=torch.float64) for _ in range(4))
    whole = lc._filter_grad(gy, u, pre, post, 128)
    monkeypatch.setattr(lc, "FILTER_GRAD_ELEMENTS", 3 * 128 * 2)  # two channels per block
    blocks = lc._filter_grad(gy, u, pre, post, 128)
    direct = torch.fft.irfft((torch.fft.rfft(gy * post, n=128) * torch.fft.rfft(u * pre, n=128).conj()).sum(0), n=128)
    assert blocks.dtype == torch.float32 and torch.allclose(blocks, whole, rtol=0, atol=1e-4)
    assert torch.allclose(whole, direct.float(), rtol=0, atol=1e-4)
