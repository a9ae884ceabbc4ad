"""The fused MLP (activation recomputed in backward, position blocks) against autograd's ops, float64."""

from __future__ import annotations

import pytest
import torch

from genoseq.model.block import MLP
from genoseq.ops import mlp as mlp_ops


@pytest.mark.parametrize("kind", ["gelu", "glu"])
@pytest.mark.parametrize("block", [4096, 5])
def test_mlp_matches_reference(kind, block, monkeypatch):
    monkeypatch.setattr(mlp_ops, "_BLOCK", block)
    torch.manual_seed(0)
    m = MLP(6, 10, kind).double()
    x = torch.randn(2, 13, 6, dtype=torch.float64, requires_grad=True)
    gy = torch.randn(2, 13, 6, dtype=torch.float64)
    params = [x, *m.parameters()]
    y, ref = m(x), m.reference(x)
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-13)
    got = torch.autograd.grad((y * gy).sum(), params)
    want = torch.autograd.grad((ref * gy).sum(), params)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_mlp_bf16_autocast():
    torch.manual_seed(0)
    m = MLP(16, 32, "gelu")
    x = torch.randn(1, 40, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = m(x)
        ref = m.reference(x)
    assert y.dtype == ref.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), ref.float(), rtol=2e-2, atol=2e-3)


def test_mlp_saves_its_input_only():
    m = MLP(4, 8, "gelu")
    x = torch.randn(1, 10, 4, requires_grad=True)
    shapes = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: shapes.append(tuple(t.shape)) or t, lambda t: t):
        m(x)
    assert [s for s in shapes if s[0] == 10] == [(10, 4)]  # fc1 and the activation are recomputed


@pytest.mark.parametrize("kind", ["gelu", "glu"])
def test_mlp_inference_path(kind, monkeypatch):
    monkeypatch.setattr(mlp_ops, "_BLOCK", 4)
    torch.manual_seed(1)
    m = MLP(6, 10, kind).double()
    x = torch.randn(2, 9, 6, dtype=torch.float64)
    with torch.no_grad():
        y = m(x)
    assert not y.requires_grad
    torch.testing.assert_close(y, m.reference(x).detach(), rtol=1e-12, atol=1e-13)
