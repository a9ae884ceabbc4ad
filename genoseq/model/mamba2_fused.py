"""Fused training path of the Mamba-2 mixer: one autograd node per mixer, backward written by hand.

Same map as ``Mamba2Mixer._mix`` from a zero state (see genoseq/model/mamba2.py)::

    u (B, L, D) -> in_proj -> [z (E), xbc (CD), dt (H)]      E = d_inner = H P, CD = E + 2 G N
    a = silu(causal depthwise conv(xbc) + bias) -> [x (H, P), B (G, N), C (G, N)]
    y = ssd(x, softplus(dt + dt_bias), -exp(A_log), B, C) + D x
    out = out_proj(RMSNorm(y * silu(z)) * norm_weight)

Everything runs block by block along the sequence (blocks of whole SSD chunks, the state carried from block
to block), so the elementwise temporaries are block-sized: they stay in cache and never reach the size where
the C allocator maps fresh pages for each one (page faults cost more than the arithmetic). Each block's work
is split into a state-independent stage, an in-order stage (the SSD state passing; the conv's halo in
backward) and an independent tail, run on worker threads by genoseq.ops._pipeline. Forward keeps the
in_proj output, y, the RMS factor, dt and the SSD chunk-start states; backward walks the blocks in reverse,
rebuilds the conv activation, and accumulates the parameter gradients block by block. Elementwise work and
the SSD run in float32 (float64 for float64 inputs); the two projections run in the autocast dtype under
``torch.autocast`` (as nn.Linear would), otherwise in the input's dtype.
Used for CPU training steps (see ``Mamba2Mixer.forward``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from genoseq.ops._pipeline import run_blocks
from genoseq.ops.prenorm import blocks, matmul_dtype, residual_add
from genoseq.ops.rms_norm import backward_rows as rms_backward_rows
from genoseq.ops.rms_norm import normalize_rows as rms_rows
from genoseq.ops.rms_norm import rms_factor
from genoseq.ops.rows import accumulate, conv_rows, conv_rows_backward, mm_rows
from genoseq.ops.ssd import (
    _backward_block_exact,
    _forward_block_exact,
    backward_local,
    backward_state,
    default_block_len,
    forward_local,
    forward_state,
)


class Dims(NamedTuple):
    E: int  # d_inner = H * P
    CD: int  # conv channels = E + 2 G N
    H: int
    G: int
    N: int
    P: int
    chunk: int
    block: int  # steps per block, a multiple of chunk
    eps: float


def _in_proj_block(zx: Tensor, s0: int, s1: int, dims: Dims, K: int, cdt: torch.dtype):
    """Positions s0..s1 of the in_proj output zx (B, L, E + CD + H), plus the K-1 before them for the conv's
    history (zeros before position 0). Returns z (B, lb, E) and dtr (B, lb, H) as stored and the conv input
    window xbc (B, lb + K - 1, CD) in ``cdt``."""
    lo = max(0, s0 - (K - 1))
    E, CD = dims.E, dims.CD
    xbc = zx[:, lo:s1, E : E + CD].to(cdt)
    if s0 - lo < K - 1:
        xbc = F.pad(xbc, (0, 0, K - 1 - (s0 - lo), 0))
    return zx[:, s0:s1, :E], xbc, zx[:, s0:s1, E + CD :]


def _ssd_views(a: Tensor, dt: Tensor, dims: Dims):
    """Conv activations a (B, lb, CD) and dt (B, lb, H) -> x (B, lb, G, Hg, P), dt (B, lb, G, Hg), B, C."""
    bsz, lb = a.shape[:2]
    E, G, N, hg, P = dims.E, dims.G, dims.N, dims.H // dims.G, dims.P
    return (a[..., :E].view(bsz, lb, G, hg, P), dt.view(bsz, lb, G, hg),
            a[..., E : E + G * N].view(bsz, lb, G, N), a[..., E + G * N :].view(bsz, lb, G, N))


class _FusedMamba2(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, w_in, conv_w, conv_b, dt_bias, A_log, D, norm_w, w_out, dims: Dims, mm, save: bool,
                pre_w=None, pre_eps=None, residual=False):
        E, CD, H, G, N, P, T, blk, eps = dims
        bsz, L, dm = u.shape
        cdt = torch.float64 if u.dtype == torch.float64 else torch.float32
        hg, K = H // G, conv_w.shape[1]
        with torch.autocast(u.device.type, enabled=False):
            # with pre_w, u is the residual stream h and the mixer reads RMSNorm(h), normalised per block
            u_mm, w_i = (u.to(mm) if pre_w is None else None), w_in.to(mm).t()  # (B, L, D), (D, E + CD + H)
            pw = None if pre_w is None else pre_w.to(u.dtype)
            rh_all = None if pre_w is None else u.new_empty(bsz, L, 1)  # the pre-norm's 1 / rms per position
            zx = u.new_empty(bsz, L, E + CD + H, dtype=mm)  # in_proj output, filled block by block, kept
            w_c, b_c, nw, bias = conv_w.to(cdt).t().contiguous(), conv_b.to(cdt), norm_w.to(cdt), dt_bias.to(cdt)
            Dc = D.to(cdt).repeat_interleave(P)  # (E,) per channel
            A = -torch.exp(A_log.to(cdt)).view(G, hg)
            w_o = w_out.to(mm).t()  # (E, D)
            dt_all = u.new_empty(bsz, L, H, dtype=cdt)
            y_all = u.new_empty(bsz, L, E, dtype=cdt)  # SSD output + D x, kept for backward
            r_all = u.new_empty(bsz, L, 1, dtype=cdt)  # RMSNorm factor
            out = u.new_empty(bsz, L, dm, dtype=u.dtype if residual else mm)
            starts = u.new_empty(bsz, -(-L // T), G, N, hg, P, dtype=cdt) if save else None
            bounds = [(sl.start, sl.stop) for sl in blocks(L, blk)]
            carry = {"h": u.new_zeros(bsz, G, N, hg, P, dtype=cdt)}

            def first(i):  # in_proj (with the conv's K-1 rows of history), conv, SiLU, the SSD's local part
                s0, s1 = bounds[i]
                lo = max(0, s0 - (K - 1))
                if pw is None:
                    zx_b = mm_rows(u_mm[:, lo:s1], w_i)  # (B, s1 - lo, E + CD + H)
                else:
                    xr, rh = rms_rows(u[:, lo:s1], pre_eps)
                    rh_all[:, s0:s1] = rh[:, s0 - lo :]
                    zx_b = mm_rows(xr.mul_(pw).to(mm), w_i)
                zx[:, s0:s1] = zx_b[:, s0 - lo :]
                _, xbc, dtr = _in_proj_block(zx_b, s0 - lo, s1 - lo, dims, K, cdt)
                a = F.silu(conv_rows(xbc, w_c, b_c))  # (B, lb, CD)
                dt = F.softplus(dtr.to(cdt) + bias)  # (B, lb, H)
                dt_all[:, s0:s1] = dt
                views = _ssd_views(a, dt, dims)
                return a, views, forward_local(*views[:2], A, *views[2:], T)

            def chain(i, r):  # the state through the block's chunks and its readout
                s0, s1 = bounds[i]
                a, views, loc = r
                c0, c1 = s0 // T, -(-s1 // T)
                hs = starts[:, c0:c1] if save else None
                if loc is None:
                    y, carry["h"] = _forward_block_exact(*views[:2], A, *views[2:], carry["h"], T, hs)
                else:
                    y, carry["h"] = forward_state(loc, carry["h"], hs)
                return a, y

            def last(i, r):  # D x, gated RMSNorm, out_proj
                s0, s1 = bounds[i]
                a, y = r
                y = y.reshape(bsz, -1, E).addcmul_(a[..., :E], Dc)  # + D x
                y_all[:, s0:s1] = y
                g = y.mul_(F.silu(zx[:, s0:s1, :E].to(cdt)))
                r = rms_factor(g, eps)  # (B, lb, 1)
                r_all[:, s0:s1] = r
                o = mm_rows(g.mul_(r).mul_(nw).to(mm), w_o)  # in place, then converted (a product stored in bf16 is unvectorised)
                if residual:
                    residual_add(out[:, s0:s1], u[:, s0:s1], o)
                else:
                    out[:, s0:s1] = o

            run_blocks(len(bounds), first, chain, last)
        if save:
            ctx.save_for_backward(u, w_in, conv_w, conv_b, dt_bias, A_log, D, norm_w, w_out, zx, y_all, r_all,
                                  dt_all, starts, pre_w, rh_all)
            ctx.dims, ctx.mm, ctx.residual = dims, mm, residual
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout):
        u, w_in, conv_w, conv_b, dt_bias, A_log, D, norm_w, w_out, zx, y_all, r_all, dt_all, starts, pre_w, rh_all = (
            ctx.saved_tensors
        )
        dims = ctx.dims
        E, CD, H, G, N, P, T, blk, eps = dims
        mm = ctx.mm
        bsz, L, dm = u.shape
        cdt = y_all.dtype
        hg, K = H // G, conv_w.shape[1]
        silu_backward = torch.ops.aten.silu_backward.grad_input
        with torch.autocast(u.device.type, enabled=False):
            w_c, b_c, nw, bias = conv_w.to(cdt).t().contiguous(), conv_b.to(cdt), norm_w.to(cdt), dt_bias.to(cdt)
            Dc = D.to(cdt).repeat_interleave(P)
            A = -torch.exp(A_log.to(cdt))
            A_g = A.view(G, hg)
            w_i, w_o = w_in.to(mm), w_out.to(mm)  # (F, D), (D, E)
            u_mm = u.to(mm) if pre_w is None else None  # (B, L, D)
            pw = None if pre_w is None else pre_w.to(u.dtype)
            d_pre_w = None if pre_w is None else torch.zeros(dm, dtype=u.dtype, device=u.device)
            du = torch.empty(bsz, L, dm, dtype=mm if pre_w is None else u.dtype, device=u.device)
            d_w_in = torch.zeros(w_in.shape, dtype=cdt, device=u.device)
            d_w_out = torch.zeros(w_out.shape, dtype=cdt, device=u.device)
            d_norm_w, dD = torch.zeros_like(nw), torch.zeros(H, dtype=cdt, device=u.device)
            d_conv_w, d_conv_b = torch.zeros_like(w_c), torch.zeros_like(b_c)
            d_dt_bias, dA = torch.zeros(H, dtype=cdt, device=u.device), torch.zeros(G, hg, dtype=cdt, device=u.device)
            bounds = [(sl.start, sl.stop) for sl in blocks(L, blk)][::-1]  # last block first
            carry = {"dh": u.new_zeros(bsz, G, N, hg, P, dtype=cdt),  # d loss / d state after the block
                     "halo": u.new_zeros(bsz, K - 1, CD, dtype=cdt)}  # d pre of the K-1 positions after it

            def first(i):  # gated RMSNorm and out_proj backward, the conv rebuilt, the SSD's local part
                s0, s1 = bounds[i]
                lb, c0, c1 = s1 - s0, s0 // T, -(-s1 // T)
                z, xbc, _ = _in_proj_block(zx, s0, s1, dims, K, cdt)
                dzx = torch.empty(bsz, lb, E + CD + H, dtype=cdt, device=u.device)  # d in_proj output
                # out = (n0 * norm_w) W_out^T, n0 = g r, g = y silu(z)
                z = z.to(cdt)
                y, r = y_all[:, s0:s1], r_all[:, s0:s1]
                sz = F.silu(z)
                n0 = (y * sz).mul_(r)
                dout_b = dout[:, s0:s1].reshape(-1, dm).to(mm)
                dw_out = dout_b.t() @ n0.to(mm).view(-1, E)  # d W_out / norm_w (columns scaled once at the end)
                dn = (dout_b @ w_o).view(bsz, lb, E).to(cdt)
                dnn = dn * n0
                dnw = dnn.sum((0, 1))
                m = (dnn @ nw).div_(E).unsqueeze(-1)  # (B, lb, 1): mean over channels of dn norm_w n0
                del dnn
                dg = dn.mul_(nw).addcmul_(n0, m, value=-1).mul_(r)  # (B, lb, E)
                del n0
                dy = dg * sz
                silu_backward(dg.mul_(y), z, grad_input=dzx[..., :E])  # d z = dg y silu'(z)
                del dg, sz, z
                pre = conv_rows(xbc, w_c, b_c)
                a = F.silu(pre)
                dDb = (dy * a[..., :E]).sum((0, 1)).view(H, P).sum(-1)  # over rows first: a fast outer reduction
                y_ssd = torch.addcmul(y, a[..., :E], Dc, value=-1)  # the SSD output: y - D x
                views = _ssd_views(a, dt_all[:, s0:s1], dims)
                hp = (G, hg, P)
                dy_v, y_v = dy.view(bsz, lb, *hp), y_ssd.view(bsz, lb, *hp)
                loc = backward_local(*views[:2], A_g, *views[2:], starts[:, c0:c1], dy_v, T, y_v)
                return xbc, pre, views, dy, dy_v, loc, dzx, (dw_out, dnw, dDb)

            def chain(i, r):  # the SSD's state part, SiLU and conv backward (the halo comes from the block after)
                s0, s1 = bounds[i]
                lb, c0, c1 = s1 - s0, s0 // T, -(-s1 // T)
                xbc, pre, views, dy, dy_v, loc, dzx, (dw_out, dnw, dDb) = r
                accumulate(d_w_out, dw_out)
                d_norm_w.add_(dnw)
                dD.add_(dDb)
                if loc is None:
                    dx, ddt, dA_b, dB, dC, carry["dh"] = _backward_block_exact(
                        *views[:2], A_g, *views[2:], starts[:, c0:c1], dy_v, carry["dh"], T)
                else:
                    dx, ddt, dA_b, dB, dC, carry["dh"] = backward_state(loc, carry["dh"])
                dA.add_(dA_b)
                # d a (x, B, C channels) -> d pre = d a silu'(pre), laid out with the halo
                da = torch.empty(bsz, lb, CD, dtype=cdt, device=u.device)
                torch.addcmul(dx.reshape(bsz, lb, E), dy, Dc, out=da[..., :E])
                da[..., E : E + G * N] = dB.reshape(bsz, lb, G * N)
                da[..., E + G * N :] = dC.reshape(bsz, lb, G * N)
                del dx, dB, dC, dy
                dpre = torch.empty(bsz, lb + K - 1, CD, dtype=cdt, device=u.device)
                dpre[:, lb:] = carry["halo"]
                silu_backward(da, pre, grad_input=dpre[:, :lb])
                del da, pre
                conv_rows_backward(dpre, xbc, w_c, dzx[..., E : E + CD], d_conv_w, d_conv_b)  # d xbc, d w, d b
                carry["halo"] = dpre[:, : K - 1].clone()  # what the block before reads past its end
                # dt = softplus(dtr + dt_bias)
                dtr = zx[:, s0:s1, E + CD :].to(cdt)
                ddtr = torch.mul(ddt.reshape(bsz, lb, H), torch.sigmoid(dtr + bias), out=dzx[..., E + CD :])
                d_dt_bias.add_(ddtr.sum((0, 1)))
                return dzx

            def last(i, dzx):  # in_proj backward (and the pre-norm's, the residual's gradient added)
                s0, s1 = bounds[i]
                dzx2 = dzx.view(-1, E + CD + H).to(mm)
                g = (dzx2 @ w_i).view(bsz, s1 - s0, dm)  # d (mixer input)
                if pw is None:
                    du[:, s0:s1] = g
                    return dzx2.t() @ u_mm[:, s0:s1].reshape(-1, dm), None
                rh = rh_all[:, s0:s1]
                xr = u[:, s0:s1] * rh
                dw_in = dzx2.t() @ (xr * pw).to(mm).view(-1, dm)
                dh, dpw = rms_backward_rows(g.to(u.dtype), xr, rh, pw, out=du[:, s0:s1])
                if ctx.residual:
                    dh += dout[:, s0:s1]
                return dw_in, dpw

            def fold(i, v):
                accumulate(d_w_in, v[0])
                if v[1] is not None:
                    d_pre_w.add_(v[1])

            run_blocks(len(bounds), first, chain, last, fold=fold)
            d_w_out.mul_(nw)  # out = (n0 * norm_w) W_out^T: d W_out = dout^T n0, each column scaled by norm_w
            if pre_w is None and ctx.residual:
                du = du.to(u.dtype).add_(dout)
        return (du.to(u.dtype), d_w_in.to(w_in.dtype), d_conv_w.t().contiguous().to(conv_w.dtype), d_conv_b.to(conv_b.dtype),
                d_dt_bias.to(dt_bias.dtype), (dA.reshape(H) * A).to(A_log.dtype), dD.to(D.dtype),
                d_norm_w.to(norm_w.dtype), d_w_out.to(w_out.dtype), None, None, None,
                None if pre_w is None else d_pre_w.to(pre_w.dtype), None, None)


def fused_mamba2(mixer, x: Tensor, block_len: int | None = None, pre_norm: tuple[Tensor, float] | None = None,
                 residual: bool = False) -> Tensor:
    """Mamba2Mixer forward from a zero state through :class:`_FusedMamba2`: x (B, L, D) -> (B, L, D).

    ``pre_norm`` (weight (D,), eps): the mixer reads RMSNorm(x), normalised block by block (nothing of size
    (B, L, D) but x kept); ``residual``: returns x + mixer(...) in x's dtype (a pre-norm residual branch in one
    op: no separate norm output, cast, residual sum or their gradients' full-size tensors)."""
    from genoseq.model.mamba2 import RMS_EPS

    mm = matmul_dtype(x)
    chunk = min(mixer.chunk_size, max(x.shape[1], 1))
    block = block_len or default_block_len(x.shape[0], mixer.n_heads, chunk, mixer.head_dim, mixer.d_state,
                                              x.shape[1])
    block = max(chunk, block // chunk * chunk)
    dims = Dims(mixer.d_inner, mixer.conv_dim, mixer.n_heads, mixer.n_groups, mixer.d_state, mixer.head_dim,
                chunk, block, RMS_EPS)
    return _FusedMamba2.apply(
        x, mixer.in_proj.weight, mixer.conv_weight, mixer.conv_bias, mixer.dt_bias, mixer.A_log, mixer.D,
        mixer.norm_weight, mixer.out_proj.weight, dims, mm, True,
        None if pre_norm is None else pre_norm[0], None if pre_norm is None else pre_norm[1], residual,
    )
