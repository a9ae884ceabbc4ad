"""The pieced implicit filter (hand-written backward) against the Hyena filter MLP through autograd, float64."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genoseq.model.hyena import HyenaFilter
from genoseq.ops import implicit_filter


def _reference(f: HyenaFilter, n: int) -> torch.Tensor:
    """The filter by its definition: Sequential(Linear, Sin, ...) on the features, times exp(-d t / max_len)."""
    m = min(n, f.cutoff)
    lags = torch.arange(m)
    h = f.mlp(f.features(lags, torch.float64))  # (m, C)
    window = torch.exp(-lags.double()[:, None] / f.max_len * f.deltas.double()[None, :])
    return F.pad((h * window).t(), (0, n - m))


@pytest.mark.parametrize("piece", [4096, 7, 16])
@pytest.mark.parametrize("n", [1, 33, 200])
def test_filter_matches_autograd_reference(piece, n, monkeypatch):
    monkeypatch.setattr(implicit_filter, "_PIECE", piece)
    torch.manual_seed(0)
    f = HyenaFilter(12, 8, 5, 16, 0.3, 1.5).double()  # cutoff ~ 9 * 16 = 144 < 200: zero tail covered
    got, want = f(n, torch.float64), _reference(f, n)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)
    g = torch.randn_like(got)
    ga = torch.autograd.grad((got * g).sum(), list(f.parameters()))
    gb = torch.autograd.grad((want * g).sum(), list(f.parameters()))
    for (name, _), a, b in zip(f.named_parameters(), ga, gb, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-11, msg=lambda m, name=name: f"{name}: {m}")


def test_filter_saves_no_length_sized_tensor():
    f = HyenaFilter(12, 8, 5, 64, 0.3, 1.5)
    sizes = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: sizes.append(t.numel()) or t, lambda t: t):
        f(500, torch.float32)
    assert max(sizes) < 500, f"largest saved tensor has {max(sizes)} elements"
