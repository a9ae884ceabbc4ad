"""The recurrent-mixer API shared by the Mamba-1 and Mamba-2 mixers.

A subclass implements ``_mix(x, conv_state, ssm_state) -> (y, conv_state, ssm_state)`` (states None for a
fresh sequence) and ``allocate_state``; this base class turns that into ``forward`` and ``forward_chunk``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RecurrentMixer(nn.Module):
    """Base of the selective-state-space mixers: a causal conv state plus an SSM state."""

    def _mix(
        self, x: Tensor, conv_state: Tensor | None, ssm_state: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, d_model) -> (B, L, d_model), causal."""
        return self._mix(x, None, None)[0]

    def forward_chunk(self, x: Tensor, state: dict[str, Tensor]) -> Tensor:
        """Continue from ``state`` over x (B, Lc, d_model); rebinds the state entries to the new state."""
        y, conv_state, ssm_state = self._mix(x, state["conv_state"], state["ssm_state"])
        state["conv_state"] = conv_state.to(state["conv_state"].dtype)
        state["ssm_state"] = ssm_state.to(state["ssm_state"].dtype)
        return y

    def _zero_state(
        self,
        batch_size: int,
        conv_channels: int,
        ssm_shape: tuple[int, ...],
        device: torch.device | str | None,
        dtype: torch.dtype | None,
    ) -> dict[str, Tensor]:
        """conv_state (B, conv_channels, d_conv-1) in ``dtype``; ssm_state (B, *ssm_shape) in float64 if
        ``dtype`` is float64 else float32. Defaults: the parameters' device and dtype."""
        device = self.A_log.device if device is None else device
        dtype = self.in_proj.weight.dtype if dtype is None else dtype
        ssm_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        return {
            "conv_state": torch.zeros(batch_size, conv_channels, self.d_conv - 1, device=device, dtype=dtype),
            "ssm_state": torch.zeros(batch_size, *ssm_shape, device=device, dtype=ssm_dtype),
        }
