"""RMSNorm with a hand-written backward, position block by position block on the group workers.

    y = x * r * weight,   r = 1 / sqrt(mean(x^2 over the channels) + eps)     x (..., D), r (..., 1)

torch 2.13 has no CPU kernel for the RMSNorm backward: autograd differentiates the composite (pow, mean,
rsqrt, two products), about ten full passes over x, and torch's fused forward runs alone. Here forward and
backward each make one pass per block of ``_BLOCK`` rows (the rows stay in cache) and save only x
and r; results do not depend on the number of workers. The same map as ``torch.nn.functional.rms_norm``
up to rounding: dx = r (g - xr mean(g xr)) with g = dy weight, xr = x r; dweight = sum of dy xr.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genoseq.ops._groups import map_groups
from genoseq.ops.prenorm import BLOCK, blocks

_BLOCK = BLOCK  # rows per block


def rms_factor(x: Tensor, eps: float) -> Tensor:
    """r (..., 1) = 1 / sqrt(mean(x^2 over the last dim) + eps) for rows x (..., D), from the rows' norm (one
    pass over x, ~3x faster than squaring and averaging)."""
    ss = torch.linalg.vector_norm(x, dim=-1, keepdim=True)  # sqrt(sum x^2)
    return torch.rsqrt(ss.square_().div_(x.shape[-1]).add_(eps))


def normalize_rows(x: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """(x r, r) for rows x (..., D), r = :func:`rms_factor`: the RMSNorm before its weight."""
    r = rms_factor(x, eps)
    return x * r, r


def backward_rows(dy: Tensor, xr: Tensor, r: Tensor, weight: Tensor, out: Tensor | None = None
                  ) -> tuple[Tensor, Tensor]:
    """RMSNorm backward of rows: dy (..., D) the gradient of y = xr weight, xr = x r (overwritten), r (..., 1).
    Returns (dx (..., D), written into ``out`` when given; dweight (D,), summed over the rows)."""
    dw = (dy * xr).sum(tuple(range(dy.dim() - 1)))
    g = dy * weight
    dot = (g * xr).mean(-1, keepdim=True)
    return torch.mul(g.sub_(xr.mul_(dot)), r, out=out), dw


def _forward(x: Tensor, weight: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """(y, r) for x (N, D): y (N, D), r (N, 1)."""
    N = x.shape[0]
    y, r = torch.empty_like(x), x.new_empty(N, 1)

    def job(sl: slice) -> None:
        xr, r[sl] = normalize_rows(x[sl], eps)
        torch.mul(xr, weight, out=y[sl])

    map_groups(job, blocks(N, _BLOCK), N)
    return y, r


def _backward(dy: Tensor, x: Tensor, r: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """(dx (N, D), dweight (D,)) for the gradient dy (N, D) of y."""
    N = x.shape[0]
    dx = torch.empty_like(x)
    row_blocks = blocks(N, _BLOCK)
    parts = x.new_empty(len(row_blocks), x.shape[1])  # dweight per block, summed in block order afterwards

    def job(i: int) -> None:
        sl = row_blocks[i]
        parts[i] = backward_rows(dy[sl], x[sl] * r[sl], r[sl], weight, out=dx[sl])[1]

    map_groups(job, range(len(row_blocks)), N)
    return dx, parts.sum(0)  # the same sum for any number of workers


class _RMSNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, eps: float) -> Tensor:
        D = x.shape[-1]
        y, r = _forward(x.reshape(-1, D), weight, eps)
        ctx.save_for_backward(x, weight, r)
        return y.view(x.shape)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy: Tensor):
        x, weight, r = ctx.saved_tensors
        D = x.shape[-1]
        dx, dw = _backward(dy.reshape(-1, D).to(x.dtype), x.reshape(-1, D), r, weight)
        return dx.view(x.shape), dw.to(weight.dtype), None


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """RMSNorm over the last dim: x (..., D) float32/float64, weight (D,) of x's dtype -> (..., D)."""
    return _RMSNorm.apply(x, weight, eps)
