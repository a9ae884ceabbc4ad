"""SSD: chunked ssd == quadratic ssd_ref == sequential ssd_sequential, in float64.

Tolerance: relative error ||a - b|| / ||b|| <= 1e-10 for outputs, final states and every gradient.
"""

from __future__ import annotations

import pytest
import torch

from genoseq.errors import ConfigError
from genoseq.ops.ssd import ssd, ssd_ref, ssd_sequential

F64 = torch.float64
TOL = 1e-10


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def make_inputs(batch, length, heads, p, groups, n, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape):
        return torch.randn(*shape, generator=g, dtype=F64).to(dtype)

    return {
        "x": rnd(batch, length, heads, p),
        "dt": torch.nn.functional.softplus(rnd(batch, length, heads) - 1).to(dtype),
        "A": -torch.rand(heads, generator=g, dtype=F64).add(0.2).mul(3).to(dtype),
        "B": rnd(batch, length, groups, n),
        "C": rnd(batch, length, groups, n),
        "D": rnd(heads),
        "initial_state": rnd(batch, heads, p, n),
    }


# (batch, length, heads, head_dim, groups, d_state, chunk_size, block_len)
CASES = [
    (1, 1, 2, 3, 1, 4, 64, None),
    (2, 37, 4, 3, 2, 5, 8, 16),
    (2, 64, 2, 4, 1, 3, 16, None),
    (1, 100, 4, 2, 4, 3, 64, None),
    (2, 45, 6, 2, 3, 4, 7, 14),
]
IDS = [f"B{b}-L{l}-H{h}-P{p}-G{g}-N{n}-T{t}-blk{k}" for b, l, h, p, g, n, t, k in CASES]


def run_with_grads(fn, inputs, w_y, w_h, **kw):
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    y, h = fn(**leaves, return_final_state=True, **kw)
    ((y * w_y).sum() + (h * w_h).sum()).backward()
    return y.detach(), h.detach(), {k: v.grad for k, v in leaves.items()}


@pytest.mark.parametrize("batch,length,heads,p,groups,n,chunk,block", CASES, ids=IDS)
def test_chunked_quadratic_sequential_agree_with_gradients(batch, length, heads, p, groups, n, chunk, block):
    inputs = make_inputs(batch, length, heads, p, groups, n)
    g = torch.Generator().manual_seed(1)
    w_y = torch.randn(batch, length, heads, p, generator=g, dtype=F64)
    w_h = torch.randn(batch, heads, p, n, generator=g, dtype=F64)
    y_seq, h_seq, g_seq = run_with_grads(ssd_sequential, inputs, w_y, w_h)
    y_quad, h_quad, g_quad = run_with_grads(ssd_ref, inputs, w_y, w_h)
    y, h, grads = run_with_grads(ssd, inputs, w_y, w_h, chunk_size=chunk, block_len=block)
    assert y.shape == (batch, length, heads, p) and h.shape == (batch, heads, p, n)
    for a, b in ((y_quad, y_seq), (y, y_seq)):
        assert rel_err(a, b) < TOL
    for a, b in ((h_quad, h_seq), (h, h_seq)):
        assert rel_err(a, b) < TOL
    for name in inputs:
        assert rel_err(g_quad[name], g_seq[name]) < TOL, name
        assert rel_err(grads[name], g_seq[name]) < TOL, name


def test_without_initial_state_or_skip():
    inputs = make_inputs(2, 30, 2, 3, 1, 4, seed=2)
    kw = {k: inputs[k] for k in ("x", "dt", "A", "B", "C")}
    y_seq, h_seq = ssd_sequential(**kw, return_final_state=True)
    y, h = ssd(**kw, return_final_state=True, chunk_size=8)
    assert rel_err(y, y_seq) < TOL and rel_err(h, h_seq) < TOL
    assert rel_err(ssd_ref(**kw), y_seq) < TOL


def test_recompute_gradients_match_single_block():
    inputs = make_inputs(1, 50, 2, 3, 1, 4, seed=3)
    grads = []
    for kw in ({"block_len": 1000}, {"block_len": 10, "recompute": True}):
        leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
        ssd(**leaves, chunk_size=5, **kw).square().sum().backward()
        grads.append({k: v.grad for k, v in leaves.items()})
    for name in inputs:
        assert rel_err(grads[1][name], grads[0][name]) < TOL, name


def test_state_chaining_equals_one_call():
    inputs = make_inputs(2, 70, 4, 2, 2, 3, seed=4)
    full, h_full = ssd(**inputs, return_final_state=True, chunk_size=16)
    cut = 29
    per_step = ("x", "dt", "B", "C")  # the tensors with a sequence axis (dim 1)
    first = {k: (v[:, :cut] if k in per_step else v) for k, v in inputs.items()}
    second = {k: (v[:, cut:] if k in per_step else v) for k, v in inputs.items()}
    y1, h1 = ssd(**first, return_final_state=True, chunk_size=16)
    second["initial_state"] = h1
    y2, h2 = ssd(**second, return_final_state=True, chunk_size=16)
    assert rel_err(torch.cat([y1, y2], 1), full) < TOL
    assert rel_err(h2, h_full) < TOL


