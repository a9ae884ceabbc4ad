"""Mamba-1 mixer: gated selective state-space block (Gu & Dao, 2023), causal.

    x (B, L, D) -> in_proj -> [u, z] (each d_inner = expand * D)
    u -> causal depthwise conv (d_conv taps) -> SiLU -> x_proj -> (dt_low (dt_rank), B (N), C (N))
    dt = softplus(dt_proj(dt_low))        A = -exp(A_log) (d_inner, N), S4D-real init A = -(1..N)
    y = selective_scan(u, dt, A, B, C, D) * silu(z) -> out_proj -> (B, L, D)

Recurrent state per layer: ``conv_state`` (B, d_inner, d_conv - 1), the last conv inputs, and
``ssm_state`` (B, d_inner, N).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genoseq.errors import ConfigError
from genoseq.model.mamba_fused import fused_mamba
from genoseq.model.ssm_state import RecurrentMixer
from genoseq.ops._dispatch import selective_scan, short_conv
from genoseq.ops.layout import contiguous_grad
from genoseq.ops.rows import fused_training_applicable

# The operators above are the dispatching public ones (the objects genoseq.ops exports), imported from
# _dispatch because loading the submodule genoseq.ops.selective_scan (or .short_conv) rebinds that
# package attribute to the submodule, after which `from genoseq.ops import ...` returns a module.


def check_positive(**values: int | float) -> None:
    """Raise ConfigError naming the first value that is not > 0."""
    for name, value in values.items():
        if not value > 0:
            raise ConfigError(f"{name} must be > 0, got {value!r}")


def check_conv_width(d_conv: int) -> None:
    if not isinstance(d_conv, int) or not 2 <= d_conv <= 4:
        raise ConfigError(f"d_conv must be an integer in 2..4, got {d_conv!r}")


def init_dt_bias(n: int, dt_min: float, dt_max: float, dt_init_floor: float = 1e-4) -> Tensor:
    """Inverse softplus of dt ~ log-uniform[dt_min, dt_max] (floored), so softplus(bias) starts there."""
    if not 0 < dt_min <= dt_max:
        raise ConfigError(f"need 0 < dt_min <= dt_max, got dt_min={dt_min}, dt_max={dt_max}")
    log_dt = torch.rand(n) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
    dt = torch.exp(log_dt).clamp(min=dt_init_floor)
    return dt + torch.log(-torch.expm1(-dt))  # softplus^-1(dt) = log(exp(dt) - 1)


def compute_dtype(t: Tensor) -> torch.dtype:
    """float64 stays float64; everything else accumulates in float32."""
    return torch.float64 if t.dtype == torch.float64 else torch.float32


class MambaMixer(RecurrentMixer):
    """Causal Mamba-1 mixer over (B, L, d_model) sequences; see the module docstring.

    Args:
        d_model: model width.  layer_idx: position of the block in the stack (kept for caches).
        d_state: N, state size per channel.  d_conv: causal conv taps (2..4).  expand: d_inner / d_model.
        dt_rank: rank of the dt projection, or "auto" = ceil(d_model / 16).
        dt_min, dt_max, dt_init_floor: range of the initial step size (log-uniform) and its floor.
        chunk_size: chunk length of the selective-scan kernel.
    """

    def __init__(
        self,
        d_model: int,
        layer_idx: int = 0,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        chunk_size: int = 64,
    ) -> None:
        super().__init__()
        check_positive(d_model=d_model, d_state=d_state, expand=expand, chunk_size=chunk_size)
        check_conv_width(d_conv)
        if dt_rank == "auto":
            dt_rank = math.ceil(d_model / 16)
        if not isinstance(dt_rank, int) or dt_rank < 1:
            raise ConfigError(f"dt_rank must be a positive integer or 'auto', got {dt_rank!r}")
        self.d_model, self.layer_idx = d_model, layer_idx
        self.d_state, self.d_conv, self.expand, self.dt_rank = d_state, d_conv, expand, dt_rank
        self.chunk_size = chunk_size
        self.d_inner = d_inner = expand * d_model

        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv_weight = nn.Parameter(torch.empty(d_inner, d_conv))
        self.conv_bias = nn.Parameter(torch.empty(d_inner))
        bound = 1.0 / math.sqrt(d_conv)  # nn.Conv1d's default for a depthwise conv
        nn.init.uniform_(self.conv_weight, -bound, bound)
        nn.init.uniform_(self.conv_bias, -bound, bound)
        self.x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, d_inner, bias=True)
        nn.init.uniform_(self.dt_proj.weight, -(dt_rank**-0.5), dt_rank**-0.5)
        with torch.no_grad():
            self.dt_proj.bias.copy_(init_dt_bias(d_inner, dt_min, dt_max, dt_init_floor))
        self.dt_proj.bias._no_reinit = True  # type: ignore[attr-defined]
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)  # (d_inner, N)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(d_inner))
        self.A_log._no_weight_decay = True  # type: ignore[attr-defined]
        self.D._no_weight_decay = True  # type: ignore[attr-defined]
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    # -- shared pieces -------------------------------------------------------------------------
    def _ssm_inputs(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """u (..., d_inner) -> delta (..., d_inner) before bias/softplus, B and C (..., N)."""
        x_dbl = self.x_proj(u)  # (..., dt_rank + 2N)
        dt_low, Bm, Cm = x_dbl.split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        return F.linear(dt_low, self.dt_proj.weight), Bm, Cm

    def _mix(
        self, x: Tensor, conv_state: Tensor | None, ssm_state: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """x (B, L, D) -> (y (B, L, D), new conv state, new ssm state)."""
        u, z = self.in_proj(x).chunk(2, dim=-1)  # (B, L, d_inner) each
        # (B, d_inner, L) contiguous: a transposed view would make every elementwise op of the conv and its
        # backward walk memory in two orders at once (~10x slower per element)
        u, conv_state = short_conv(
            u.transpose(1, 2).contiguous(), self.conv_weight, self.conv_bias, activation="silu", state=conv_state
        )  # (B, d_inner, L)
        # u feeds the scan and (transposed) x_proj: its summed gradient could arrive in x_proj's layout
        u = contiguous_grad(u)
        delta, Bm, Cm = self._ssm_inputs(u.transpose(1, 2))  # (B, L, d_inner), (B, L, N) x2
        y, ssm_state = selective_scan(
            u,
            delta.transpose(1, 2),
            -torch.exp(self.A_log.to(compute_dtype(x))),
            Bm.transpose(1, 2),
            Cm.transpose(1, 2),
            D=self.D,
            z=z.transpose(1, 2),
            delta_bias=self.dt_proj.bias,
            delta_softplus=True,
            initial_state=ssm_state,
            return_final_state=True,
            chunk_size=self.chunk_size,
        )  # (B, d_inner, L), (B, d_inner, N)
        # out_proj reads y transposed: its gradient comes back in (B, L, d_inner) order
        return self.out_proj(contiguous_grad(y).transpose(1, 2)), conv_state, ssm_state

    # -- public API -------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, d_model) -> (B, L, d_model), causal. CPU training steps take the fused path
        (genoseq.model.mamba_fused: one autograd node, hand-written backward); the rest ``_mix``."""
        if x.shape[1] and fused_training_applicable(self, x, ("selective_scan", "short_conv")):
            return fused_mamba(self, x)
        return self._mix(x, None, None)[0]

    def allocate_state(
        self, batch_size: int, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> dict[str, Tensor]:
        """Zero state: conv_state (B, d_inner, d_conv-1) in ``dtype``; ssm_state (B, d_inner, N) in
        float64 if ``dtype`` is float64 else float32. Defaults: the parameters' device and dtype."""
        return self._zero_state(batch_size, self.d_inner, (self.d_inner, self.d_state), device, dtype)

    def step(self, x_t: Tensor, state: dict[str, Tensor]) -> Tensor:
        """One token: x_t (B, d_model) -> (B, d_model); single-step recurrence, state updated."""
        u, z = self.in_proj(x_t).chunk(2, dim=-1)  # (B, d_inner) each
        u, conv_state = short_conv(
            u.unsqueeze(-1), self.conv_weight, self.conv_bias, activation="silu", state=state["conv_state"]
        )
        u = u.squeeze(-1)  # (B, d_inner)
        delta, Bm, Cm = self._ssm_inputs(u)  # (B, d_inner), (B, N), (B, N)
        dtype = state["ssm_state"].dtype
        dt = F.softplus(delta.to(dtype) + self.dt_proj.bias.to(dtype))  # (B, d_inner)
        A = -torch.exp(self.A_log.to(dtype))  # (d_inner, N)
        uc = u.to(dtype)
        decay = torch.exp(dt.unsqueeze(-1) * A)  # (B, d_inner, N)
        h = decay * state["ssm_state"] + (dt * uc).unsqueeze(-1) * Bm.to(dtype).unsqueeze(1)
        y = (h * Cm.to(dtype).unsqueeze(1)).sum(-1) + self.D.to(dtype) * uc  # (B, d_inner)
        y = y * F.silu(z.to(dtype))
        state["conv_state"] = conv_state.to(state["conv_state"].dtype)
        state["ssm_state"] = h
        return self.out_proj(y.to(x_t.dtype))
