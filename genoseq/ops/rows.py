"""Row-block helpers of the fused mixers (genoseq.model.mamba_fused, genoseq.model.mamba2_fused).

Their activations are channels-last blocks (B, rows, C) of a sequence: a causal depthwise conv over the rows
(with the K - 1 rows before the block as its window) and its backward, in pieces that stay in L2, and matrix
products over the flattened rows; and the check of when a fused training op applies.
"""

from __future__ import annotations

import torch
from torch import Tensor

_ROWS = 512  # rows per piece of the conv's passes: 512 x 384 float32 channels (bench-mamba2) is 0.8 MB


def conv_rows(ext: Tensor, wt: Tensor, b: Tensor) -> Tensor:
    """Causal depthwise conv: window ext (B, lb + K - 1, C), taps wt (K, C) (the conv weight transposed, one
    contiguous row per tap: a strided per-channel vector makes each product ~4x slower), b (C,) -> pre
    (B, lb, C) with pre[t] = b + sum_j wt[j] ext[t + j]. In pieces of ``_ROWS`` rows (they stay in L2)."""
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
    dpre[t + K - 1 - j] for the block's rows into dxbc (B, lb, C); adds to d_w (K, C) and d_b (C,)."""
    K = wt.shape[0]
    lb = dxbc.shape[1]
    for r0 in range(0, lb, _ROWS):
        r1 = min(lb, r0 + _ROWS)
        out = torch.mul(dpre[:, r0 + K - 1 : r1 + K - 1], wt[0], out=dxbc[:, r0:r1])  # j = 0 reads xbc[t]
        for j in range(1, K):
            out.addcmul_(dpre[:, r0 + K - 1 - j : r1 + K - 1 - j], wt[j])
        dp = dpre[:, r0:r1]
        for j in range(K):
            d_w[j] += (dp * xbc[:, r0 + j : r1 + j]).sum((0, 1))
        d_b += dp.sum((0, 1))


def mm_rows(a: Tensor, b: Tensor) -> Tensor:
    """(..., k) @ (k, m) with the leading dims flattened (one 2-D matrix product)."""
    return (a.reshape(-1, a.shape[-1]) @ b).view(*a.shape[:-1], b.shape[-1])


def accumulate(acc: Tensor, v: Tensor) -> None:
    """acc += v, v a product in the matmul dtype (bfloat16 under autocast), the sum in acc's dtype."""
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
