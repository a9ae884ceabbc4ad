"""Triton short conv kernel (run by the Triton interpreter on CPU) vs the float64 reference."""

from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # must precede the first import of the kernels

import pytest
import torch

pytestmark = pytest.mark.interpreter


def _reference():
    from genoseq.ops.short_conv import short_conv

    return short_conv


def rel_rmse(got: torch.Tensor, ref: torch.Tensor) -> float:
    return ((got.double() - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def _kernel():
    from genoseq_kernels import short_conv as mod

    assert not hasattr(mod.short_conv_fwd_kernel, "run") or os.environ.get("TRITON_INTERPRET") == "1"
    return mod.short_conv


CASES = [  # (L, K, activation, gate, state, bias)
    (37, 4, "silu", True, True, True),
    (1, 3, None, False, False, False),
    (600, 2, "silu", True, False, True),
    (2, 4, None, True, True, False),
]


@pytest.mark.parametrize("L,K,act,has_gate,has_state,has_bias", CASES,
                         ids=[f"L{c[0]}-K{c[1]}-{c[2]}-g{int(c[3])}s{int(c[4])}b{int(c[5])}" for c in CASES])
def test_short_conv_matches_reference_fwd_bwd(L, K, act, has_gate, has_state, has_bias):
    torch.manual_seed(L + K)
    Bsz, C = 2, 3
    f64 = dict(dtype=torch.float64)
    x = torch.randn(Bsz, C, L, **f64)
    w = torch.randn(C, K, **f64)
    b = torch.randn(C, **f64) if has_bias else None
    g = torch.randn(Bsz, C, L, **f64) if has_gate else None
    s = torch.randn(Bsz, C, K - 1, **f64) if has_state else None
    ins = [t.requires_grad_() if t is not None else None for t in (x, w, b, g, s)]
    y, ns = _reference()(ins[0], ins[1], bias=ins[2], activation=act, gate=ins[3], state=ins[4])
    dy, dns = torch.randn_like(y), torch.randn_like(ns)
    live = [t for t in ins if t is not None]
    grads = torch.autograd.grad((y * dy).sum() + (ns * dns).sum(), live)

    ins32 = [t.detach().float().requires_grad_() if t is not None else None for t in ins]
    y2, ns2 = _kernel()(ins32[0], ins32[1], ins32[2], act, ins32[3], ins32[4])
    grads2 = torch.autograd.grad((y2 * dy.float()).sum() + (ns2 * dns.float()).sum(),
                                 [t for t in ins32 if t is not None])
    assert y2.dtype == torch.float32
    assert rel_rmse(y2, y) < 1e-5
    assert rel_rmse(ns2, ns) < 1e-6
    for got, ref in zip(grads2, grads, strict=True):
        assert rel_rmse(got, ref) < 1e-5


def test_short_conv_state_chaining_two_chunks_equal_one_call():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 50)
    w, b = torch.randn(4, 4), torch.randn(4)
    conv = _kernel()
    y_full, s_full = conv(x, w, b, "silu", None, None)
    y1, s1 = conv(x[..., :23], w, b, "silu", None, None)
    y2, s2 = conv(x[..., 23:], w, b, "silu", None, s1)
    torch.testing.assert_close(torch.cat([y1, y2], -1), y_full, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(s2, s_full)


def test_short_conv_fp16_close_to_reference():
    torch.manual_seed(1)
    x, w, g = torch.randn(1, 3, 40), torch.randn(3, 3), torch.randn(1, 3, 40)
    y_ref, _ = _reference()(x.double(), w.double(), activation="silu", gate=g.double())
    y16, _ = _kernel()(x.half(), w.half(), None, "silu", g.half(), None)
    assert y16.dtype == torch.float16
    assert rel_rmse(y16, y_ref) < 3e-3
