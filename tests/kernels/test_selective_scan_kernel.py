"""Triton selective scan kernel (Triton interpreter on CPU) vs genoseq.ops.selective_scan_ref in float64."""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # must precede the first import of the kernels

import pytest
import torch

pytestmark = pytest.mark.interpreter


def rel_rmse(got: torch.Tensor, ref: torch.Tensor) -> float:
    return ((got.double() - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def _inputs(L, N, G, full, seed):
    torch.manual_seed(seed)
    Bsz, Dm = 2, 4
    f64 = dict(dtype=torch.float64)
    bc_shape = (Bsz, G, N, L) if G > 1 else (Bsz, N, L)
    return dict(
        u=torch.randn(Bsz, Dm, L, **f64), delta=0.5 * torch.randn(Bsz, Dm, L, **f64),
        A=-torch.rand(Dm, N, **f64) - 0.2, B=torch.randn(*bc_shape, **f64), C=torch.randn(*bc_shape, **f64),
        D=torch.randn(Dm, **f64) if full else None, z=torch.randn(Bsz, Dm, L, **f64) if full else None,
        delta_bias=torch.randn(Dm, **f64) if full else None,
        initial_state=torch.randn(Bsz, Dm, N, **f64) if full else None,
    )


CASES = [(70, 16, 1, True), (1, 4, 2, True), (45, 5, 1, False)]  # (L, N, groups, all optional inputs)


@pytest.mark.parametrize("L,N,G,full", CASES, ids=[f"L{c[0]}-N{c[1]}-G{c[2]}-full{int(c[3])}" for c in CASES])
def test_selective_scan_matches_reference_fwd_bwd(L, N, G, full):
    from genoseq_kernels.selective_scan import selective_scan

    from genoseq.ops.selective_scan import selective_scan_ref

    ins = {k: (v.requires_grad_() if v is not None else None) for k, v in _inputs(L, N, G, full, L).items()}
    y, h = selective_scan_ref(**ins, delta_softplus=full, return_final_state=True)
    dy, dh = torch.randn_like(y), torch.randn_like(h)
    names = [k for k, v in ins.items() if v is not None]
    grads = torch.autograd.grad((y * dy).sum() + (h * dh).sum(), [ins[k] for k in names])

    ins32 = {k: (v.detach().float().requires_grad_() if v is not None else None) for k, v in ins.items()}
    y2, h2 = selective_scan(**ins32, delta_softplus=full, return_final_state=True)
    grads2 = torch.autograd.grad((y2 * dy.float()).sum() + (h2 * dh.float()).sum(), [ins32[k] for k in names])
    assert y2.shape == y.shape and h2.shape == h.shape
    assert rel_rmse(y2, y) < 1e-5
    assert rel_rmse(h2, h) < 1e-5
    for name, got, ref in zip(names, grads2, grads, strict=True):
        assert rel_rmse(got, ref) < 2e-5, name


def test_selective_scan_state_chaining_two_chunks_equal_one_call():
    from genoseq_kernels.selective_scan import selective_scan

    ins = {k: (v.float() if v is not None else None) for k, v in _inputs(50, 8, 1, True, 3).items()}
    y, h = selective_scan(**ins, delta_softplus=True, return_final_state=True)
    cut = 33
    first = {k: (v[..., :cut] if k in ("u", "delta", "z", "B", "C") else v) for k, v in ins.items()}
    second = {k: (v[..., cut:] if k in ("u", "delta", "z", "B", "C") else v) for k, v in ins.items()}
    y1, h1 = selective_scan(**first, delta_softplus=True, return_final_state=True)
    second["initial_state"] = h1
    y2, h2 = selective_scan(**second, delta_softplus=True, return_final_state=True)
    torch.testing.assert_close(torch.cat([y1, y2], -1), y, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h2, h, rtol=1e-5, atol=1e-5)


def test_selective_scan_fp16_close_to_reference():
    from genoseq_kernels.selective_scan import selective_scan

    from genoseq.ops.selective_scan import selective_scan_ref

    ins = _inputs(40, 8, 1, True, 5)
    ref = selective_scan_ref(**ins, delta_softplus=True)
    got = selective_scan(**{k: (v.half() if v is not None else None) for k, v in ins.items()}, delta_softplus=True)
    assert got.dtype == torch.float16
    assert rel_rmse(got, ref) < 5e-3
