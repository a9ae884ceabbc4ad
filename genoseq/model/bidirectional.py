"""Bidirectional wrapper for causal mixers (H/M/S): combine(fwd(x), flip(rev(flip(x))))."""

from __future__ import annotations

import torch
from torch import Tensor, nn

TIED_NAMES = ("in_proj", "out_proj")


class BidirectionalMixer(nn.Module):
    """Run ``fwd`` left to right and ``rev`` right to left and combine by "add" or "concat" (+ projection).

    With ``tie=True`` the two directions share their ``in_proj`` / ``out_proj`` sub-modules (as Caduceus'
    BiMamba does); the convolution / SSM / filter parameters stay separate.
    """

    def __init__(self, fwd: nn.Module, rev: nn.Module, d_model: int, combine: str = "add", tie: bool = True) -> None:
        super().__init__()
        self.fwd, self.rev, self.combine = fwd, rev, combine
        if tie:
            for name in TIED_NAMES:
                if isinstance(getattr(fwd, name, None), nn.Module) and isinstance(getattr(rev, name, None), nn.Module):
                    setattr(rev, name, getattr(fwd, name))
        self.proj = nn.Linear(2 * d_model, d_model) if combine == "concat" else None

    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, D) -> (B, L, D)."""
        y_f = self.fwd(x)
        y_r = self.rev(x.flip(1)).flip(1)
        if self.proj is None:
            return y_f + y_r
        return self.proj(torch.cat([y_f, y_r], dim=-1))  # (B, L, 2D) -> (B, L, D)
