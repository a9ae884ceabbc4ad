"""Normalisation layers (LayerNorm or RMSNorm over the channel dim)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genoseq.ops.rms_norm import rms_norm


class RMSNorm(nn.RMSNorm):
    """``torch.nn.RMSNorm`` (same parameters and state dict) whose CPU training pass takes
    :func:`genoseq.ops.rms_norm.rms_norm`: a hand-written backward instead of autograd through the composite."""

    def rows_form(self, x: Tensor) -> bool:
        """Whether the row-wise arithmetic of genoseq.ops.rms_norm reproduces this norm on x: a weight of
        x's dtype, a set eps, and x's last dim the one normalised dim."""
        w = self.weight
        return (w is not None and w.dtype == x.dtype and self.eps is not None
                and tuple(self.normalized_shape) == (x.shape[-1],))

    def forward(self, x: Tensor) -> Tensor:
        if (x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and torch.is_grad_enabled()
                and self.rows_form(x)):
            return rms_norm(x, self.weight, self.eps)
        return super().forward(x)


def make_norm(kind: str, dim: int, eps: float) -> nn.Module:
    """``kind`` "layernorm" or "rmsnorm" over the last dim of size ``dim``."""
    if kind == "rmsnorm":
        return RMSNorm(dim, eps=eps)
    return nn.LayerNorm(dim, eps=eps)
