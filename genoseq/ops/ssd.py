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
  back. The sequence is processed in blocks of a few chunks (intermediates stay in cache);
  the backward is written by hand (:func:`chunked_backward`): forward keeps only its inputs,
  output and the chunk-start states, backward rebuilds each block's operands. Memory is linear
  in L. Inside a chunk the decays factor, exp(acum[t] - acum[s]) = ea[t] eb[s], so all heads of
  a group share one (T, T) matrix C B^T and every product is a matrix product over the group's
  heads (:func:`forward_block`); blocks whose chunks decay too fast for the factors (float32:
  a chunk total beyond exp(-120)) form the per-head decays instead (:func:`_forward_block_exact`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from genoseq.errors import ConfigError

__all__ = ["ssd", "ssd_ref", "ssd_sequential"]

# Elements of one block's largest operands, (batch, steps, heads, P) and the chunk states (batch, chunks, heads,
# P, N), at least and at most: 2,048 and 4,096 steps of the bench-mamba2 shape. Within that range a sequence is
# cut into MIN_BLOCKS blocks (see default_block_len). Measured on the fused training step (bench-mamba2, bf16,
# 2 workers): 512-step blocks were 15-30% slower than 2,048 (per-op overhead and the workers' hand-offs of
# the GIL dominate); 4,096-step blocks were 7-10% faster than 2,048 at 32k and 131k, the same at 16k, and at
# 8k (two blocks: nothing left to overlap) twice as slow; 8,192 at 32k (four blocks) slower again.
BLOCK_ELEMENTS = 1 << 19
BLOCK_ELEMENTS_MAX = 1 << 20
MIN_BLOCKS = 8


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


def _views(x, dt, A, B, C, T):
    """One block's inputs (padded to whole chunks) in the chunked layouts.

    x (Bt, Lb, G, Hg, P), dt (Bt, Lb, G, Hg), B, C (Bt, Lb, G, N) -> xn (Bt, K, T, G, Hg, P) (a view),
    dts (Bt, K, G, Hg, T), acum = cumsum(dt * A) (Bt, K, G, Hg, T), Bg, Cg (Bt, K, G, T, N).
    """
    bt, lb, g, hg, p = x.shape
    K = -(-lb // T)
    pad = K * T - lb
    if pad:  # dt = 0, x = 0 steps leave the state unchanged
        x = F.pad(x, (0, 0, 0, 0, 0, 0, 0, pad))
        dt = F.pad(dt, (0, 0, 0, 0, 0, pad))
        B = F.pad(B, (0, 0, 0, 0, 0, pad))
        C = F.pad(C, (0, 0, 0, 0, 0, pad))
    n = B.shape[-1]
    xn = x.reshape(bt, K, T, g, hg, p)
    dts = dt.reshape(bt, K, T, g, hg).permute(0, 1, 3, 4, 2).contiguous()
    acum = torch.cumsum(dts * A[:, :, None], dim=-1)
    Bg = B.reshape(bt, K, T, g, n).permute(0, 1, 3, 2, 4).contiguous()
    Cg = C.reshape(bt, K, T, g, n).permute(0, 1, 3, 2, 4).contiguous()
    return xn, dts, acum, Bg, Cg


def _floor(dtype: torch.dtype) -> float:
    """Smallest exponent passed to exp: exp(floor) stays a normal number (exp is several times slower when it
    underflows to subnormals or zero). A decay below exp(-80) ~ 2e-35 (float32) or exp(-700) (float64) is
    kept at that value instead of a smaller one: an absolute change below 1e-34 of a weight of at most 1."""
    return -700.0 if dtype == torch.float64 else -80.0


def _decay(acum: Tensor) -> Tensor:
    """acum (..., T), non-increasing -> E (..., T, T) = exp(acum[t] - acum[s]) for s <= t. Above the diagonal
    E is at most 1 (the exponent is clamped to <= 0) and must be masked by the caller (the C B^T factor)."""
    return (acum[..., :, None] - acum[..., None, :]).clamp_(_floor(acum.dtype), 0.0).exp_()


def _causal_cb(Cg: Tensor, Bg: Tensor) -> Tensor:
    """C B^T inside each chunk, zero above the diagonal: (..., T, N) x2 -> (..., T, T)."""
    return torch.matmul(Cg, Bg.transpose(-1, -2)).tril_()


def _exp(t: Tensor) -> Tensor:
    return torch.exp(t.clamp_min(_floor(t.dtype)))


def _head_major(xn: Tensor, dts: Tensor) -> Tensor:
    """xn (Bt, K, T, G, Hg, P) * dt -> xdt (Bt, K, G, Hg, T, P), contiguous."""
    bt, K, T, g, hg, p = xn.shape
    out = xn.new_empty(bt, K, g, hg, T, p)
    return torch.mul(xn.permute(0, 1, 3, 4, 2, 5), dts[..., None], out=out)


def _weighted(xn: Tensor, v: Tensor) -> Tensor:
    """xn (Bt, K, T, G, Hg, P) * v (Bt, K, G, Hg, T) -> (Bt, K, G, T, Hg, P), contiguous."""
    bt, K, T, g, hg, p = xn.shape
    out = xn.new_empty(bt, K, g, T, hg, p)
    return torch.mul(xn.permute(0, 1, 3, 2, 4, 5), v.transpose(-1, -2)[..., None], out=out)


def _pass_states(states: Tensor, dec: Tensor, h: Tensor, hs: Tensor) -> Tensor:
    """The chunk-to-chunk recurrence: hs[:, 0] = h, hs[:, c + 1] = states[:, c] + dec[:, c] hs[:, c] for the
    chunks c of dim 1 (dec broadcasting); returns the state after the last chunk. Views are taken once
    (unbind) rather than per step: the steps are small and their indexing ops would cost as much."""
    st, dc, hv = states.unbind(1), dec.unbind(1), hs.unbind(1)
    hv[0].copy_(h)
    for c in range(len(st) - 1):
        torch.addcmul(st[c], hv[c], dc[c], out=hv[c + 1])
    return torch.addcmul(st[-1], hv[-1], dc[-1])


def _pass_grads(dstart: Tensor, dec: Tensor, dh: Tensor, dend: Tensor) -> Tensor:
    """The recurrence of :func:`_pass_states` backwards: dend[:, K-1] = dh, dend[:, c - 1] = dstart[:, c] +
    dec[:, c] dend[:, c] (the gradient of the state at each chunk's end); returns the gradient of the state
    before the first chunk."""
    ds, dc, de = dstart.unbind(1), dec.unbind(1), dend.unbind(1)
    de[-1].copy_(dh)
    for c in range(len(ds) - 1, 0, -1):
        torch.addcmul(ds[c], de[c], dc[c], out=de[c - 1])
    return torch.addcmul(ds[0], de[0], dc[0])


def _forward_block_exact(
    x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, h: Tensor, chunk: int, starts: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """:func:`forward_block` with the decays exp(acum[t] - acum[s]) formed per head and step pair: exact for
    any decay rate (used for blocks whose chunks decay too fast for the factored form)."""
    bt, lb, g, hg, p = x.shape
    n, T = B.shape[-1], chunk
    xn, dts, acum, Bg, Cg = _views(x, dt, A, B, C, T)
    K = xn.shape[1]
    xdt = _head_major(xn, dts)  # (Bt, K, G, Hg, T, P)
    # inside each chunk: (C B^T * decay) (x dt)
    S = _decay(acum).mul_(_causal_cb(Cg, Bg).unsqueeze(3))
    y_diag = torch.matmul(S, xdt)  # (Bt, K, G, Hg, T, P)
    del S, xdt
    # each chunk's own contribution to its end state, transposed: B^T (x dt decay-to-end)
    aend = acum[..., -1]  # (Bt, K, G, Hg)
    xw = _weighted(xn, dts * _exp(aend[..., None] - acum))  # (Bt, K, G, T, Hg, P)
    states = torch.matmul(Bg.transpose(-1, -2), xw.view(bt, K, g, T, hg * p))  # (Bt, K, G, N, Hg*P)
    del xw
    states = states.view(bt, K, g, n, hg, p)
    dec = _exp(aend)[:, :, :, None, :, None]  # (Bt, K, G, 1, Hg, 1)
    hs = x.new_empty(bt, K, g, n, hg, p) if starts is None else starts
    h = _pass_states(states, dec, h, hs)
    del states
    # the state at each chunk start read out by C, decayed to each step
    y_off = torch.matmul(Cg, hs.reshape(bt, K, g, n, hg * p)).view(bt, K, g, T, hg, p)
    y = torch.addcmul(y_diag.permute(0, 1, 2, 4, 3, 5), y_off, _exp(acum).transpose(-1, -2)[..., None])
    return y.transpose(2, 3).reshape(bt, K * T, g, hg, p)[:, :lb], h


def _backward_block_exact(
    x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, starts: Tensor, dy: Tensor, dh: Tensor, chunk: int
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients of :func:`_forward_block_exact` (same layouts) given dy (Bt, Lb, G, Hg, P) and dh, the gradient of
    the state after the block (Bt, G, N, Hg, P); ``starts`` as written by forward_block. Rebuilds the block's
    intermediates (decays, C B^T, x dt) and walks its chunks backwards for the state gradient.

    Returns dx, ddt, dA (G, Hg), dB, dC and the gradient of the state before the block.
    """
    T = chunk
    bt, lb, g, hg, p = x.shape
    n = B.shape[-1]
    xn, dts, acum, Bg, Cg = _views(x, dt, A, B, C, T)
    K = xn.shape[1]
    if K * T != lb:
        dy = F.pad(dy, (0, 0, 0, 0, 0, 0, 0, K * T - lb))
    dy6 = dy.reshape(bt, K, T, g, hg, p).permute(0, 1, 3, 2, 4, 5)  # (Bt, K, G, T, Hg, P) view
    hs = starts  # (Bt, K, G, N, Hg, P)
    hs2 = hs.reshape(bt, K, g, n, hg * p)
    aend = acum[..., -1]
    # -- inside the chunks: y = (CB * E) xdt
    E = _decay(acum)  # (Bt, K, G, Hg, T, T)
    CB = _causal_cb(Cg, Bg).unsqueeze(3)  # (Bt, K, G, 1, T, T)
    xdt = _head_major(xn, dts)
    dyh = dy6.transpose(3, 4).contiguous()  # (Bt, K, G, Hg, T, P)
    dxdt = torch.matmul((E * CB).transpose(-1, -2), dyh)  # (Bt, K, G, Hg, T, P)
    R = torch.matmul(dyh, xdt.transpose(-1, -2)).mul_(E)  # d(CB * E) * E (garbage above the diagonal)
    del E, xdt, dyh
    dCB = R.sum(3).tril_()  # (Bt, K, G, T, T)
    R.mul_(CB)  # d(CB * E) * (CB * E): the d acum[t] - d acum[s] terms (zero above the diagonal)
    dacum = R.sum(-1) - R.sum(-2)  # (Bt, K, G, Hg, T)
    del R, CB
    dCg = torch.matmul(dCB, Bg)  # (Bt, K, G, T, N)
    dBg = torch.matmul(dCB.transpose(-1, -2), Cg)
    del dCB
    # -- the chunk-start state read out: y += exp(acum) (C h^T)
    dye = torch.mul(dy6, _exp(acum).transpose(-1, -2)[..., None])  # (Bt, K, G, T, Hg, P)
    y_off = torch.matmul(Cg, hs2).view(bt, K, g, T, hg, p)
    dacum += (dye * y_off).sum(-1).transpose(-1, -2)
    del y_off
    dye2 = dye.view(bt, K, g, T, hg * p)
    dCg += torch.matmul(dye2, hs2.transpose(-1, -2))
    dstart = torch.matmul(Cg.transpose(-1, -2), dye2).view(bt, K, g, n, hg, p)  # d h_start (own chunk)
    del dye, dye2
    # -- the chunk-to-chunk state passing, backwards: dend[c] = d loss / d state at the end of chunk c
    dec = _exp(aend)[:, :, :, None, :, None]  # (Bt, K, G, 1, Hg, 1)
    dend = torch.empty_like(dstart)
    dh = _pass_grads(dstart, dec, dh, dend)
    daend = (dend * hs).sum((3, 5)) * dec[:, :, :, 0, :, 0]  # (Bt, K, G, Hg)
    del dstart
    # -- each chunk's contribution to its end state: B^T (x v), v = dt exp(aend - acum)
    w = _exp(aend[..., None] - acum)
    v = dts * w  # (Bt, K, G, Hg, T)
    dend2 = dend.view(bt, K, g, n, hg * p)
    dxw = torch.matmul(Bg, dend2).view(bt, K, g, T, hg, p)  # (Bt, K, G, T, Hg, P)
    dBg += torch.matmul(_weighted(xn, v).view(bt, K, g, T, hg * p), dend2.transpose(-1, -2))
    del dend, dend2
    xg = xn.permute(0, 1, 3, 2, 4, 5)  # (Bt, K, G, T, Hg, P) view
    dv = (dxw * xg).sum(-1).transpose(-1, -2)  # (Bt, K, G, Hg, T)
    ddts = dv * w
    dvv = dv * v
    dacum -= dvv
    daend += dvv.sum(-1)
    ddts += (dxdt * xg.transpose(3, 4)).sum(-1)
    # dx = dxdt * dt + dxw * v
    dxb = torch.mul(dxdt.transpose(3, 4), dts.transpose(-1, -2)[..., None])
    dxb.addcmul_(dxw, v.transpose(-1, -2)[..., None])  # (Bt, K, G, T, Hg, P)
    del dxdt, dxw
    dacum[..., -1] += daend
    da = dacum.flip(-1).cumsum(-1).flip(-1)  # acum = cumsum(a): reverse cumulative sum
    ddts += da * A[:, :, None]
    dA = (da * dts).sum((0, 1, 4))
    # back to the sequence layouts, dropping the padding
    return (dxb.transpose(2, 3).reshape(bt, K * T, g, hg, p)[:, :lb],
            ddts.permute(0, 1, 4, 2, 3).reshape(bt, K * T, g, hg)[:, :lb], dA,
            dBg.transpose(2, 3).reshape(bt, K * T, g, n)[:, :lb],
            dCg.transpose(2, 3).reshape(bt, K * T, g, n)[:, :lb], dh)


# Largest total decay -sum(dt * A) of one chunk for the factored form: its exp(+-total/2) factors stay normal
# numbers with room for the products they enter (float32: e^+-60; float64: e^+-600).
_FACTOR_LIMIT = {torch.float64: 1200.0}
_FACTOR_LIMIT_DEFAULT = 120.0


def _factored(acum: Tensor) -> bool:
    """Whether every chunk of the block decays little enough for the factored form (one host sync)."""
    limit = _FACTOR_LIMIT.get(acum.dtype, _FACTOR_LIMIT_DEFAULT)
    return acum.numel() == 0 or bool((-acum[..., -1]).max() <= limit)


def _factors(acum: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Per chunk and head, with c = (acum[0] + acum[T-1]) / 2: ea = exp(acum - c), eb = exp(c - acum) (both
    (Bt, K, G, Hg, T)), ec = exp(c), q = exp(acum[T-1] - c) (chunk end), dec = exp(acum[T-1]) (all
    (Bt, K, G, Hg)). exp(acum[t] - acum[s]) = ea[t] eb[s]; c cancels from every product used."""
    c = 0.5 * (acum[..., :1] + acum[..., -1:])
    ea = torch.exp(acum - c)
    eb = torch.exp(c - acum)
    aend = acum[..., -1]
    return ea, eb, torch.exp(c[..., 0]), torch.exp(aend - c[..., 0]), _exp(aend)


def _bmm_into(out: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """out += a @ b over flattened batch dims: out (..., m, k2), a (..., m, k), b (..., k, k2)."""
    out.view(-1, *out.shape[-2:]).baddbmm_(a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:]))
    return out


class _Local(NamedTuple):
    """A block's operands that do not depend on the state entering it (see :func:`forward_local`)."""

    shape: tuple  # (bt, lb, g, hg, p, n, K, T)
    tensors: dict


def forward_local(x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, chunk: int) -> _Local | None:
    """The state-independent part of :func:`forward_block` (the in-chunk term and each chunk's own end state);
    None when the block needs the exact path. Blocks' local parts can run in any order or concurrently."""
    bt, lb, g, hg, p = x.shape
    n, T = B.shape[-1], chunk
    xn, dts, acum, Bg, Cg = _views(x, dt, A, B, C, T)
    if not _factored(acum):
        return None
    K = xn.shape[1]
    ea, eb, ec, q, _ = _factors(acum)
    U2 = _weighted(xn, dts * eb).view(bt, K, g, T, hg * p)  # x dt eb
    # each chunk's own contribution to its end state, transposed: B^T (x dt exp(aend - acum))
    states = torch.matmul(Bg.transpose(-1, -2), U2).view(bt, K, g, n, hg, p).mul_(q[:, :, :, None, :, None])
    y_in = torch.matmul(_causal_cb(Cg, Bg), U2)  # tril(C B^T) U  (Bt, K, G, T, Hg*P)
    return _Local((bt, lb, g, hg, p, n, K, T), {"acum": acum, "Cg": Cg, "ea": ea, "ec": ec, "states": states,
                                                "y_in": y_in})


def forward_state(loc: _Local, h: Tensor, starts: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The state-dependent part of :func:`forward_block`: pass the state through the block's chunks (writing
    ``starts``) and add its readout. Returns y (Bt, Lb, G, Hg, P) and the state after the block."""
    bt, lb, g, hg, p, n, K, T = loc.shape
    t = loc.tensors
    dec = _exp(t["acum"][..., -1])[:, :, :, None, :, None]  # (Bt, K, G, 1, Hg, 1)
    states = t["states"]
    hs = states.new_empty(bt, K, g, n, hg, p) if starts is None else starts
    h = _pass_states(states, dec, h, hs)
    # y = ea * (tril(C B^T) U + C (ec h_start))
    hsc = torch.mul(hs, t["ec"][:, :, :, None, :, None]).view(bt, K, g, n, hg * p)
    y = _bmm_into(t["y_in"], t["Cg"], hsc).view(bt, K, g, T, hg, p).mul_(t["ea"].transpose(-1, -2)[..., None])
    return y.transpose(2, 3).reshape(bt, K * T, g, hg, p)[:, :lb], h


def forward_block(
    x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, h: Tensor, chunk: int, starts: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """SSD over one block of whole chunks (the last block of a sequence may end in a partial chunk), no D term,
    no autograd: x (Bt, Lb, G, Hg, P); dt (Bt, Lb, G, Hg); A (G, Hg); B, C (Bt, Lb, G, N); h (Bt, G, N, Hg, P),
    the state before the block, transposed so that the state-side products are single matrix products over
    all heads of a group. Any strides. ``starts`` (Bt, K, G, N, Hg, P) receives the state at each chunk start.

    The in-chunk decays factor as exp(acum[t] - acum[s]) = ea[t] eb[s] (:func:`_factors`), so every product
    is a matrix product over all heads of a group: y = ea * (tril(C B^T) (x dt eb) + C (ec h_start)) and the
    chunk's own end state B^T (x dt eb) q. Blocks whose chunks decay faster than the factors can represent
    take :func:`_forward_block_exact`. Split as :func:`forward_local` + :func:`forward_state`.

    Returns y (Bt, Lb, G, Hg, P) and the state after the block (Bt, G, N, Hg, P).
    """
    loc = forward_local(x, dt, A, B, C, chunk)
    if loc is None:
        return _forward_block_exact(x, dt, A, B, C, h, chunk, starts)
    return forward_state(loc, h, starts)


def backward_local(
    x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, starts: Tensor, dy: Tensor, chunk: int,
    y: Tensor | None = None,
) -> _Local | None:
    """The part of :func:`backward_block` that does not need the gradient of the block-end state: the
    in-chunk term and the chunk-start readout. None when the block needs the exact path."""
    T = chunk
    bt, lb, g, hg, p = x.shape
    n = B.shape[-1]
    xn, dts, acum, Bg, Cg = _views(x, dt, A, B, C, T)
    if not _factored(acum):
        return None
    if y is None:
        y = forward_block(x, dt, A, B, C, starts[:, 0], chunk)[0]
    K = xn.shape[1]
    if K * T != lb:
        dy = F.pad(dy, (0, 0, 0, 0, 0, 0, 0, K * T - lb))
        y = F.pad(y, (0, 0, 0, 0, 0, 0, 0, K * T - lb))
    dy6 = dy.reshape(bt, K, T, g, hg, p).transpose(2, 3)  # (Bt, K, G, T, Hg, P) views
    y6 = y.reshape(bt, K, T, g, hg, p).transpose(2, 3)
    ea, eb, ec, q, dec = _factors(acum)
    U2 = _weighted(xn, dts * eb).view(bt, K, g, T, hg * p)  # x dt eb
    # -- y = ea * (CB U + C hsc), CB = tril(C B^T), hsc = ec h_start
    dacum = (dy6 * y6).sum(-1).transpose(-1, -2)  # d ea * ea  (Bt, K, G, Hg, T)
    dP = torch.mul(dy6, ea.transpose(-1, -2)[..., None]).view(bt, K, g, T, hg * p)
    hsc = torch.mul(starts, ec[:, :, :, None, :, None]).view(bt, K, g, n, hg * p)
    CB = _causal_cb(Cg, Bg)
    dCB = torch.matmul(dP, U2.transpose(-1, -2)).tril_()  # (Bt, K, G, T, T)
    dCg = _bmm_into(torch.matmul(dCB, Bg), dP, hsc.transpose(-1, -2))  # (Bt, K, G, T, N)
    dBg = torch.matmul(dCB.transpose(-1, -2), Cg)
    dU = torch.matmul(CB.transpose(-1, -2), dP)  # (Bt, K, G, T, Hg*P)
    dstart = torch.matmul(Cg.transpose(-1, -2), dP).view(bt, K, g, n, hg, p).mul_(ec[:, :, :, None, :, None])
    return _Local((bt, lb, g, hg, p, n, K, T), {
        "xn": xn, "dts": dts, "A": A, "Bg": Bg, "eb": eb, "q": q, "dec": dec, "U2": U2, "starts": starts,
        "dacum": dacum, "dCg": dCg, "dBg": dBg, "dU": dU, "dstart": dstart})


def backward_state(loc: _Local, dh: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The rest of :func:`backward_block` given dh, the gradient of the block-end state: the chunk-to-chunk
    state passing backwards and each chunk's own end state. Returns dx, ddt, dA, dB, dC and the gradient of
    the state before the block."""
    bt, lb, g, hg, p, n, K, T = loc.shape
    t = loc.tensors
    dstart, dec, q, U2, Bg = t["dstart"], t["dec"], t["q"], t["U2"], t["Bg"]
    dacum, dBg, dU = t["dacum"], t["dBg"], t["dU"]
    # -- the chunk-to-chunk state passing, backwards: dend[c] = d loss / d state at the end of chunk c
    dec6 = dec[:, :, :, None, :, None]  # (Bt, K, G, 1, Hg, 1)
    dend = torch.empty_like(dstart)
    dh = _pass_grads(dstart, dec6, dh, dend)
    daend = (dend * t["starts"]).sum((3, 5)) * dec  # (Bt, K, G, Hg)
    # -- each chunk's own end state B^T U q: dSq = d states * q
    dSq = dend.mul_(q[:, :, :, None, :, None]).view(bt, K, g, n, hg * p)
    Z = torch.matmul(Bg, dSq)  # (Bt, K, G, T, Hg*P): d U from the states
    dBg = dBg + torch.matmul(U2, dSq.transpose(-1, -2))
    del dend, dSq
    UZ = (U2 * Z).view(bt, K, g, T, hg, p).sum(-1)  # (Bt, K, G, T, Hg)
    daend += UZ.sum(3)  # d q * q
    # -- U = x dt eb: d acum[s] -= sum_p dU U, dU = the in-chunk part + Z
    dacum = dacum - (U2 * dU).view(bt, K, g, T, hg, p).sum(-1).add_(UZ).transpose(-1, -2)
    dU = Z.add_(dU).view(bt, K, g, T, hg, p)
    dacum[..., -1] += daend
    xg = t["xn"].permute(0, 1, 3, 2, 4, 5)  # (Bt, K, G, T, Hg, P) view
    dts, eb = t["dts"], t["eb"]
    ddts = (dU * xg).sum(-1).transpose(-1, -2).mul_(eb)  # (Bt, K, G, Hg, T)
    dxb = dU.mul_((dts * eb).transpose(-1, -2)[..., None])  # (Bt, K, G, T, Hg, P)
    da = dacum.flip(-1).cumsum(-1).flip(-1)  # acum = cumsum(a): reverse cumulative sum
    ddts += da * t["A"][:, :, None]
    dA = (da * dts).sum((0, 1, 4))
    # back to the sequence layouts, dropping the padding
    return (dxb.transpose(2, 3).reshape(bt, K * T, g, hg, p)[:, :lb],
            ddts.permute(0, 1, 4, 2, 3).reshape(bt, K * T, g, hg)[:, :lb], dA,
            dBg.transpose(2, 3).reshape(bt, K * T, g, n)[:, :lb],
            t["dCg"].transpose(2, 3).reshape(bt, K * T, g, n)[:, :lb], dh)


def backward_block(
    x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, starts: Tensor, dy: Tensor, dh: Tensor, chunk: int,
    y: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients of :func:`forward_block` (same layouts) given dy (Bt, Lb, G, Hg, P) and dh, the gradient of
    the state after the block (Bt, G, N, Hg, P); ``starts`` as written by forward_block; ``y`` the block's
    output (recomputed when None). Rebuilds the block's operands and walks its chunks backwards for the state
    gradient. Returns dx, ddt, dA (G, Hg), dB, dC and the gradient of the state before the block.

    With c held fixed (it cancels from every product), acum enters through ea (d acum[t] += sum_p dy y),
    through eb in U = x dt eb (d acum[s] -= sum_p dU U), and through the chunk-end factors q and dec.
    Split as :func:`backward_local` + :func:`backward_state`.
    """
    loc = backward_local(x, dt, A, B, C, starts, dy, chunk, y)
    if loc is None:
        return _backward_block_exact(x, dt, A, B, C, starts, dy, dh, chunk)
    return backward_state(loc, dh)


def chunked_forward(
    x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, h0: Tensor, chunk: int, block_len: int,
    save_starts: bool = False,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """:func:`forward_block` over the whole sequence in blocks of ``block_len`` steps (a multiple of ``chunk``).

    Returns y (Bt, L, G, Hg, P), the final state (Bt, G, N, Hg, P) and, with ``save_starts``, the state at
    each chunk start (Bt, nc, G, N, Hg, P) that :func:`chunked_backward` needs.
    """
    bt, length, g, hg, p = x.shape
    n = B.shape[-1]
    y = x.new_empty(bt, length, g, hg, p)
    starts = x.new_empty(bt, -(-length // chunk), g, n, hg, p) if save_starts else None
    h = h0
    for s0 in range(0, length, block_len):
        s1 = min(length, s0 + block_len)
        c0, c1 = s0 // chunk, -(-s1 // chunk)
        y[:, s0:s1], h = forward_block(x[:, s0:s1], dt[:, s0:s1], A, B[:, s0:s1], C[:, s0:s1], h, chunk,
                                       starts[:, c0:c1] if save_starts else None)
    return y, h, starts


def chunked_backward(
    x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, starts: Tensor, dy: Tensor | None,
    dh: Tensor | None, chunk: int, block_len: int, y: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients of :func:`chunked_forward` given dy (Bt, L, G, Hg, P) and dh (Bt, G, N, Hg, P) (None = zero)
    and optionally its output y: :func:`backward_block` over the blocks in reverse. Returns
    (dx, ddt, dA, dB, dC, dh0)."""
    bt, length, g, hg, p = x.shape
    n = B.shape[-1]
    dx, ddt = torch.empty_like(x), torch.empty_like(dt)
    dB, dC = torch.empty_like(B), torch.empty_like(C)
    dA = torch.zeros_like(A)
    dh = dh.contiguous() if dh is not None else x.new_zeros(bt, g, n, hg, p)
    if dy is None:
        dy = x.new_zeros(bt, length, g, hg, p)
    for s0 in reversed(range(0, length, block_len)):
        s1 = min(length, s0 + block_len)
        c0, c1 = s0 // chunk, -(-s1 // chunk)
        dx[:, s0:s1], ddt[:, s0:s1], dA_b, dB[:, s0:s1], dC[:, s0:s1], dh = backward_block(
            x[:, s0:s1], dt[:, s0:s1], A, B[:, s0:s1], C[:, s0:s1], starts[:, c0:c1], dy[:, s0:s1], dh, chunk,
            None if y is None else y[:, s0:s1],
        )
        dA += dA_b
    return dx, ddt, dA, dB, dC, dh


class _ChunkedSSD(torch.autograd.Function):
    """Autograd wrapper of :func:`chunked_forward` / :func:`chunked_backward` (inputs in their layouts).

    Forward keeps only its inputs and the chunk-start states; the graph holds one node instead of the
    hundreds a per-chunk autograd graph would.
    """

    @staticmethod
    def forward(ctx, x, dt, A, B, C, h0, chunk: int, block_len: int, save: bool):
        with torch.autocast(x.device.type, enabled=False):
            y, h, starts = chunked_forward(x, dt, A, B, C, h0, chunk, block_len, save_starts=save)
        if save:
            ctx.save_for_backward(x, dt, A, B, C, starts, y)
            ctx.chunk, ctx.block_len = chunk, block_len
        return y, h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy, dh):
        x, dt, A, B, C, starts, y = ctx.saved_tensors
        with torch.autocast(x.device.type, enabled=False):
            dx, ddt, dA, dB, dC, dh0 = chunked_backward(x, dt, A, B, C, starts, dy, dh, ctx.chunk, ctx.block_len,
                                                        y)
        return dx, ddt, dA, dB, dC, dh0, None, None, None


def default_block_len(batch: int, heads: int, chunk: int, p: int, n: int, length: int | None = None) -> int:
    """Steps per block, whole chunks: the sequence ``length`` cut into ``MIN_BLOCKS`` blocks, kept between the
    block sizes whose operands hold ``BLOCK_ELEMENTS`` and ``BLOCK_ELEMENTS_MAX`` elements (without a length:
    the smaller)."""
    per_step = batch * heads * p * max(1, -(-n // chunk)) * chunk
    low = max(1, BLOCK_ELEMENTS // per_step) * chunk
    if length is None:
        return low
    high = max(1, BLOCK_ELEMENTS_MAX // per_step) * chunk
    return min(high, max(low, length // MIN_BLOCKS // chunk * chunk))


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
        block_len: steps per block (a multiple of chunk_size; default: :func:`default_block_len`).
        recompute: kept for compatibility; backward always rebuilds the per-block intermediates and
            keeps only the inputs and the chunk-start states (Bt, L / chunk_size, H, P, N).
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
        h0 = xg.new_zeros(batch, groups, n, hg, p)
    else:  # (B, H, P, N) -> (B, G, N, Hg, P)
        h0 = initial_state.to(dtype).reshape(batch, groups, hg, p, n).permute(0, 1, 4, 2, 3).contiguous()
    chunk = min(chunk_size, max(length, 1))
    if block_len is None:
        block_len = default_block_len(batch, heads, chunk, p, n, length)
    block_len = max(chunk, block_len // chunk * chunk)
    save = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, dt, A, B, C, initial_state)
    )
    if length:
        y, h = _ChunkedSSD.apply(xg, dtg, Ag, Bc, Cc, h0, chunk, block_len, save)
    else:
        y, h = xg.new_zeros(batch, 0, groups, hg, p), h0
    y = _with_skip(y.reshape(batch, length, heads, p), x, D).to(x.dtype)
    if not return_final_state:
        return y
    return y, h.permute(0, 1, 3, 4, 2).reshape(batch, heads, p, n)