def test_hand_computed_single_head():
    # H = P = N = 1, A = -1, dt = log 2 -> decay 1/2 and input scale log 2; B = C = 1, x = [1, 0, 0]
    dt = torch.log(torch.tensor(2.0, dtype=F64))
    x = torch.tensor([1.0, 0.0, 0.0], dtype=F64).reshape(1, 3, 1, 1)
    ones = torch.ones(1, 3, 1, 1, dtype=F64)
    y = ssd(x, ones[..., 0] * dt, -torch.ones(1, dtype=F64), ones, ones, D=torch.tensor([3.0], dtype=F64))
    expected = dt * torch.tensor([1.0, 0.5, 0.25], dtype=F64) + 3.0 * x.flatten()
    torch.testing.assert_close(y.flatten(), expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
def test_low_precision_inputs(dtype):
    inputs = make_inputs(1, 150, 4, 8, 1, 8, seed=6)
    low = {k: v.to(dtype) for k, v in inputs.items()}
    y, h = ssd(**low, return_final_state=True)
    assert y.dtype == dtype and h.dtype == torch.float32
    ref = ssd_sequential(**{k: v.to(F64) for k, v in low.items()})
    tol = 1e-5 if dtype == torch.float32 else 1e-2
    assert rel_err(y.to(F64), ref) < tol


def test_bad_shapes_raise_config_error():
    inputs = make_inputs(1, 10, 4, 2, 2, 3)
    with pytest.raises(ConfigError, match="multiple of the number of groups"):
        ssd(**{**inputs, "B": torch.zeros(1, 10, 3, 3), "C": torch.zeros(1, 10, 3, 3)})
    with pytest.raises(ConfigError, match=r"dt must be \(B=1, L=10, H=4\)"):
        ssd(**{**inputs, "dt": inputs["dt"][:, :5]})


def test_empty_sequence_returns_initial_state():
    inputs = make_inputs(2, 0, 4, 2, 2, 3)
    for fn in (ssd, ssd_ref, ssd_sequential):
        y, h = fn(**inputs, return_final_state=True)
        assert y.shape == (2, 0, 4, 2) and torch.equal(h, inputs["initial_state"]), fn.__name__


def test_float32_strong_decay_floor_matches_float64():
    # per-step decays down to exp(-40) and chunk totals far below exp(-80): the floored exponent (no subnormal
    # exp) changes nothing visible; outputs and gradients stay finite and match float64 to 1e-5, except dA (a
    # sum over all steps of large cancelling terms in float32: 2.5e-4 here, 2.3e-4 with autograd through the
    # same chunked algorithm), checked to 1e-3
    inputs = make_inputs(1, 96, 2, 3, 1, 4, seed=7)
    inputs["dt"] = inputs["dt"] * 10 + 1.0
    inputs["A"] = torch.tensor([-2.0, -16.0], dtype=F64)
    w_y = torch.randn(1, 96, 2, 3, generator=torch.Generator().manual_seed(8), dtype=F64)
    w_h = torch.randn(1, 2, 3, 4, generator=torch.Generator().manual_seed(9), dtype=F64)
    y_ref, h_ref, g_ref = run_with_grads(ssd_sequential, inputs, w_y, w_h)
    y, h, g = run_with_grads(ssd, {k: v.float() for k, v in inputs.items()}, w_y.float(), w_h.float(), chunk_size=32)
    assert rel_err(y.double(), y_ref) < 1e-5 and rel_err(h.double(), h_ref) < 1e-5
    for name in inputs:
        assert torch.isfinite(g[name]).all(), name
        assert rel_err(g[name].double(), g_ref[name]) < (1e-3 if name == "A" else 1e-5), name


def test_factored_and_exact_blocks_mixed_in_one_sequence(monkeypatch):
    # blocks whose chunks decay by more than the factored form's limit (float64: exp(-1200)) take the exact
    # per-pair path; the state and its gradient pass between the two kinds of block (float64, 1e-10)
    import sys

    mod = sys.modules["genoseq.ops.ssd"]
    decisions = []
    real = mod._factored
    monkeypatch.setattr(mod, "_factored", lambda acum: decisions.append(real(acum)) or decisions[-1])
    inputs = make_inputs(2, 96, 2, 3, 1, 4, seed=10)
    inputs["dt"][:, 32:64] = 60.0  # 16 steps x 60 x |A| >= 0.6 per step: chunk totals beyond 1200 in block 2
    g = torch.Generator().manual_seed(11)
    w_y = torch.randn(2, 96, 2, 3, generator=g, dtype=F64)
    w_h = torch.randn(2, 2, 3, 4, generator=g, dtype=F64)
    y_seq, h_seq, g_seq = run_with_grads(ssd_sequential, inputs, w_y, w_h)
    y, h, grads = run_with_grads(ssd, inputs, w_y, w_h, chunk_size=16, block_len=32)
    assert True in decisions and False in decisions
    assert rel_err(y, y_seq) < TOL and rel_err(h, h_seq) < TOL
    for name in inputs:
        assert rel_err(grads[name], g_seq[name]) < TOL, name


def test_default_block_len_cuts_long_sequences_into_min_blocks_within_the_budgets():
    import importlib

    mod = importlib.import_module("genoseq.ops.ssd")  # the module (genoseq.ops.ssd the attribute is the function)
    dims = (1, 8, 64, 32, 64)  # batch, heads, chunk, P, N of bench-mamba2: 2,048 / 4,096 steps per budget
    assert mod.default_block_len(*dims) == 2048  # no length: the lower budget
    assert [mod.default_block_len(*dims, L) for L in (1024, 8192, 16384, 24576, 32768, 131072)] == [
        2048, 2048, 2048, 3072, 4096, 4096]
    assert mod.default_block_len(2, 8, 64, 32, 64, 32768) == 2048  # batch 2: both budgets halve
