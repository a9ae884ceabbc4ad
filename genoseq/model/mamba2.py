"""Mamba-2 mixer: state-space duality (SSD) block (Dao & Gu, 2024), causal.

    x (B, L, D) -> in_proj -> [z (d_inner), xBC (d_inner + 2 G N), dt (H)]
    xBC -> causal depthwise conv (d_conv taps) -> SiLU -> [x (H heads of head_dim P), B (G, N), C (G, N)]
    dt = softplus(dt + dt_bias) (H,)        A = -exp(A_log) (H,), one scalar decay per head
    y = ssd(x, dt, A, B, C, D) -> RMSNorm(y * silu(z)) * weight -> out_proj -> (B, L, D)

Heads h read B/C group h // (H // G). Recurrent state per layer: ``conv_state``
(B, d_inner + 2 G N, d_conv - 1) and ``ssm_state`` (B, H, P, N).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genoseq.errors import ConfigError
from genoseq.model.mamba import check_conv_width, check_positive, compute_dtype, init_dt_bias
from genoseq.model.mamba2_fused import fused_mamba2
from genoseq.model.norm import RMSNorm
from genoseq.model.ssm_state import RecurrentMixer
from genoseq.ops._dispatch import short_conv, ssd  # public dispatching operators; see model/mamba.py
from genoseq.ops.rows import fused_training_applicable

RMS_EPS = 1e-5


class Mamba2Mixer(RecurrentMixer):
    """Causal Mamba-2 (SSD) mixer over (B, L, d_model) sequences; see the module docstring.

    Args:
        d_model: model width.  layer_idx: position of the block in the stack.
        d_state: N, state size per head.  d_conv: causal conv taps (2..4).  expand: d_inner / d_model.
        head_dim: P, channels per head (d_inner must be a multiple of it).
        n_groups: G, number of B/C groups shared by heads (the head count must be a multiple of it).
        chunk_size: chunk length of the SSD algorithm.  dt_min, dt_max: range of the initial step size.
    """

    def __init__(
        self,
        d_model: int,
        layer_idx: int = 0,
        d_state: int = 64,
        d_conv: int = 4,
        expand: int = 2,
        head_dim: int = 64,
        n_groups: int = 1,
        chunk_size: int = 64,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
    ) -> None:
        super().__init__()
        check_positive(
            d_model=d_model,
            d_state=d_state,
            expand=expand,
            head_dim=head_dim,
            n_groups=n_groups,
            chunk_size=chunk_size,
        )
        check_conv_width(d_conv)
        d_inner = expand * d_model
        if d_inner % head_dim != 0:
            raise ConfigError(
                f"Mamba-2: d_inner = expand * d_model = {expand} * {d_model} = {d_inner} must be a multiple of "
                f"head_dim = {head_dim}"
            )
        n_heads = d_inner // head_dim
        if n_heads % n_groups != 0:
            raise ConfigError(
                f"Mamba-2: the number of heads ({n_heads}) must be a multiple of n_groups ({n_groups})"
            )
        self.d_model, self.layer_idx = d_model, layer_idx
        self.d_state, self.d_conv, self.expand = d_state, d_conv, expand
        self.head_dim, self.n_groups, self.n_heads, self.chunk_size = head_dim, n_groups, n_heads, chunk_size
        self.d_inner = d_inner
        self.conv_dim = d_inner + 2 * n_groups * d_state

        self.in_proj = nn.Linear(d_model, d_inner + self.conv_dim + n_heads, bias=False)
        self.conv_weight = nn.Parameter(torch.empty(self.conv_dim, d_conv))
        self.conv_bias = nn.Parameter(torch.empty(self.conv_dim))
        bound = 1.0 / math.sqrt(d_conv)
        nn.init.uniform_(self.conv_weight, -bound, bound)
        nn.init.uniform_(self.conv_bias, -bound, bound)
        self.dt_bias = nn.Parameter(init_dt_bias(n_heads, dt_min, dt_max))
        self.A_log = nn.Parameter(torch.log(torch.empty(n_heads).uniform_(1.0, 16.0)))
        self.D = nn.Parameter(torch.ones(n_heads))
        for p in (self.dt_bias, self.A_log, self.D):
            p._no_weight_decay = True  # type: ignore[attr-defined]
        self.dt_bias._no_reinit = True  # type: ignore[attr-defined]
        self.norm_weight = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    # -- shared pieces -------------------------------------------------------------------------
    def _gated_norm(self, y: Tensor, z: Tensor, out_dtype: torch.dtype) -> Tensor:
        """RMSNorm(y * silu(z)) * weight over the last axis (d_inner), in float32 or float64."""
        g = y * F.silu(z.to(y.dtype))
        g = g * torch.rsqrt(g.square().mean(-1, keepdim=True) + RMS_EPS)
        return (g * self.norm_weight.to(g.dtype)).to(out_dtype)

    def _split_xbc(self, xbc: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """xbc (..., conv_dim) -> x (..., H, P), B (..., G, N), C (..., G, N)."""
        gn = self.n_groups * self.d_state
        xs, Bm, Cm = xbc.split([self.d_inner, gn, gn], dim=-1)
        lead = xbc.shape[:-1]
        return (
            xs.reshape(*lead, self.n_heads, self.head_dim),
            Bm.reshape(*lead, self.n_groups, self.d_state),
            Cm.reshape(*lead, self.n_groups, self.d_state),
        )

    def _mix(
        self, x: Tensor, conv_state: Tensor | None, ssm_state: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """x (B, L, D) -> (y (B, L, D), new conv state, new ssm state)."""
        batch, length, _ = x.shape
        cdt = compute_dtype(x)
        z, xbc, dt = self.in_proj(x).split([self.d_inner, self.conv_dim, self.n_heads], dim=-1)
        xbc, conv_state = short_conv(
            xbc.transpose(1, 2), self.conv_weight, self.conv_bias, activation="silu", state=conv_state
        )  # (B, conv_dim, L)
        xs, Bm, Cm = self._split_xbc(xbc.transpose(1, 2))  # (B, L, H, P), (B, L, G, N) x2
        dt = F.softplus(dt.to(cdt) + self.dt_bias.to(cdt))  # (B, L, H)
        y, ssm_state = ssd(
            xs,
            dt,
            -torch.exp(self.A_log.to(cdt)),
            Bm,
            Cm,
            D=self.D,
            initial_state=ssm_state,
            return_final_state=True,
            chunk_size=self.chunk_size,
        )  # (B, L, H, P), (B, H, P, N)
        y = self._gated_norm(y.reshape(batch, length, self.d_inner).to(cdt), z, x.dtype)  # (B, L, d_inner)
        return self.out_proj(y), conv_state, ssm_state

    # -- public API -------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, d_model) -> (B, L, d_model), causal. CPU training steps take the fused path
        (genoseq.model.mamba2_fused: one autograd node, hand-written backward); the rest ``_mix``."""
        if x.shape[1] and fused_training_applicable(self, x, ("ssd", "short_conv")):
            return fused_mamba2(self, x)
        return self._mix(x, None, None)[0]

    def fuses_rms_residual(self, h: Tensor, norm: RMSNorm) -> bool:
        """Whether :meth:`forward_residual_rms` applies: the fused training path for h (B, L, d_model) and a
        genoseq RMSNorm whose row-wise form holds for h."""
        return bool(h.shape[1]) and fused_training_applicable(self, h, ("ssd", "short_conv")) and norm.rows_form(h)

    def forward_residual_rms(self, h: Tensor, norm: RMSNorm) -> Tensor:
        """h + self(norm(h)) as one fused op (callers check fuses_rms_residual): the normalised input is
        made block by block inside the op, never whole."""
        return fused_mamba2(self, h, pre_norm=(norm.weight, norm.eps), residual=True)

    def allocate_state(
        self, batch_size: int, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> dict[str, Tensor]:
        """Zero state: conv_state (B, conv_dim, d_conv-1) in ``dtype``; ssm_state (B, H, P, N) in
        float64 if ``dtype`` is float64 else float32. Defaults: the parameters' device and dtype."""
        return self._zero_state(batch_size, self.conv_dim, (self.n_heads, self.head_dim, self.d_state), device, dtype)

    def step(self, x_t: Tensor, state: dict[str, Tensor]) -> Tensor:
        """One token: x_t (B, d_model) -> (B, d_model); single-step recurrence, state updated."""
        dtype = state["ssm_state"].dtype
        z, xbc, dt = self.in_proj(x_t).split([self.d_inner, self.conv_dim, self.n_heads], dim=-1)
        xbc, conv_state = short_conv(
            xbc.unsqueeze(-1), self.conv_weight, self.conv_bias, activation="silu", state=state["conv_state"]
        )
        xs, Bm, Cm = self._split_xbc(xbc.squeeze(-1).to(dtype))  # (B, H, P), (B, G, N) x2
        heads_per_group = self.n_heads // self.n_groups
        Bh = Bm.repeat_interleave(heads_per_group, dim=1)  # (B, H, N)
        Ch = Cm.repeat_interleave(heads_per_group, dim=1)  # (B, H, N)
        dt = F.softplus(dt.to(dtype) + self.dt_bias.to(dtype))  # (B, H)
        decay = torch.exp(dt * -torch.exp(self.A_log.to(dtype)))  # (B, H)
        h = decay[..., None, None] * state["ssm_state"] + (dt[..., None] * xs).unsqueeze(-1) * Bh.unsqueeze(2)
        y = torch.matmul(h, Ch.unsqueeze(-1)).squeeze(-1) + self.D.to(dtype)[:, None] * xs  # (B, H, P)
        state["conv_state"] = conv_state.to(state["conv_state"].dtype)
        state["ssm_state"] = h  # (B, H, P, N)
        y = self._gated_norm(y.reshape(x_t.shape[0], self.d_inner), z, x_t.dtype)  # (B, d_inner)
        return self.out_proj(y)
