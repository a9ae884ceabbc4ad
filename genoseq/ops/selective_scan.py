"""Mamba-1 selective scan: a sequential oracle and a chunked, memory-bounded CPU path.

Recurrence, per batch row ``b``, channel ``d`` and state index ``n``::

    dt_t = softplus(delta_t + delta_bias)   (or delta_t + delta_bias without softplus)
    h_t  = exp(dt_t * A[d, n]) * h_{t-1} + dt_t * B_t[n] * u_t
    y_t  = sum_n C_t[n] * h_t[n] + D[d] * u_t ;   y_t *= silu(z_t) when z is given

:func:`selective_scan_ref` runs it one step at a time (the oracle). :func:`selective_scan`
computes the same thing in *blocks* of the sequence (at most ``BLOCK_ELEMENTS`` state elements
at a time, the state carried from block to block) and inside a block in *chunks* of
``chunk_size`` steps: a loop over the T steps of a chunk advances all chunks of the block at once
from a zero state, a loop over the chunks passes the true state from chunk to chunk, and the T
steps are rerun from the true chunk starts. The per-block autograd function saves only its
inputs; backward recomputes the states and runs the adjoint recurrence (the same chunked scan,
backwards in time), so training memory is linear in L without the factor N.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from genoseq.errors import ConfigError

__all__ = ["selective_scan", "selective_scan_ref"]

# Largest number of (batch x channel x step x state) elements one block materialises at once.
BLOCK_ELEMENTS = 1 << 20
LOG2_E = 1.4426950408889634
LN_2 = 0.6931471805599453


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


def _to_steps(x: Tensor, nc: int, T: int) -> Tensor:
    """(B, G, K, nc * T) -> contiguous (T, B, G, nc, K): step-major, so every step is one slab.

    Contiguity matters: elementwise ops follow their inputs' memory order, and the (..., N, Dg)
    products built from these must be contiguous for the per-step loops to stream through memory.
    """
    b, g, k, _ = x.shape
    return x.reshape(b, g, k, nc, T).permute(4, 0, 1, 3, 2).contiguous()


def _from_steps(x: Tensor, length: int) -> Tensor:
    """(T, B, G, nc, K) -> (B, G, K, length) (dropping padded steps)."""
    T, b, g, nc, k = x.shape
    return x.permute(1, 2, 4, 3, 0).reshape(b, g, k, nc * T)[..., :length]


def _scan_states(
    decay: Tensor,
    inp: Tensor,
    chunk_decay: Tensor,
    h0: Tensor,
    reverse: bool = False,
    readout: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """All states of h_t = decay_t * h_{t-1} + inp_t over a block laid out in chunks (no autograd).

    decay, inp: (T, B, G, nc, N, Dg); chunk_decay: (B, G, nc, N, Dg) = the product of a chunk's
    decays; h0: (B, G, N, Dg) the state before the block (after it when ``reverse``: then the
    recurrence runs from the last step to the first). Returns (states (T, B, G, nc, N, Dg), the
    state after the last step processed); with ``readout`` C (T, B, G, nc, N, 1) the first result
    is instead y_t = sum_n C_t h_t (T, B, G, nc, Dg), read while each step's slab is in cache.

    1) all chunks at once from a zero state (a T-step loop over slabs of all chunks), 2) the true
    state passed from chunk to chunk (an nc-step loop), 3) the T steps rerun from the true starts.
    """
    T, nc = decay.shape[0], decay.shape[3]
    steps = range(T - 1, -1, -1) if reverse else range(T)
    if nc == 1:  # a single chunk starts from h0: no chunk-local pass needed
        h = h0.unsqueeze(2)  # (B, G, 1, N, Dg)
    else:
        h = inp[steps[0]]
        for t in steps[1:]:
            h = torch.addcmul(inp[t], decay[t], h)  # (B, G, nc, N, Dg)
        carry = h0
        starts = [h0] * nc
        for c in range(nc - 1, -1, -1) if reverse else range(nc):
            starts[c] = carry
            carry = torch.addcmul(h[:, :, c], chunk_decay[:, :, c], carry)  # (B, G, N, Dg)
        h = torch.stack(starts, dim=2)  # (B, G, nc, N, Dg)
    last_chunk = 0 if reverse else nc - 1
    if readout is not None:
        ys = [None] * T
        for t in steps:
            h = torch.addcmul(inp[t], decay[t], h)
            ys[t] = (h * readout[t]).sum(-2)  # (B, G, nc, Dg)
        return torch.stack(ys), h[:, :, last_chunk]
    out = torch.empty_like(inp)
    for t in steps:
        h = torch.addcmul(inp[t], decay[t], h, out=out[t])
    return out, h[:, :, last_chunk]


class _Layout:
    """One block's inputs padded to whole chunks and laid out step-major (see :func:`_to_steps`)."""

    def __init__(self, dt: Tensor, du: Tensor, A2: Tensor, B: Tensor, C: Tensor, chunk: int) -> None:
        self.length = dt.shape[-1]
        self.nc = nc = -(-self.length // chunk)
        self.pad = pad = nc * chunk - self.length
        if pad:  # dt = 0 steps leave the state unchanged (decay 1, no input): the final state stays exact
            dt, du, B, C = (F.pad(t, (0, pad)) for t in (dt, du, B, C))
        self.dt_p = dt  # (B, G, Dg, Lp)
        self.dt = _to_steps(dt, nc, chunk).unsqueeze(-2)  # (T, B, G, nc, 1, Dg)
        self.du = _to_steps(du, nc, chunk).unsqueeze(-2)  # (T, B, G, nc, 1, Dg)
        self.B = _to_steps(B, nc, chunk).unsqueeze(-1)  # (T, B, G, nc, N, 1)
        self.C = _to_steps(C, nc, chunk).unsqueeze(-1)  # (T, B, G, nc, N, 1)
        self.A = A2.unsqueeze(1)  # (G, 1, N, Dg)
        self.chunk = chunk

    def states(self, h0: Tensor, readout: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Forward states: (decay, inp, states (T, B, G, nc, N, Dg) or y, state after the block)."""
        decay = torch.exp2(self.dt * self.A)  # (T, B, G, nc, N, Dg)
        inp = self.du * self.B  # (T, B, G, nc, N, Dg)
        chunk_decay = torch.exp2(self.dt.sum(0) * self.A)  # (B, G, nc, N, Dg)
        hs, h_end = _scan_states(decay, inp, chunk_decay, h0, readout=readout)
        return decay, inp, hs, h_end


def block_forward(dt: Tensor, du: Tensor, A2: Tensor, B: Tensor, C: Tensor, h0: Tensor, chunk: int
                  ) -> tuple[Tensor, Tensor]:
    """One block of the scan, no autograd. dt, du (B, G, Dg, Lb); A2 (G, N, Dg) = A * log2(e); B, C
    (B, G, N, Lb); h0 (B, G, N, Dg) -> y = sum_n C h (B, G, Dg, Lb) and the state after the block."""
    lay = _Layout(dt, du, A2, B, C, chunk)
    _, _, y, h_end = lay.states(h0, readout=lay.C)  # y: (T, B, G, nc, Dg)
    return _from_steps(y, lay.length), h_end


def block_backward(dt: Tensor, du: Tensor, A2: Tensor, B: Tensor, C: Tensor, h0: Tensor, chunk: int,
                   gy: Tensor, g_end: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients (dt, du, A2, B, C, h0) of :func:`block_forward` given gy (B, G, Dg, Lb) and g_end, the
    gradient of the state after the block: the states are rebuilt from h0, then the adjoint scan."""
    lay = _Layout(dt, du, A2, B, C, chunk)
    decay, inp, hs, _ = lay.states(h0)
    nc, T = lay.nc, lay.chunk
    gy_s = _to_steps(F.pad(gy, (0, lay.pad)), nc, T).unsqueeze(-2)  # (T, B, G, nc, 1, Dg)
    # adjoint: g_t = C_t gy_t + decay_{t+1} g_{t+1}, run backwards from g_end (decay 1 after the end)
    dt_next = _to_steps(F.pad(lay.dt_p[..., 1:], (0, 1)), nc, T).unsqueeze(-2)  # (T, B, G, nc, 1, Dg)
    decay_next = torch.exp2(dt_next * lay.A)
    chunk_decay_next = torch.exp2(dt_next.sum(0) * lay.A)
    gs, _ = _scan_states(decay_next, lay.C * gy_s, chunk_decay_next, g_end, reverse=True)
    del decay_next, chunk_decay_next
    g_h0 = decay[0, :, :, 0] * gs[0, :, :, 0]  # (B, G, N, Dg)
    g_C = (hs * gy_s).sum(-1)  # (T, B, G, nc, N)
    g_du = (gs * lay.B).sum(-2)  # (T, B, G, nc, Dg)
    g_B = (gs * lay.du).sum(-1)  # (T, B, G, nc, N)
    # q = g_t * decay_t * h_{t-1} = g_t * (h_t - inp_t); d decay/d dt = decay * A, d decay/d A2 = decay * ln2 * dt
    q = hs.sub_(inp).mul_(gs)
    g_dt = (q * lay.A).sum(-2) * LN_2  # (T, B, G, nc, Dg)
    g_A2 = (q * lay.dt).sum(dim=(0, 1, 3)) * LN_2  # (G, N, Dg)
    length = lay.length
    return (_from_steps(g_dt, length), _from_steps(g_du, length), g_A2, _from_steps(g_B, length),
            _from_steps(g_C, length), g_h0)


class _ScanBlock(torch.autograd.Function):
    """y, h_end = scan of one block (:func:`block_forward`); backward recomputes the states and runs the
    adjoint scan (:func:`block_backward`). Only the (small) inputs are saved, so the memory kept for
    backward is linear in L without the factor N.
    """

    @staticmethod
    def forward(ctx, dt, du, A2, B, C, h0, chunk):  # type: ignore[override]
        ctx.save_for_backward(dt, du, A2, B, C, h0)
        ctx.chunk = chunk
        return block_forward(dt, du, A2, B, C, h0, chunk)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gy, g_end):  # type: ignore[override]
        dt, du, A2, B, C, h0 = ctx.saved_tensors
        gy = torch.zeros_like(dt) if gy is None else gy
        g_end = torch.zeros_like(h0) if g_end is None else g_end
        return (*block_backward(dt, du, A2, B, C, h0, ctx.chunk, gy, g_end), None)


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
) -> Tensor | tuple[Tensor, Tensor]:
    """Chunked selective scan (same arguments and results as :func:`selective_scan_ref`).

    Extra args:
        chunk_size: steps per chunk (the in-chunk loop length; ~16-128 is fast on CPU).
        block_len: steps processed per block (a multiple of chunk_size). Default: as many as keep
            one (B, Dm, block_len, N) tensor under ``BLOCK_ELEMENTS`` elements, so memory stays
            linear in L with a small constant.
    """
    batch, dm, length, n, groups = _check_shapes(u, delta, A, B, C)
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    dtype = _compute_dtype(u)
    dg = dm // groups
    # (B, Dm, L) arguments are often transposed views of (B, L, Dm) activations (the Mamba mixer passes them
    # so): one copy each into the (B, Dm, L) layout, so that no elementwise op below mixes the two layouts
    # (an op whose inputs walk memory in different orders ran ~10x slower per element)
    u, delta = u.contiguous(), delta.contiguous()
    z = None if z is None else z.contiguous()
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
    ys = []
    # split (not slicing): its backward concatenates the block gradients once instead of
    # materialising a full-length zero gradient per block
    pieces = [t.split(block_len, dim=-1) for t in (dt_g, du_g, B_g, C_g)] if length else [()] * 4
    for dt_b, du_b, B_b, C_b in zip(*pieces, strict=True):
        y_blk, h = _ScanBlock.apply(dt_b, du_b, A2, B_b, C_b, h, chunk)
        ys.append(y_blk)
    y = torch.cat(ys, dim=-1) if ys else dt_g.new_zeros(batch, groups, dg, 0)
    y = _finish(y.reshape(batch, dm, length), u, D, z).to(u.dtype)
    return (y, h.transpose(2, 3).reshape(batch, dm, n)) if return_final_state else y
