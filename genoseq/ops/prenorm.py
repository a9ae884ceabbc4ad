"""LayerNorm pieces for fused pre-norm residual branches (out = h + branch(LayerNorm(h))).

The branch ops (genoseq.ops.hyena_conv, genoseq.ops.mlp) normalise position blocks on the group worker
threads and write the normalised rows straight in the matmul dtype: no float32 copy of the normalised
sequence, no separate cast. They save the branch input h (which the LayerNorm would have saved anyway) and
the per-position mean / rstd, and recompute the normalised rows in backward.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genoseq.ops._groups import map_groups

BLOCK = 2048  # positions per block


@dataclass
class Norm:
    """LayerNorm parameters: weight and bias (D,) or None, eps."""

    weight: Tensor | None
    bias: Tensor | None
    eps: float


def matmul_dtype(x: Tensor) -> torch.dtype:
    """The dtype the fused branches run their matmuls in: float64 for float64 x, else the autocast dtype
    when autocast is on for x's device, else x's dtype."""
    dev = x.device.type
    if x.dtype == torch.float64:
        return torch.float64
    return torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype


def blocks(N: int, size: int | None = None) -> list[slice]:
    """Row slices of at most ``size`` rows (default: the module's ``BLOCK``, read at each call) covering 0..N-1."""
    size = BLOCK if size is None else size
    return [slice(lo, min(N, lo + size)) for lo in range(0, N, size)]


def residual_add(out: Tensor, residual: Tensor, branch: Tensor) -> Tensor:
    """out = residual + branch; ``branch`` may be narrower (a bf16 product under autocast). PyTorch's CPU
    elementwise kernels take a slow, unvectorised path when operand dtypes differ (2,048 x 128 rows, fp32 +
    bf16 -> fp32: 330 us vs 143 us as a converting copy and an fp32 add), so mixed dtypes go that way.
    ``out`` may be ``residual`` itself (in place)."""
    if branch.dtype == residual.dtype:
        return torch.add(residual, branch, out=out)
    if out.data_ptr() == residual.data_ptr():  # in place: the branch is converted on its own first
        return out.add_(branch.to(out.dtype))
    return out.copy_(branch).add_(residual)


def mul_into(out: Tensor, scratch: Tensor, other: Tensor) -> Tensor:
    """out = scratch * other. When out is in another dtype (a bf16 store of fp32 products), scratch is
    multiplied in place and then converted: storing a product in another dtype also takes the unvectorised
    path (fp32 * fp32 -> bf16: 258 vs 205 us per 8 x 32k); scratch is overwritten then."""
    if out.dtype == scratch.dtype:
        return torch.mul(scratch, other, out=out)
    return out.copy_(scratch.mul_(other))


def norm_rows(h: Tensor, sl: slice, norm: Norm, out: Tensor, stats: tuple[Tensor, Tensor] | None = None) -> None:
    """out[sl] = LayerNorm(h[sl]) cast to out's dtype; h (N, D) float. ``stats`` (mean, rstd) (N, 1) are
    filled when given."""
    y, mean, rstd = torch.native_layer_norm(h[sl], h.shape[-1:], norm.weight, norm.bias, norm.eps)
    out[sl] = y
    if stats is not None:
        stats[0][sl] = mean
        stats[1][sl] = rstd


def normalize(h: Tensor, norm: Norm, dtype: torch.dtype, with_stats: bool) -> tuple[Tensor, Tensor | None,
                                                                                     Tensor | None]:
    """(LayerNorm(h) in ``dtype``, mean, rstd) for h (N, D), block by block on the worker threads."""
    N = h.shape[0]
    out = torch.empty(N, h.shape[1], dtype=dtype, device=h.device)
    stats = (torch.empty(N, 1, dtype=h.dtype, device=h.device),
             torch.empty(N, 1, dtype=h.dtype, device=h.device)) if with_stats else None
    map_groups(lambda sl: norm_rows(h, sl, norm, out, stats), blocks(N), N)
    return out, *(stats if stats is not None else (None, None))


def keeps_normalised(mdt: torch.dtype, x: Tensor) -> bool:
    """Whether a fused pre-norm branch keeps LayerNorm(x) for its backward: when the matmul dtype is narrower
    than x's (bf16 autocast over float32), the normalised rows cost half of x and save a recompute."""
    return mdt.itemsize < x.element_size()


def norm_backward_rows(g: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, norm: Norm, sums: list, at: int) -> Tensor:
    """LayerNorm backward of one block of rows x (n, D): g (n, D) the gradient of the normalised rows (any float
    dtype) -> the gradient of x in x's dtype. The block's weight and bias gradients are added into
    ``sums[at]`` and ``sums[at + 1]`` (None until the first block; they stay None without weight / bias)."""
    mask = [True, norm.weight is not None, norm.bias is not None]
    dx, dw, db = torch.ops.aten.native_layer_norm_backward(g.to(x.dtype), x, [x.shape[-1]], mean, rstd,
                                                           norm.weight, norm.bias, mask)
    for j, t in ((at, dw), (at + 1, db)):
        if t is not None:
            sums[j] = t if sums[j] is None else sums[j] + t
    return dx
