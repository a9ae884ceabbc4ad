"""Attention mixer against explicit softmax attention (GQA, window, bidirectional)."""

from __future__ import annotations

import math

import pytest
import torch

from genoseq.model.attention import AttentionMixer, rotary


def _reference(m: AttentionMixer, x: torch.Tensor) -> torch.Tensor:
    B, L, D = x.shape
    pos = torch.arange(L)
    q, k, v = m._qkv(x, pos)
    rep = m.n_heads // m.n_kv_heads
    k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
    scores = q @ k.transpose(-1, -2) / math.sqrt(m.head_dim)  # (B, H, L, L)
    diff = pos[:, None] - pos[None, :]
    allowed = torch.ones(L, L, dtype=torch.bool)
    if m.causal:
        allowed &= diff >= 0
    if m.window is not None:
        allowed &= diff.abs() < m.window
    p = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
    return m.out_proj((p @ v).transpose(1, 2).reshape(B, L, D))


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "bidir"])
@pytest.mark.parametrize(("kv", "window"), [(None, None), (1, None), (2, 3)])
def test_attention_matches_reference(causal, kv, window):
    torch.manual_seed(0)
    m = AttentionMixer(16, 0, n_heads=4, n_kv_heads=kv, window=window, causal=causal).double()
    x = torch.randn(2, 9, 16, dtype=torch.float64)
    torch.testing.assert_close(m(x), _reference(m, x), rtol=1e-10, atol=1e-10)


def test_rotary_is_relative():
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(1, 1, 1, 8, generator=g, dtype=torch.float64), torch.randn(1, 1, 1, 8, generator=g, dtype=torch.float64)
    dots = [(rotary(q, torch.tensor([p + 3]), 100.0) * rotary(k, torch.tensor([p]), 100.0)).sum() for p in (0, 5, 17)]
    torch.testing.assert_close(torch.stack(dots), dots[0].expand(3))


def test_sliding_window_cache_is_bounded():
    m = AttentionMixer(16, 0, n_heads=2, window=4).double().eval()
    state = m.allocate_state(1, dtype=torch.float64)
    x = torch.randn(1, 10, 16, dtype=torch.float64)
    with torch.no_grad():
        out = torch.cat([m.forward_chunk(x[:, i : i + 3], state) for i in range(0, 10, 3)], 1)
        assert state["k"].shape[2] == 3 and int(state["pos"]) == 10
        torch.testing.assert_close(out, m(x), rtol=1e-10, atol=1e-10)
