"""Normalisation layers (LayerNorm or RMSNorm over the channel dim)."""

from __future__ import annotations

from torch import nn


def make_norm(kind: str, dim: int, eps: float) -> nn.Module:
    """``kind`` "layernorm" or "rmsnorm" over the last dim of size ``dim``."""
    if kind == "rmsnorm":
        return nn.RMSNorm(dim, eps=eps)
    return nn.LayerNorm(dim, eps=eps)
