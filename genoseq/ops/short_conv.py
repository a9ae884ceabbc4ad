"""Short causal depthwise convolution (Hyena / Mamba front-end), with carried state for streaming.

    y[b, c, t] = act(bias[c] + sum_{j=0..K-1} weight[c, j] * xe[b, c, t - (K-1) + j]) * gate[b, c, t]

where ``xe`` is ``x`` extended on the left by ``state`` (the previous K-1 inputs; zeros when None).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def short_conv(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    activation: str | None = None,
    gate: Tensor | None = None,
    state: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Causal depthwise conv. x (B, C, L); weight (C, K), K in 2..4; bias (C,); gate (B, C, L);
    state (B, C, K-1). Returns (y (B, C, L), new_state (B, C, K-1) = the last K-1 inputs of [state, x])."""
    if x.dim() != 3 or weight.dim() != 2 or weight.shape[0] != x.shape[1]:
        raise ValueError(f"short_conv: x (B, C, L) and weight (C, K) expected, got {tuple(x.shape)}, "
                         f"{tuple(weight.shape)}")
    if activation not in (None, "silu"):
        raise ValueError(f"short_conv: activation must be None or 'silu', got {activation!r}")
    B, C, L = x.shape
    K = weight.shape[1]
    w = weight.to(x.dtype)
    if state is None:
        # no state: y = w[K-1] x + sum_j w[j] x shifted right by K-1-j, accumulated into slices of y (no padded
        # copy of x; autograd saves only x itself)
        y = x * w[:, K - 1, None] if bias is None else torch.addcmul(bias.to(x.dtype)[:, None], x, w[:, K - 1, None])
        for j in range(K - 1):
            s = K - 1 - j
            if s < L:
                y[..., s:].addcmul_(x[..., : L - s], w[:, j, None])
        if L >= K - 1:
            new_state = x[..., L - (K - 1) :]
        else:
            new_state = torch.cat([x.new_zeros(B, C, K - 1 - L), x], dim=-1)
    else:
        xe = torch.cat([state.to(x.dtype), x], dim=-1)  # (B, C, L + K - 1)
        # K shifted multiply-adds (memory-bound; faster than depthwise conv1d on CPU, exact in float64)
        y = xe[..., 0:L] * w[:, 0, None]  # (B, C, L)
        for j in range(1, K):
            y = torch.addcmul(y, xe[..., j : j + L], w[:, j, None])
        if bias is not None:
            y = y + bias.to(x.dtype)[:, None]
        new_state = xe[..., xe.shape[-1] - (K - 1) :]
    if activation == "silu":
        y = F.silu(y)
    if gate is not None:
        y = y * gate
    return y, new_state
