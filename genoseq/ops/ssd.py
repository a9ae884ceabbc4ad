"""Mamba-2 state-space duality (SSD): oracles and the chunked algorithm.

Recurrence, per batch row and head ``h`` (scalar decay per head, heads share B/C within a group)::

    H_t = exp(dt_t * A[h]) * H_{t-1} + dt_t * x_t B_t^T      H_t: (P, N)
    y_t = H_t C_t + D[h] * x_t

Three implementations of the same map:

* :func:`ssd_ref` - the quadratic ("attention-like") form over the whole sequence:
  ``y = (exp(segsum(dt*A)) * C B^T) (dt x) + D x`` plus the initial-state term. Oracle for small L.
* :func:`ssd_sequential` - a Python loop over the steps. Oracle.
* :func:`ssd` - the chunked SSD algorithm: quadratic form inside chunks of ``chunk_size``
  steps, chunk-end states passed from chunk to chunk, and the state-to-output term added
  back. The sequence is processed in blocks of a bounded number of elements (state carried
  between blocks, recomputed in backward when gradients are needed), so memory stays linear
  in L with a small constant. Plain torch ops: autograd works through it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from genoseq.errors import ConfigError

__all__ = ["ssd", "ssd_ref", "ssd_sequential"]

# Largest number of elements one block's biggest intermediate may hold.
BLOCK_ELEMENTS = 1 << 22


def _compute_dtype(t: Tensor) -> torch.dtype:
    return torch.float64 if t.dtype == torch.float64 else torch.float32


def _check_shapes(
    x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor
) -> tuple[int, int, int, int, int, int]:
    if x.dim() != 4:
        raise ConfigError(f"x must be (B, L, H, P); got {tuple(x.shape)}")
    batch, length, heads, p = x.shape
    if dt.shape != (batch, length, heads):
        raise ConfigError(f"dt must be (B={batch}, L={length}, H={heads}); got {tuple(dt.shape)}")
    if A.shape != (heads,):
        raise ConfigError(f"A must be (H={heads},); got {tuple(A.shape)}")
    if B.dim() != 4 or B.shape[:2] != (batch, length) or C.shape != B.shape:
        raise ConfigError(
            f"B and C must both be (B={batch}, L={length}, G, N); got {tuple(B.shape)} and {tuple(C.shape)}"
        )
    groups, n = B.shape[2], B.shape[3]
    if heads % groups != 0:
        raise ConfigError(
            f"the number of heads ({heads}) must be a multiple of the number of groups ({groups})"
        )
    return batch, length, heads, p, groups, n


def _with_skip(y: Tensor, x: Tensor, D: Tensor | None) -> Tensor:
    """y, x: (B, L, H, P); D: (H,)."""
    if D is not None:
        y = y + D.to(y.dtype)[:, None] * x.to(y.dtype)
    return y


def _expand_groups(t: Tensor, heads: int) -> Tensor:
    """(B, L, G, N) -> (B, L, H, N), head h reading group h // (H // G)."""
    return t.repeat_interleave(heads // t.shape[2], dim=2)


def ssd_ref(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    initial_state: Tensor | None = None,
    return_final_state: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Quadratic (masked attention-like) SSD over the whole sequence: O(L^2) memory, an oracle.

    Args:
        x: (B, L, H, P) inputs.  dt: (B, L, H) positive step sizes (softplus and bias applied).
        A: (H,) negative decay rates.  B, C: (B, L, G, N) with H % G == 0.  D: (H,) or None.
        initial_state: (B, H, P, N) or None (zeros).  return_final_state: also return (B, H, P, N).

    Returns:
        y (B, L, H, P) in x's dtype [, final state in the compute dtype (float64 or float32)].
    """
    batch, length, heads, p, groups, n = _check_shapes(x, dt, A, B, C)
    dtype = _compute_dtype(x)
    xc, dtc = x.to(dtype), dt.to(dtype)
    Bh = _expand_groups(B.to(dtype), heads)  # (B, L, H, N)
    Ch = _expand_groups(C.to(dtype), heads)  # (B, L, H, N)
    acum = torch.cumsum(dtc * A.to(dtype), dim=1).transpose(1, 2)  # (B, H, L)
    diff = acum[:, :, :, None] - acum[:, :, None, :]  # (B, H, L_t, L_s)
    causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
    decay = torch.exp(diff.masked_fill(~causal, float("-inf")))  # (B, H, L, L)
    scores = torch.einsum("bthn,bshn->bhts", Ch, Bh) * decay * dtc.permute(0, 2, 1)[:, :, None, :]
    y = torch.einsum("bhts,bshp->bthp", scores, xc)  # (B, L, H, P)
    if initial_state is not None:
        h0 = initial_state.to(dtype)
        y = y + torch.einsum("bthn,bhpn->bthp", Ch, h0) * acum.exp().transpose(1, 2)[..., None]
    y = _with_skip(y, x, D).to(x.dtype)
    if not return_final_state:
        return y
    to_end = torch.exp(acum[:, :, -1:] - acum) if length else acum  # (B, H, L)
    final = torch.einsum("bhs,bsh,bshp,bshn->bhpn", to_end, dtc, xc, Bh)  # (B, H, P, N)
    if initial_state is not None:
        total = acum[:, :, -1] if length else acum.new_zeros(batch, heads)
        final = final + total.exp()[:, :, None, None] * initial_state.to(dtype)
    return y, final


def ssd_sequential(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    initial_state: Tensor | None = None,
    return_final_state: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Step-by-step SSD recurrence (oracle); same arguments and results as :func:`ssd_ref`."""
    batch, length, heads, p, groups, n = _check_shapes(x, dt, A, B, C)
    dtype = _compute_dtype(x)
    xc, dtc, Ac = x.to(dtype), dt.to(dtype), A.to(dtype)
    Bh = _expand_groups(B.to(dtype), heads)  # (B, L, H, N)
    Ch = _expand_groups(C.to(dtype), heads)  # (B, L, H, N)
    h = xc.new_zeros(batch, heads, p, n) if initial_state is None else initial_state.to(dtype)
    ys = []
    for t in range(length):
        decay = torch.exp(dtc[:, t] * Ac)[:, :, None, None]  # (B, H, 1, 1)
        inp = (dtc[:, t, :, None] * xc[:, t])[..., None] * Bh[:, t, :, None, :]  # (B, H, P, N)
        h = decay * h + inp
        ys.append(torch.einsum("bhpn,bhn->bhp", h, Ch[:, t]))
    y = torch.stack(ys, dim=1) if ys else xc.new_zeros(batch, 0, heads, p)  # (B, L, H, P)
    y = _with_skip(y, x, D).to(x.dtype)
    return (y, h) if return_final_state else y


def _ssd_block(
    x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, h0: Tensor, chunk: int
) -> tuple[Tensor, Tensor]:
    """Chunked SSD over one block (no D term). G groups of Hg heads.

    x: (B, Lb, G, Hg, P);  dt: (B, Lb, G, Hg);  A: (G, Hg);  B, C: (B, Lb, G, N);
    h0: (B, G, Hg, P, N). Returns y (B, Lb, G, Hg, P) and the state after the block.
    """
    batch, lb, groups, hg, p = x.shape
    n = B.shape[-1]
    nc = -(-lb // chunk)
    pad = nc * chunk - lb
    if pad:  # dt = 0, x = 0 steps leave the state unchanged
        x = F.pad(x, (0, 0, 0, 0, 0, 0, 0, pad))
        dt = F.pad(dt, (0, 0, 0, 0, 0, pad))
        B = F.pad(B, (0, 0, 0, 0, 0, pad))
        C = F.pad(C, (0, 0, 0, 0, 0, pad))
    T = chunk
    # contiguous step layouts: elementwise ops follow their inputs' memory order
    xs = x.reshape(batch, nc, T, groups, hg, p).permute(0, 1, 3, 4, 2, 5).contiguous()  # (B, nc, G, Hg, T, P)
    dts = dt.reshape(batch, nc, T, groups, hg).permute(0, 1, 3, 4, 2).contiguous()  # (B, nc, G, Hg, T)
    Bs = B.reshape(batch, nc, T, groups, n).permute(0, 1, 3, 2, 4).unsqueeze(3)  # (B, nc, G, 1, T, N)
    Cs = C.reshape(batch, nc, T, groups, n).permute(0, 1, 3, 2, 4).unsqueeze(3)  # (B, nc, G, 1, T, N)
    acum = torch.cumsum(dts * A[:, :, None], dim=-1)  # (B, nc, G, Hg, T)
    # 1) inside each chunk: the masked quadratic form
    causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
    diff = acum[..., :, None] - acum[..., None, :]  # (B, nc, G, Hg, T, T)
    decay = torch.exp(diff.masked_fill(~causal, float("-inf")))
    cb = torch.matmul(Cs, Bs.transpose(-1, -2))  # (B, nc, G, 1, T, T)
    xdt = xs * dts[..., None]  # (B, nc, G, Hg, T, P)
    y = torch.matmul(cb * decay, xdt)  # (B, nc, G, Hg, T, P)
    # 2) each chunk's own contribution to the state at its end
    to_end = torch.exp(acum[..., -1:] - acum)  # (B, nc, G, Hg, T)
    states = torch.matmul((xdt * to_end[..., None]).transpose(-1, -2), Bs)  # (B, nc, G, Hg, P, N)
    # 3) pass the state from chunk to chunk
    chunk_decay = torch.exp(acum[..., -1])[..., None, None]  # (B, nc, G, Hg, 1, 1)
    h = h0
    starts = []
    for state_c, decay_c in zip(
        states.unbind(1), chunk_decay.unbind(1), strict=True
    ):  # unbind: cheap backward
        starts.append(h)
        h = torch.addcmul(state_c, decay_c, h)  # (B, G, Hg, P, N)
    h_start = torch.stack(starts, dim=1)  # (B, nc, G, Hg, P, N)
    # 4) the state at each chunk start, decayed to each step and read out by C
    y = y + torch.matmul(Cs, h_start.transpose(-1, -2)) * torch.exp(acum)[..., None]  # (B, nc, G, Hg, T, P)
    y = y.permute(0, 1, 4, 2, 3, 5).reshape(batch, nc * T, groups, hg, p)[:, :lb]  # (B, Lb, G, Hg, P)
    return y, h


def ssd(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    initial_state: Tensor | None = None,
    return_final_state: bool = False,
    chunk_size: int = 64,
    block_len: int | None = None,
    recompute: bool | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """Chunked SSD (same arguments and results as :func:`ssd_ref`).

    Extra args:
        chunk_size: steps per chunk of the quadratic form.
        block_len: steps per block (a multiple of chunk_size; default keeps each block's largest
            intermediate under ``BLOCK_ELEMENTS`` elements).
        recompute: recompute each block in backward instead of keeping its intermediates
            (default: when gradients are needed and there is more than one block).
    """
    batch, length, heads, p, groups, n = _check_shapes(x, dt, A, B, C)
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    dtype = _compute_dtype(x)
    hg = heads // groups
    xg = x.to(dtype).reshape(batch, length, groups, hg, p)
    dtg = dt.to(dtype).reshape(batch, length, groups, hg)
    Ag = A.to(dtype).reshape(groups, hg)
    Bc, Cc = B.to(dtype), C.to(dtype)
    if initial_state is None:
        h = xg.new_zeros(batch, groups, hg, p, n)
    else:
        h = initial_state.to(dtype).reshape(batch, groups, hg, p, n)
    chunk = min(chunk_size, max(length, 1))
    if block_len is None:
        per_step = batch * heads * max(chunk, p, p * n // chunk, 1)
        block_len = max(1, BLOCK_ELEMENTS // (per_step * chunk)) * chunk
    block_len = max(chunk, block_len // chunk * chunk)
    n_blocks = -(-length // block_len)
    if recompute is None:
        recompute = (
            n_blocks > 1
            and torch.is_grad_enabled()
            and any(t is not None and t.requires_grad for t in (x, dt, A, B, C, initial_state))
        )
    ys = []
    # split (not slicing): its backward concatenates the block gradients once
    pieces = [t.split(block_len, dim=1) for t in (xg, dtg, Bc, Cc)] if length else [()] * 4
    for x_b, dt_b, B_b, C_b in zip(*pieces, strict=True):
        args = (x_b, dt_b, Ag, B_b, C_b, h)
        if recompute:
            y_blk, h = checkpoint(_ssd_block, *args, chunk, use_reentrant=False)
        else:
            y_blk, h = _ssd_block(*args, chunk)
        ys.append(y_blk)
    y = torch.cat(ys, dim=1) if ys else xg.new_zeros(batch, 0, groups, hg, p)
    y = _with_skip(y.reshape(batch, length, heads, p), x, D).to(x.dtype)
    return (y, h.reshape(batch, heads, p, n)) if return_final_state else y
