"""Triton SSD kernel (Triton interpreter on CPU) vs genoseq.ops.ssd_ref in float64."""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # must precede the first import of the kernels

import pytest
import torch

pytestmark = pytest.mark.interpreter


def rel_rmse(got: torch.Tensor, ref: torch.Tensor) -> float:
    return ((got.double() - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def _inputs(L, H, P, G, N, full, seed):
    torch.manual_seed(seed)
    Bsz = 2
    f64 = dict(dtype=torch.float64)
    return dict(
        x=torch.randn(Bsz, L, H, P, **f64), dt=0.5 * torch.rand(Bsz, L, H, **f64) + 0.01,
        A=-torch.rand(H, **f64) - 0.2, B=torch.randn(Bsz, L, G, N, **f64), C=torch.randn(Bsz, L, G, N, **f64),
        D=torch.randn(H, **f64) if full else None,
        initial_state=torch.randn(Bsz, H, P, N, **f64) if full else None,
    )


CASES = [(70, 2, 8, 1, 16, True), (1, 2, 4, 2, 3, True), (130, 4, 16, 2, 16, False)]  # L, H, P, G, N, full


@pytest.mark.parametrize("L,H,P,G,N,full", CASES,
                         ids=[f"L{c[0]}-H{c[1]}-P{c[2]}-G{c[3]}-N{c[4]}-full{int(c[5])}" for c in CASES])
def test_ssd_matches_reference_fwd_bwd(L, H, P, G, N, full):
    from genoseq_kernels.ssd import ssd

    from genoseq.ops.ssd import ssd_ref

    ins = {k: (v.requires_grad_() if v is not None else None) for k, v in _inputs(L, H, P, G, N, full, L).items()}
    y, h = ssd_ref(**ins, return_final_state=True)
    dy, dh = torch.randn_like(y), torch.randn_like(h)
    names = [k for k, v in ins.items() if v is not None]
    grads = torch.autograd.grad((y * dy).sum() + (h * dh).sum(), [ins[k] for k in names])

    ins32 = {k: (v.detach().float().requires_grad_() if v is not None else None) for k, v in ins.items()}
    y2, h2 = ssd(**ins32, return_final_state=True)
    grads2 = torch.autograd.grad((y2 * dy.float()).sum() + (h2 * dh.float()).sum(), [ins32[k] for k in names])
    assert rel_rmse(y2, y) < 1e-5
    assert rel_rmse(h2, h) < 1e-5
    for name, got, ref in zip(names, grads2, grads, strict=True):
        assert rel_rmse(got, ref) < 5e-5, name  # dA sums L*B*P terms in float32


def test_ssd_state_chaining_two_chunks_equal_one_call():
    from genoseq_kernels.ssd import ssd

    ins = {k: v.float() for k, v in _inputs(100, 2, 8, 1, 16, True, 4).items()}
    y, h = ssd(**ins, return_final_state=True)
    cut = 70  # not a multiple of the 64-step chunk
    first = {k: (v[:, :cut] if k in ("x", "dt", "B", "C") else v) for k, v in ins.items()}
    second = {k: (v[:, cut:] if k in ("x", "dt", "B", "C") else v) for k, v in ins.items()}
    y1, h1 = ssd(**first, return_final_state=True)
    second["initial_state"] = h1
    y2, h2 = ssd(**second, return_final_state=True)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h2, h, rtol=1e-5, atol=1e-5)


def test_ssd_fp16_close_to_reference():
    from genoseq_kernels.ssd import ssd

    from genoseq.ops.ssd import ssd_ref

    ins = _inputs(64, 2, 16, 1, 16, True, 6)
    ref = ssd_ref(**ins)
    got = ssd(**{k: v.half() if k in ("x", "B", "C") else v.float() for k, v in ins.items()})
    assert got.dtype == torch.float16
    assert rel_rmse(got, ref) < 5e-3
