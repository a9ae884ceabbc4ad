"""Mamba-1 selective scan: a sequential oracle and a chunked, memory-bounded CPU path.

Recurrence, per batch row ``b``, channel ``d`` and state index ``n``::

    dt_t = softplus(delta_t + delta_bias)   (or delta_t + delta_bias without softplus)
    h_t  = exp(dt_t * A[d, n]) * h_{t-1} + dt_t * B_t[n] * u_t
    y_t  = sum_n C_t[n] * h_t[n] + D[d] * u_t ;   y_t *= silu(z_t) when z is given

:func:`selective_scan_ref` runs it one step at a time (the oracle). :func:`selective_scan`
computes the same thing in *blocks* of the sequence (a bounded number of elements at a time,
state carried between blocks, recomputed in backward when gradients are needed) and inside a
block in *chunks* of ``chunk_size`` steps: a short loop over the steps of a chunk advances all
chunks of the block at once from a zero state, a loop over the chunks passes the true state
from chunk to chunk, and a closed-form correction ``exp(cumsum(dt) * A) * h_chunk_start`` adds
it to every step. Only plain torch ops are used, so autograd works through it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from genoseq.errors import ConfigError

__all__ = ["selective_scan", "selective_scan_ref"]

# Largest number of (batch x channel x step x state) elements one block materialises at once.
BLOCK_ELEMENTS = 1 << 20
LOG2_E = 1.4426950408889634


def _compute_dtype(t: Tensor) -> torch.dtype:
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def _check_shapes(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor
) -> tuple[int, int, int, int, int]:
    if u.dim() != 3 or delta.shape != u.shape:
        raise ConfigError(
            f"u and delta must both be (B, Dm, L); got {tuple(u.shape)} and {tuple(delta.shape)}"
        )
    batch, dm, length = u.shape
    if A.dim() != 2 or A.shape[0] != dm:
        raise ConfigError(f"A must be (Dm={dm}, N); got {tuple(A.shape)}")
    n = A.shape[1]
    for name, t in (("B", B), ("C", C)):
        ok = (t.dim() == 3 and t.shape == (batch, n, length)) or (
            t.dim() == 4 and t.shape[0] == batch and t.shape[2:] == (n, length)
        )
        if not ok:
            raise ConfigError(
                f"{name} must be (B={batch}, N={n}, L={length}) or (B, G, N, L); got {tuple(t.shape)}"
            )
    groups = B.shape[1] if B.dim() == 4 else 1
    groups_c = C.shape[1] if C.dim() == 4 else 1
    if groups != groups_c or dm % groups != 0:
        raise ConfigError(
            f"B and C must have the same number of groups G dividing Dm={dm}; got {groups}, {groups_c}"
        )
    return batch, dm, length, n, groups


def _discretize_dt(
    delta: Tensor, delta_bias: Tensor | None, delta_softplus: bool, dtype: torch.dtype
) -> Tensor:
    dt = delta.to(dtype)
    if delta_bias is not None:
        dt = dt + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        dt = F.softplus(dt)
    return dt


def _finish(y: Tensor, u: Tensor, D: Tensor | None, z: Tensor | None) -> Tensor:
    """Skip connection and SiLU gate (all in the compute dtype). y, u, z: (B, Dm, L)."""
    if D is not None:
        y = y + D.to(y.dtype)[:, None] * u.to(y.dtype)
    if z is not None:
        y = y * F.silu(z.to(y.dtype))
    return y


def selective_scan_ref(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    initial_state: Tensor | None = None,
    return_final_state: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Sequential selective scan (oracle): a Python loop over the L steps.

    Args:
        u, delta: (B, Dm, L) input and raw step size.
        A: (Dm, N) real, negative (callers pass ``-exp(A_log)``).
        B, C: (B, N, L), or grouped (B, G, N, L) where channel d uses group ``d // (Dm // G)``.
        D: (Dm,) skip weights or None.  z: (B, Dm, L) gate or None.
        delta_bias: (Dm,) added to delta before the optional softplus.
        initial_state: (B, Dm, N) state before the first step (zeros when None).
        return_final_state: also return the state after the last step.

    Returns:
        y (B, Dm, L) in u's dtype, and the final state (B, Dm, N) in the compute dtype
        (float64 for float64 inputs, float32 otherwise) when asked.
    """
    batch, dm, length, n, groups = _check_shapes(u, delta, A, B, C)
    dtype = _compute_dtype(u)
    dt = _discretize_dt(delta, delta_bias, delta_softplus, dtype)  # (B, Dm, L)
    uc = u.to(dtype)
    Ac = A.to(dtype)
    Bg = (
        (B if B.dim() == 4 else B.unsqueeze(1)).to(dtype).repeat_interleave(dm // groups, dim=1)
    )  # (B, Dm, N, L)
    Cg = (
        (C if C.dim() == 4 else C.unsqueeze(1)).to(dtype).repeat_interleave(dm // groups, dim=1)
    )  # (B, Dm, N, L)
    h = u.new_zeros(batch, dm, n, dtype=dtype) if initial_state is None else initial_state.to(dtype)
    ys = []
    for t in range(length):
        dt_t = dt[:, :, t, None]  # (B, Dm, 1)
        h = torch.exp(dt_t * Ac) * h + (dt_t * uc[:, :, t, None]) * Bg[:, :, :, t]  # (B, Dm, N)
        ys.append((h * Cg[:, :, :, t]).sum(-1))  # (B, Dm)
    y = torch.stack(ys, dim=-1) if ys else uc.new_zeros(batch, dm, 0)  # (B, Dm, L)
    y = _finish(y, u, D, z).to(u.dtype)
    return (y, h) if return_final_state else y


def _scan_block(
    dt: Tensor, du: Tensor, A2: Tensor, B: Tensor, C: Tensor, h0: Tensor, chunk: int
) -> tuple[Tensor, Tensor]:
    """Scan one block of the sequence; no D/z. Shapes use G groups of Dg channels.

    dt, du: (B, G, Dg, Lb) step size and dt*u;  A2: (G, N, Dg) = A * log2(e), transposed;
    B, C: (B, G, N, Lb);  h0: (B, G, N, Dg). Returns y (B, G, Dg, Lb) and the state after the
    block (B, G, N, Dg). States are kept N-major (N before Dg): reductions over N then run along
    contiguous rows, and exp2 is used because it is several times faster than exp on CPU.
    """
    batch, groups, dg, lb = dt.shape
    n = A2.shape[1]
    nc = -(-lb // chunk)
    pad = nc * chunk - lb
    if pad:  # dt = 0 steps leave the state unchanged (decay 1, no input): the final state stays exact
        dt, du, B, C = (F.pad(t, (0, pad)) for t in (dt, du, B, C))
    T = chunk
    # Step-major contiguous layouts (elementwise ops follow their inputs' memory order), so that each
    # step of the in-chunk loops reads one contiguous slab.
    dt_s = (
        dt.reshape(batch, groups, dg, nc, T).permute(4, 0, 1, 3, 2).contiguous().unsqueeze(-2)
    )  # (T, B, G, nc, 1, Dg)
    du_s = (
        du.reshape(batch, groups, dg, nc, T).permute(4, 0, 1, 3, 2).contiguous().unsqueeze(-2)
    )  # (T, B, G, nc, 1, Dg)
    B_s = (
        B.reshape(batch, groups, n, nc, T).permute(4, 0, 1, 3, 2).contiguous().unsqueeze(-1)
    )  # (T, B, G, nc, N, 1)
    C_s = (
        C.reshape(batch, groups, n, nc, T).permute(4, 0, 1, 3, 2).contiguous().unsqueeze(-1)
    )  # (T, B, G, nc, N, 1)
    A_b = A2.unsqueeze(1)  # (G, 1, N, Dg)
    decay = torch.exp2(dt_s * A_b)  # (T, B, G, nc, N, Dg)
    inp = du_s * B_s  # (T, B, G, nc, N, Dg)
    # unbind (not indexing) so that backward stacks the per-step gradients once
    decay_t, inp_t = decay.unbind(0), inp.unbind(0)
    # 1) every chunk of the block at once from a zero state: the state each chunk adds by its end
    h = inp_t[0]
    for t in range(1, T):
        h = torch.addcmul(inp_t[t], decay_t[t], h)  # (B, G, nc, N, Dg)
    # 2) pass the true state from chunk to chunk (decay over a whole chunk: 2^(sum(dt) * A2))
    chunk_decay = torch.exp2(dt_s.sum(0) * A_b)  # (B, G, nc, N, Dg)
    carry = h0
    starts = []
    for h_c, decay_c in zip(h.unbind(2), chunk_decay.unbind(2), strict=True):
        starts.append(carry)
        carry = torch.addcmul(h_c, decay_c, carry)  # (B, G, N, Dg)
    # 3) rerun the steps of every chunk from its true start, then read out y_t = C_t . h_t
    h = torch.stack(starts, dim=2)  # (B, G, nc, N, Dg)
    hs = []
    for t in range(T):
        h = torch.addcmul(inp_t[t], decay_t[t], h)  # (B, G, nc, N, Dg)
        hs.append(h)
    y = (torch.stack(hs) * C_s).sum(-2)  # (T, B, G, nc, Dg)
    y = y.permute(1, 2, 4, 3, 0).reshape(batch, groups, dg, nc * T)[..., :lb]  # (B, G, Dg, Lb)
    return y, carry


def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    initial_state: Tensor | None = None,
    return_final_state: bool = False,
    chunk_size: int = 64,
    block_len: int | None = None,
    recompute: bool | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Chunked selective scan (same arguments and results as :func:`selective_scan_ref`).

    Extra args:
        chunk_size: steps per chunk (the in-chunk loop length; ~16-128 is fast on CPU).
        block_len: steps processed per block (a multiple of chunk_size). Default: as many as keep
            one (B, Dm, block_len, N) tensor under ``BLOCK_ELEMENTS`` elements, so memory stays
            linear in L with a small constant.
        recompute: recompute each block in backward instead of keeping its intermediates
            (default: when gradients are needed and there is more than one block).
    """
    batch, dm, length, n, groups = _check_shapes(u, delta, A, B, C)
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    dtype = _compute_dtype(u)
    dg = dm // groups
    dt = _discretize_dt(delta, delta_bias, delta_softplus, dtype)  # (B, Dm, L)
    du = dt * u.to(dtype)
    dt_g = dt.reshape(batch, groups, dg, length)
    du_g = du.reshape(batch, groups, dg, length)
    A2 = (A.to(dtype) * LOG2_E).reshape(groups, dg, n).transpose(1, 2)  # (G, N, Dg)
    B_g = (B if B.dim() == 4 else B.unsqueeze(1)).to(dtype)  # (B, G, N, L)
    C_g = (C if C.dim() == 4 else C.unsqueeze(1)).to(dtype)  # (B, G, N, L)
    if initial_state is None:
        h = u.new_zeros(batch, groups, n, dg, dtype=dtype)
    else:
        h = initial_state.to(dtype).reshape(batch, groups, dg, n).transpose(2, 3)  # (B, G, N, Dg)
    chunk = min(chunk_size, max(length, 1))
    if block_len is None:
        block_len = max(1, BLOCK_ELEMENTS // max(1, batch * dm * n * chunk)) * chunk
    block_len = max(chunk, block_len // chunk * chunk)
    n_blocks = -(-length // block_len)
    if recompute is None:
        recompute = (
            n_blocks > 1
            and torch.is_grad_enabled()
            and any(t is not None and t.requires_grad for t in (u, delta, A, B, C, delta_bias, initial_state))
        )
    ys = []
    for start in range(0, length, block_len):
        sl = slice(start, min(start + block_len, length))
        args = (dt_g[..., sl], du_g[..., sl], A2, B_g[..., sl], C_g[..., sl], h)
        if recompute:
            y_blk, h = checkpoint(_scan_block, *args, chunk, use_reentrant=False)
        else:
            y_blk, h = _scan_block(*args, chunk)
        ys.append(y_blk)
    y = torch.cat(ys, dim=-1) if ys else dt_g.new_zeros(batch, groups, dg, 0)
    y = _finish(y.reshape(batch, dm, length), u, D, z).to(u.dtype)
    return (y, h.transpose(2, 3).reshape(batch, dm, n)) if return_final_state else y
