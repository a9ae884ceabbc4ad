"""Memory-layout guard for autograd: keep gradients in the layout of the tensors they meet.

An elementwise op whose inputs walk memory in different orders (a (B, C, L) tensor beside a transposed view
of a (B, L, C) one) runs ~10x slower per element on CPU than one over same-layout inputs. In backward this
happens when a tensor used twice, once through a transposed view, accumulates its gradient in the view's
layout: every op of the backward that follows then mixes the two layouts.
"""

from __future__ import annotations

import torch
from torch import Tensor


class _ContiguousGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:  # type: ignore[override]
        return g.contiguous()


def contiguous_grad(x: Tensor) -> Tensor:
    """x itself (a view) whose gradient is made contiguous before it flows further back (one copy when it
    arrives in another layout, none otherwise). x should be contiguous."""
    return _ContiguousGrad.apply(x) if x.requires_grad else x
