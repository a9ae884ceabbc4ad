"""Multi-head / grouped-query attention with rotary embeddings (SDPA), causal or bidirectional,
optional sliding window, and a KV cache for step / forward_chunk."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def rotary(x: Tensor, positions: Tensor, base: float) -> Tensor:
    """Rotate pairs (first half, second half) of the head dim by position-dependent angles.
    x (B, H, L, hd); positions (L,) absolute positions."""
    hd = x.shape[-1]
    cdt = torch.float64 if x.dtype == torch.float64 else torch.float32
    inv = base ** (-torch.arange(0, hd, 2, device=x.device, dtype=cdt) / hd)  # (hd/2,)
    ang = positions.to(cdt)[:, None] * inv[None, :]  # (L, hd/2)
    cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class AttentionMixer(nn.Module):
    """Attention over (B, L, D). Args (AttentionConfig fields): n_heads, n_kv_heads, rope_base, window;
    plus causal (False for bidirectional models)."""

    def __init__(self, d_model: int, layer_idx: int, n_heads: int = 4, n_kv_heads: int | None = None,
                 rope_base: float = 10000.0, window: int | None = None, causal: bool = True,
                 n_layer: int = 1) -> None:
        super().__init__()
        self.d_model, self.layer_idx, self.causal, self.window = d_model, layer_idx, causal, window
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads or n_heads
        self.head_dim = d_model // n_heads
        self.rope_base = rope_base
        self.qkv = nn.Linear(d_model, (self.n_heads + 2 * self.n_kv_heads) * self.head_dim, bias=False)
        self.out_proj = nn.Linear(d_model, d_model, bias=False)
        nn.init.normal_(self.qkv.weight, std=0.02)
        nn.init.normal_(self.out_proj.weight, std=0.02 / math.sqrt(2 * n_layer))

    def _qkv(self, x: Tensor, positions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        B, L, _ = x.shape
        hd = self.head_dim
        q, k, v = self.qkv(x).split([self.n_heads * hd, self.n_kv_heads * hd, self.n_kv_heads * hd], dim=-1)
        q = q.view(B, L, self.n_heads, hd).transpose(1, 2)  # (B, H, L, hd)
        k = k.view(B, L, self.n_kv_heads, hd).transpose(1, 2)  # (B, Hkv, L, hd)
        v = v.view(B, L, self.n_kv_heads, hd).transpose(1, 2)
        return rotary(q, positions, self.rope_base), rotary(k, positions, self.rope_base), v

    def _mask(self, q_pos: Tensor, k_pos: Tensor) -> Tensor | None:
        """Boolean (Lq, Lk) mask of allowed pairs, or None when plain causal/full attention applies."""
        diff = q_pos[:, None] - k_pos[None, :]  # (Lq, Lk)
        allowed = torch.ones_like(diff, dtype=torch.bool)
        if self.causal:
            allowed &= diff >= 0
        if self.window is not None:
            allowed &= (diff < self.window) if self.causal else (diff.abs() < self.window)
        return allowed

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, is_causal: bool) -> Tensor:
        gqa = self.n_kv_heads != self.n_heads
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal, enable_gqa=gqa)
        B, _, L, _ = y.shape
        return self.out_proj(y.transpose(1, 2).reshape(B, L, self.d_model))

    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, D) -> (B, L, D)."""
        L = x.shape[1]
        pos = torch.arange(L, device=x.device)
        q, k, v = self._qkv(x, pos)
        if self.window is None:
            return self._attend(q, k, v, None, self.causal)
        return self._attend(q, k, v, self._mask(pos, pos), False)

    # ------------------------------------------------------------------ KV cache
    def allocate_state(self, batch_size: int, device=None, dtype=None) -> dict[str, Tensor]:
        """Empty KV cache (B, Hkv, 0, hd) and the absolute position counter."""
        if not self.causal:
            raise RuntimeError("a bidirectional attention mixer has no causal state")
        device = device if device is not None else self.qkv.weight.device
        dtype = dtype or self.qkv.weight.dtype
        empty = torch.zeros(batch_size, self.n_kv_heads, 0, self.head_dim, device=device, dtype=dtype)
        return {"k": empty, "v": empty.clone(), "pos": torch.zeros((), dtype=torch.long, device=device)}

    def forward_chunk(self, x: Tensor, state: dict[str, Tensor]) -> Tensor:
        """Attend x (B, Lc, D) to the cache plus itself; append to the cache (keeping only the window)."""
        Lc = x.shape[1]
        p0 = int(state["pos"])
        q_pos = torch.arange(p0, p0 + Lc, device=x.device)
        q, k, v = self._qkv(x, q_pos)
        k_all = torch.cat([state["k"].to(k.dtype), k], dim=2)  # (B, Hkv, T, hd)
        v_all = torch.cat([state["v"].to(v.dtype), v], dim=2)
        T = k_all.shape[2]
        k_pos = torch.arange(p0 + Lc - T, p0 + Lc, device=x.device)
        y = self._attend(q, k_all, v_all, self._mask(q_pos, k_pos), False)
        keep = T if self.window is None else min(T, self.window - 1)
        state["k"], state["v"] = k_all[:, :, T - keep :], v_all[:, :, T - keep :]
        state["pos"] = state["pos"] + Lc
        return y

    def step(self, x_t: Tensor, state: dict[str, Tensor]) -> Tensor:
        """x_t (B, D) -> y_t (B, D)."""
        return self.forward_chunk(x_t[:, None], state)[:, 0]
