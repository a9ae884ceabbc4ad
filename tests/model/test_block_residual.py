"""genoseq.model.block.add_residual: the promoting residual add, written as convert-then-add-in-place."""

from __future__ import annotations

import torch

from genoseq.model.block import add_residual


def test_add_residual_equals_the_promoting_add_values_and_gradients():
    g = torch.Generator().manual_seed(3)
    h0 = torch.randn(2, 5, 4, generator=g)
    b0 = torch.randn(2, 5, 4, generator=g).bfloat16()
    gy = torch.randn(2, 5, 4, generator=g)
    results = []
    for fn in (lambda h, b: h + b, add_residual):
        h, b = h0.clone().requires_grad_(), b0.clone().requires_grad_()
        y = fn(h, b)
        (y * gy).sum().backward()
        results.append((y.detach(), h.grad, b.grad))
        assert torch.equal(h.detach(), h0) and torch.equal(b.detach(), b0)  # inputs untouched
    for want, got in zip(results[0], results[1], strict=True):
        assert got.dtype == want.dtype and torch.equal(got, want)
    assert results[1][0].dtype == torch.float32 and results[1][2].dtype == torch.bfloat16
    h = torch.randn(3)
    assert add_residual(h, h) is not h and torch.equal(add_residual(h, h), 2 * h)  # same dtype: a new tensor
