"""selective_scan (chunked, blocked) against the sequential oracle selective_scan_ref, in float64.

Tolerance: relative error ||fast - ref|| / ||ref|| <= 1e-10 for outputs, final states and every
gradient (float64 round-off is ~1e-15; the chunked path reorders sums, nothing more).
"""

from __future__ import annotations

import pytest
import torch

from genoseq.errors import ConfigError
from genoseq.ops.selective_scan import selective_scan, selective_scan_ref

F64 = torch.float64
TOL = 1e-10


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def make_inputs(batch, length, dm, n, groups, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, dtype=F64) * scale).to(dtype)

    b_shape = (batch, n, length) if groups == 0 else (batch, groups, n, length)
    return {
        "u": rnd(batch, dm, length),
        "delta": rnd(batch, dm, length, scale=0.5),
        "A": -torch.rand(dm, n, generator=g, dtype=F64).add(0.1).mul(2).to(dtype),
        "B": rnd(*b_shape),
        "C": rnd(*b_shape),
        "D": rnd(dm),
        "z": rnd(batch, dm, length),
        "delta_bias": rnd(dm, scale=0.5),
        "initial_state": rnd(batch, dm, n),
    }


# (batch, length, d_inner, d_state, groups (0 = ungrouped (B, N, L)), chunk_size, block_len)
CASES = [
    (1, 1, 4, 3, 0, 64, None),
    (2, 37, 6, 4, 2, 8, 16),
    (2, 64, 4, 5, 0, 16, None),
    (1, 100, 8, 4, 0, 64, None),
    (2, 45, 6, 3, 3, 7, 14),
]
IDS = [f"B{b}-L{l}-D{d}-N{n}-G{g}-T{t}-blk{k}" for b, l, d, n, g, t, k in CASES]


@pytest.mark.parametrize("batch,length,dm,n,groups,chunk,block", CASES, ids=IDS)
def test_outputs_states_and_all_gradients_match_reference(batch, length, dm, n, groups, chunk, block):
    inputs = make_inputs(batch, length, dm, n, groups)
    g = torch.Generator().manual_seed(1)
    w_y = torch.randn(batch, dm, length, generator=g, dtype=F64)
    w_h = torch.randn(batch, dm, n, generator=g, dtype=F64)
    results = []
    for fn, kw in ((selective_scan_ref, {}), (selective_scan, {"chunk_size": chunk, "block_len": block})):
        leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
        y, h = fn(**leaves, delta_softplus=True, return_final_state=True, **kw)
        ((y * w_y).sum() + (h * w_h).sum()).backward()
        results.append((y.detach(), h.detach(), {k: v.grad for k, v in leaves.items()}))
    (y_ref, h_ref, g_ref), (y, h, grads) = results
    assert y.dtype == F64 and y.shape == (batch, dm, length) and h.shape == (batch, dm, n)
    assert rel_err(y, y_ref) < TOL
    assert rel_err(h, h_ref) < TOL
    for name in inputs:
        assert grads[name] is not None, name
        assert rel_err(grads[name], g_ref[name]) < TOL, name


@pytest.mark.parametrize("block", [5, 10, 35], ids=["blk5", "blk10", "blk35"])
def test_many_blocks_gradients_match_one_block(block):
    inputs = make_inputs(1, 50, 4, 3, 0, seed=3)
    grads = []
    for kw in ({"block_len": 1000}, {"block_len": block}):
        leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
        selective_scan(**leaves, chunk_size=5, **kw).square().sum().backward()
        grads.append({k: v.grad for k, v in leaves.items()})
    for name in inputs:
        assert rel_err(grads[1][name], grads[0][name]) < TOL, name


def test_gradient_of_output_only_or_state_only():
    inputs = make_inputs(1, 30, 4, 3, 0, seed=8)
    for use_y in (True, False):
        grads = []
        for fn, kw in ((selective_scan_ref, {}), (selective_scan, {"chunk_size": 8, "block_len": 16})):
            leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
            y, h = fn(**leaves, delta_softplus=True, return_final_state=True, **kw)
            (y.sum() if use_y else h.sum()).backward()
            grads.append({k: v.grad for k, v in leaves.items()})
        for name in ("u", "delta", "A", "B", "initial_state"):
            assert rel_err(grads[1][name], grads[0][name]) < TOL, (use_y, name)


def test_no_softplus_no_bias_no_skip_no_gate():
    inputs = make_inputs(2, 33, 4, 3, 0, seed=5)
    inputs["delta"] = inputs["delta"].abs()
    kw = {k: inputs[k] for k in ("u", "delta", "A", "B", "C")}
    y_ref = selective_scan_ref(**kw)
    y = selective_scan(**kw, chunk_size=8)
    assert rel_err(y, y_ref) < TOL


