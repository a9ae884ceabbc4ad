"""Row-block helpers of the fused mixers (genoseq.model.mamba_fused, genoseq.model.mamba2_fused).

Their activations are channels-last blocks (B, rows, C) of a sequence: a causal depthwise conv over the rows
(with the K - 1 rows before the block as its window; float32 through PyTorch's channels-last depthwise conv
kernel) and its backward (the weight gradient in pieces that stay in L2), and matrix products over the
flattened rows; and the check of when a fused training op applies.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_ROWS = 512  # rows per piece of the conv's passes: 512 x 384 float32 channels (bench-mamba2) is 0.8 MB
_GRAD_ROWS = 128  # rows per piece of the weight gradient: its (K, rows, C) accumulator is 0.8 MB at K = 4


def conv_rows(ext: Tensor, wt: Tensor, b: Tensor) -> Tensor:
    """Causal depthwise conv: window ext (B, lb + K - 1, C), taps wt (K, C) (the conv weight transposed, one
    contiguous row per tap), b (C,) -> pre (B, lb, C) with pre[t] = b + sum_j wt[j] ext[t + j].

    float32 runs as a channels-last depthwise 2-D convolution of height 1 (a contiguous (B, rows, C) block is
    exactly NHWC with H = 1): PyTorch's vectorised depthwise kernel takes about 1/3 of the time of K
    multiply-adds over the block (2,048 x 384 on one thread: 0.48 vs 1.32 ms). Other dtypes (float64: that
    kernel's generic path is ~7x slower) take :func:`conv_rows_taps`."""
    if ext.dtype != torch.float32:
        return conv_rows_taps(ext, wt, b)
    B, W, C = ext.shape
    K = wt.shape[0]
    x4 = ext.contiguous().view(B, 1, W, C).permute(0, 3, 1, 2)  # (B, C, 1, W) with channels-last strides
    pre = F.conv2d(x4, wt.t().contiguous().view(C, 1, 1, K), b, groups=C)  # (B, C, 1, lb), channels last
    return pre.permute(0, 2, 3, 1).reshape(B, W - (K - 1), C)


def conv_rows_taps(ext: Tensor, wt: Tensor, b: Tensor) -> Tensor:
    """:func:`conv_rows` as K multiply-adds per piece of ``_ROWS`` rows (the pieces stay in L2); any dtype."""
    K = wt.shape[0]
    lb = ext.shape[1] - (K - 1)
    pre = ext.new_empty(ext.shape[0], lb, ext.shape[2])
    for r0 in range(0, lb, _ROWS):
        r1 = min(lb, r0 + _ROWS)
        out = torch.mul(ext[:, r0 + K - 1 : r1 + K - 1], wt[K - 1], out=pre[:, r0:r1])
        out += b
        for j in range(K - 1):
            out.addcmul_(ext[:, r0 + j : r1 + j], wt[j])
    return pre


def conv_rows_backward(dpre: Tensor, xbc: Tensor, wt: Tensor, dxbc: Tensor, d_w: Tensor, d_b: Tensor) -> None:
    """Backward of :func:`conv_rows`: dpre (B, lb + K - 1, C) = d pre for the block's rows followed by the K - 1
    rows after it (the halo), xbc its input window (B, lb + K - 1, C). Writes d xbc[t] = sum_j wt[j]
    dpre[t + K - 1 - j] for the block's rows into dxbc (B, lb, C); adds to d_w (K, C) and d_b (C,).

    The weight gradient d_w[j] = sum_t dpre[t] xbc[t + j] runs over pieces of ``_GRAD_ROWS`` rows: one
    multiply-add per piece for all K taps (the taps an overlapping (K, rows, C) view of xbc) into a
    (K, rows, C) accumulator that stays in L2, summed over its rows once at the end. A product and a row sum
    per tap and piece took ~2x as long (4,096 x 384 float32 rows, K = 4, one thread: 6.4-6.7 -> 2.2-3.4 ms)."""
    K = wt.shape[0]
    B, lb, C = dxbc.shape
    dxbc.copy_(conv_rows(dpre, wt.flip(0), wt.new_zeros(C)))  # the same conv, taps reversed
    n = max(1, min(lb, _GRAD_ROWS))
    acc = dpre.new_zeros(K, n, C)  # acc[j, r] = sum over pieces of dpre[r0 + r] xbc[r0 + r + j]
    acc_b = dpre.new_zeros(n, C)
    for b in range(B):
        for r0 in range(0, lb, n):
            m = min(lb, r0 + n) - r0
            taps = xbc[b, r0 : r0 + m + K - 1].unfold(0, K, 1).permute(2, 0, 1)  # (K, m, C): taps[j, t] = xbc[r0 + t + j]
            dp = dpre[b, r0 : r0 + m]
            acc[:, :m].addcmul_(dp, taps)
            acc_b[:m] += dp
    d_w += acc.sum(1)
    d_b += acc_b.sum(0)


def mm_rows(a: Tensor, b: Tensor) -> Tensor:
    """(..., k) @ (k, m) with the leading dims flattened (one 2-D matrix product)."""
    return (a.reshape(-1, a.shape[-1]) @ b).view(*a.shape[:-1], b.shape[-1])


def accumulate(acc: Tensor, v: Tensor) -> None:
    """acc += v, v a product in the matmul dtype (bfloat16 under autocast), the sum in acc's dtype: converted
    first, as a mixed-dtype add runs unvectorised (see genoseq.ops.prenorm.residual_add)."""
    acc.add_(v.to(acc.dtype))


def fused_training_applicable(module: torch.nn.Module, x: Tensor, ops: tuple[str, ...]) -> bool:
    """True when a fused training op reproduces ``module``'s forward: a CPU tensor, the PyTorch paths of the
    dispatched ``ops``, float32/float64 input and parameters of the same dtype, gradients wanted."""
    from genoseq.ops._dispatch import get_impl

    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or not torch.is_grad_enabled():
        return False
    params = list(module.parameters())
    if any(p.dtype != x.dtype or p.device != x.device for p in params):
        return False
    if not (x.requires_grad or any(p.requires_grad for p in params)):
        return False
    return all(get_impl(op) != "triton" for op in ops)
