"""short_conv: hand-computed values and state chaining (chunks == whole)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genoseq.ops import short_conv


def test_short_conv_hand_case():
    x = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]], dtype=torch.float64)
    w = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)  # y[t] = .5 x[t-2] - x[t-1] + 2 x[t]
    y, state = short_conv(x, w, bias=torch.tensor([1.0], dtype=torch.float64))
    torch.testing.assert_close(y, torch.tensor([[[3.0, 4.0, 5.5, 7.0]]], dtype=torch.float64))
    torch.testing.assert_close(state, torch.tensor([[[3.0, 4.0]]], dtype=torch.float64))


@pytest.mark.parametrize("K", [2, 3, 4])
def test_short_conv_state_chaining(K):
    g = torch.Generator().manual_seed(K)
    x = torch.randn(2, 5, 13, generator=g, dtype=torch.float64)
    gate = torch.randn(2, 5, 13, generator=g, dtype=torch.float64)
    w = torch.randn(5, K, generator=g, dtype=torch.float64)
    b = torch.randn(5, generator=g, dtype=torch.float64)
    full, full_state = short_conv(x, w, b, activation="silu", gate=gate)
    ref = F.silu(F.conv1d(F.pad(x, (K - 1, 0)), w.unsqueeze(1), b, groups=5)) * gate
    torch.testing.assert_close(full, ref)
    state, parts = None, []
    for lo, hi in ((0, 1), (1, 3), (3, 4), (4, 13)):  # chunks shorter than K-1 included
        y, state = short_conv(x[..., lo:hi], w, b, activation="silu", gate=gate[..., lo:hi], state=state)
        parts.append(y)
    torch.testing.assert_close(torch.cat(parts, -1), full)
    torch.testing.assert_close(state, full_state)


def test_short_conv_bad_activation():
    with pytest.raises(ValueError, match="activation"):
        short_conv(torch.zeros(1, 1, 3), torch.zeros(1, 2), activation="relu")


@pytest.mark.parametrize("with_state", [False, True])
def test_short_conv_gradients(with_state):
    g = torch.Generator().manual_seed(7)
    x, gate = (torch.randn(2, 3, 6, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    w = torch.randn(3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    state = torch.randn(2, 3, 2, generator=g, dtype=torch.float64) if with_state else None
    y, _ = short_conv(x, w, b, activation="silu", gate=gate, state=state)
    xe = torch.cat([state if with_state else torch.zeros(2, 3, 2, dtype=torch.float64), x], -1)
    ref = F.silu(F.conv1d(xe, w.unsqueeze(1), b, groups=3)) * gate
    gy = torch.randn_like(y)
    got = torch.autograd.grad((y * gy).sum(), (x, gate, w, b))
    want = torch.autograd.grad((ref * gy).sum(), (x, gate, w, b))
    for a, c in zip(got, want, strict=True):
        torch.testing.assert_close(a, c)