def test_state_chaining_equals_one_call():
    inputs = make_inputs(2, 70, 6, 4, 0, seed=7)
    full, h_full = selective_scan(**inputs, delta_softplus=True, return_final_state=True, chunk_size=16)
    cut = 29
    per_step = ("u", "delta", "z", "B", "C")  # the tensors with a sequence axis (last)
    first = {k: (v[..., :cut] if k in per_step else v) for k, v in inputs.items()}
    second = {k: (v[..., cut:] if k in per_step else v) for k, v in inputs.items()}
    y1, h1 = selective_scan(**first, delta_softplus=True, return_final_state=True, chunk_size=16)
    second["initial_state"] = h1
    y2, h2 = selective_scan(**second, delta_softplus=True, return_final_state=True, chunk_size=16)
    assert rel_err(torch.cat([y1, y2], -1), full) < TOL
    assert rel_err(h2, h_full) < TOL


def test_hand_computed_single_channel():
    # Dm = N = 1, A = -1, dt = log 2 -> decay 1/2; B = C = 1, u = [1, 0, 0]: h = dt * [1, 1/2, 1/4]
    dt = torch.log(torch.tensor(2.0, dtype=F64))
    u = torch.tensor([[[1.0, 0.0, 0.0]]], dtype=F64)
    ones = torch.ones(1, 1, 3, dtype=F64)
    A = -torch.ones(1, 1, dtype=F64)
    y = selective_scan(u, ones * dt, A, ones, ones, D=torch.tensor([3.0], dtype=F64))
    expected = dt * torch.tensor([1.0, 0.5, 0.25], dtype=F64) + 3.0 * u[0, 0]
    torch.testing.assert_close(y[0, 0], expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
def test_low_precision_inputs_accumulate_in_float32(dtype):
    inputs = make_inputs(1, 200, 8, 4, 0, seed=9)
    y_ref = selective_scan_ref(**inputs, delta_softplus=True)
    low = {k: v.to(dtype) for k, v in inputs.items()}
    y, h = selective_scan(**low, delta_softplus=True, return_final_state=True)
    assert y.dtype == dtype and h.dtype == torch.float32
    ref_low = selective_scan_ref(**{k: v.to(dtype).to(F64) for k, v in inputs.items()}, delta_softplus=True)
    tol = 1e-5 if dtype == torch.float32 else 1e-2  # bf16 output rounding is ~4e-3 relative
    assert rel_err(y.to(F64), ref_low) < tol
    assert y_ref.shape == y.shape


def test_bad_shapes_raise_config_error():
    inputs = make_inputs(1, 10, 4, 3, 0)
    with pytest.raises(ConfigError, match=r"A must be \(Dm=4, N\)"):
        selective_scan(**{**inputs, "A": inputs["A"][:3]})
    with pytest.raises(ConfigError, match="B must be"):
        selective_scan(**{**inputs, "B": inputs["B"][..., :5]})
    with pytest.raises(ConfigError, match="groups"):
        selective_scan(
            **{**inputs, "B": torch.zeros(1, 3, 3, 10, dtype=F64), "C": torch.zeros(1, 3, 3, 10, dtype=F64)}
        )


def saved_bytes_for_backward(fn) -> int:
    """Bytes of the tensors autograd keeps for backward while running fn (distinct storages)."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def test_memory_kept_for_backward_has_no_state_factor():
    # (B, Dm, L) inputs are 64 * 2048 * 8 bytes = 1 MiB each; the expanded states (B, Dm, L, N) would
    # be 32 MiB. What autograd keeps must stay a small multiple of the inputs.
    inputs = make_inputs(1, 2048, 64, 32, 0, seed=10)
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    one_input = inputs["u"].numel() * inputs["u"].element_size()
    kept = saved_bytes_for_backward(lambda: selective_scan(**leaves, delta_softplus=True, block_len=256))
    assert kept < 12 * one_input, kept / one_input


def test_empty_sequence_returns_initial_state():
    inputs = make_inputs(2, 0, 4, 3, 0)
    y, h = selective_scan(**inputs, delta_softplus=True, return_final_state=True)
    assert y.shape == (2, 4, 0) and torch.equal(h, inputs["initial_state"])


def test_extreme_decays_stay_finite_in_float32():
    # softplus(10 * randn) reaches ~30 and A reaches -50: decays underflow to 0 without NaN/inf
    inputs = make_inputs(1, 300, 8, 4, 0, seed=11, dtype=torch.float32)
    inputs["delta"] = inputs["delta"] * 20
    inputs["A"] = inputs["A"] * 25
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    y = selective_scan(**leaves, delta_softplus=True)
    y.sum().backward()
    ref = selective_scan_ref(**{k: v.double() for k, v in inputs.items()}, delta_softplus=True)
    assert rel_err(y.double(), ref) < 1e-5
    assert all(torch.isfinite(v.grad).all() for v in leaves.values())
