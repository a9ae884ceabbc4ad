"""Fused training path of the Mamba-1 mixer: one autograd node per mixer, backward written by hand.

Same map as ``MambaMixer._mix`` from a zero state (see genoseq/model/mamba.py)::

    x (B, L, D) -> in_proj -> [u0, z] (E each)                               E = d_inner
    u = silu(causal depthwise conv(u0) + bias)
    [dt_low (R), B (N), C (N)] = x_proj(u);  dt = softplus(dt_proj(dt_low) + dt_bias)
    y = (selective_scan(u, dt, -exp(A_log), B, C) + D u) * silu(z);  out = out_proj(y)

The sequence runs block by block (the scan state and the conv's K-1 rows of history carried between
blocks), so everything of size (block x E) stays small. Forward keeps only the input x, ``ys`` = scan output
+ D u (B, L, E) and the state entering each block; backward walks the blocks in reverse, recomputes the
projections, the conv and the scan inputs of each block, runs the scan's adjoint
(:func:`genoseq.ops.selective_scan.block_backward`) and accumulates the parameter gradients. The unfused
mixer keeps ~20 activations of (L x E) for autograd instead of these two. Elementwise work and the scan run
in float32 (float64 for float64 input); the projections in the autocast dtype under ``torch.autocast``.
Used for CPU training steps (see ``MambaMixer.forward``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from genoseq.ops.prenorm import blocks, matmul_dtype
from genoseq.ops.rows import accumulate, conv_rows, conv_rows_backward, mm_rows
from genoseq.ops.selective_scan import BLOCK_ELEMENTS, LOG2_E, block_backward, block_forward


class Dims(NamedTuple):
    E: int  # d_inner
    R: int  # dt_rank
    N: int  # d_state
    K: int  # conv taps
    chunk: int
    block: int  # steps per block, a multiple of chunk


class _Front(NamedTuple):
    """One block's recomputable activations, (B, lb, ...) each."""

    ext: Tensor  # conv input window (B, lb + K - 1, E), compute dtype
    z: Tensor  # gate input
    pre: Tensor  # conv output before SiLU
    u: Tensor  # SiLU(pre): the scan input
    dt_low: Tensor  # (B, lb, R) in the matmul dtype
    Bm: Tensor  # (B, lb, N)
    Cm: Tensor
    dtr: Tensor  # dt_proj(dt_low) + dt_bias, before softplus
    dt: Tensor


def _front(x_mm: Tensor, s0: int, s1: int, w: dict, dims: Dims, cdt: torch.dtype, mm: torch.dtype) -> _Front:
    """in_proj (with the conv's K-1 rows of history, zeros before position 0), conv, SiLU, x_proj, dt."""
    E, R, N, K = dims.E, dims.R, dims.N, dims.K
    lo = max(0, s0 - (K - 1))
    xz = mm_rows(x_mm[:, lo:s1], w["in_t"])  # (B, s1 - lo, 2E)
    ext = xz[..., :E].to(cdt)
    if s0 - lo < K - 1:
        ext = F.pad(ext, (0, 0, K - 1 - (s0 - lo), 0))
    z = xz[:, s0 - lo :, E:].to(cdt)
    pre = conv_rows(ext, w["conv_t"], w["conv_b"])  # (B, lb, E)
    u = F.silu(pre)
    xdbl = mm_rows(u.to(mm), w["x_t"])  # (B, lb, R + 2N)
    dt_low = xdbl[..., :R]
    dtr = mm_rows(dt_low, w["dt_t"]).to(cdt).add_(w["dt_bias"])  # (B, lb, E)
    return _Front(ext, z, pre, u, dt_low, xdbl[..., R : R + N].to(cdt), xdbl[..., R + N :].to(cdt), dtr,
                  F.softplus(dtr))


def _scan_layout(f: _Front) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The block's scan inputs in the layout of block_forward: dt, du (B, 1, E, lb); B, C (B, 1, N, lb)."""
    return (f.dt.transpose(1, 2).unsqueeze(1), (f.dt * f.u).transpose(1, 2).unsqueeze(1),
            f.Bm.transpose(1, 2).unsqueeze(1), f.Cm.transpose(1, 2).unsqueeze(1))


class _FusedMamba(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w_in, conv_w, conv_b, w_x, w_dt, dt_bias, A_log, D, w_out, dims: Dims, mm):
        E, N = dims.E, dims.N
        bsz, L, dm = x.shape
        cdt = torch.float64 if x.dtype == torch.float64 else torch.float32
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            w = _weights(w_in, conv_w, conv_b, w_x, w_dt, dt_bias, cdt, mm)
            w_out_t = w_out.to(mm).t()  # (E, D)
            x_mm = x.to(mm)
            A2 = (-torch.exp(A_log.to(cdt)) * LOG2_E).t().unsqueeze(0)  # (1, N, E)
            Dc = D.to(cdt)
            bounds = blocks(L, dims.block)
            ys_all = x.new_empty(bsz, L, E, dtype=cdt)  # scan output + D u, kept for backward
            starts = x.new_empty(len(bounds), bsz, 1, N, E, dtype=cdt)  # the state entering each block
            out = x.new_empty(bsz, L, dm, dtype=mm)
            h = x.new_zeros(bsz, 1, N, E, dtype=cdt)
            for i, sl in enumerate(bounds):
                s0, s1 = sl.start, sl.stop
                f = _front(x_mm, s0, s1, w, dims, cdt, mm)
                starts[i] = h
                dt_g, du_g, B_g, C_g = _scan_layout(f)
                y, h = block_forward(dt_g, du_g, A2, B_g, C_g, h, dims.chunk)
                ys = y[:, 0].transpose(1, 2).addcmul(f.u, Dc)  # (B, lb, E)
                ys_all[:, s0:s1] = ys
                out[:, s0:s1] = mm_rows((ys * F.silu(f.z)).to(mm), w_out_t)
        ctx.save_for_backward(x, w_in, conv_w, conv_b, w_x, w_dt, dt_bias, A_log, D, w_out, ys_all, starts)
        ctx.dims, ctx.mm = dims, mm
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout):
        x, w_in, conv_w, conv_b, w_x, w_dt, dt_bias, A_log, D, w_out, ys_all, starts = ctx.saved_tensors
        dims, mm = ctx.dims, ctx.mm
        E, R, N, K = dims.E, dims.R, dims.N, dims.K
        bsz, L, dm = x.shape
        cdt = ys_all.dtype
        silu_backward = torch.ops.aten.silu_backward.grad_input
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            w = _weights(w_in, conv_w, conv_b, w_x, w_dt, dt_bias, cdt, mm)
            x_mm, dout = x.to(mm), dout.to(mm)
            A = -torch.exp(A_log.to(cdt))  # (E, N)
            A2 = (A * LOG2_E).t().unsqueeze(0)
            Dc = D.to(cdt)
            w_out_m, w_dt_m, w_x_m, w_in_m = (t.to(mm) for t in (w_out, w_dt, w_x, w_in))
            dx = torch.empty(bsz, L, dm, dtype=mm, device=x.device)
            g = {k: torch.zeros(t.shape, dtype=cdt, device=x.device) for k, t in (
                ("in", w_in), ("x", w_x), ("dt", w_dt), ("out", w_out), ("dt_bias", dt_bias), ("D", D),
                ("conv_b", conv_b))}
            g["conv_t"] = torch.zeros(K, E, dtype=cdt, device=x.device)
            g["A2"] = torch.zeros(1, N, E, dtype=cdt, device=x.device)
            g_h = x.new_zeros(bsz, 1, N, E, dtype=cdt)  # d loss / d state after the block
            halo = x.new_zeros(bsz, K - 1, E, dtype=cdt)  # d pre of the K-1 positions after the block
            bounds = blocks(L, dims.block)
            for i in range(len(bounds) - 1, -1, -1):
                s0, s1 = bounds[i].start, bounds[i].stop
                lb = s1 - s0
                f = _front(x_mm, s0, s1, w, dims, cdt, mm)
                ys, sz = ys_all[:, s0:s1], F.silu(f.z)
                dxz = torch.empty(bsz, lb, 2 * E, dtype=cdt, device=x.device)  # d in_proj output: [d u0, d z]
                # out = (ys silu(z)) W_out^T
                dout_b = dout[:, s0:s1].reshape(-1, dm)
                accumulate(g["out"], dout_b.t() @ (ys * sz).to(mm).view(-1, E))
                dgate = mm_rows(dout_b, w_out_m).view(bsz, lb, E).to(cdt)
                dys = dgate * sz
                silu_backward(dgate.mul_(ys), f.z, grad_input=dxz[..., E:])  # d z
                # ys = scan(u, dt, ...) + D u
                g["D"] += (dys * f.u).sum((0, 1))
                du = dys * Dc
                dt_g, du_g, B_g, C_g = _scan_layout(f)
                gdt, gdu, gA2, gB, gC, g_h = block_backward(dt_g, du_g, A2, B_g, C_g, starts[i], dims.chunk,
                                                            dys.transpose(1, 2).unsqueeze(1), g_h)
                g["A2"] += gA2
                gdu = gdu[:, 0].transpose(1, 2)  # (B, lb, E)
                du.addcmul_(gdu, f.dt)  # du_scan = dt u
                ddtr = gdt[:, 0].transpose(1, 2).addcmul(gdu, f.u).mul_(torch.sigmoid(f.dtr))
                g["dt_bias"] += ddtr.sum((0, 1))
                # dtr = dt_low W_dt^T + dt_bias;  [dt_low, B, C] = u W_x^T
                ddtr_m = ddtr.to(mm).reshape(-1, E)
                accumulate(g["dt"], ddtr_m.t() @ f.dt_low.reshape(-1, R))
                dxdbl = torch.cat([(ddtr_m @ w_dt_m).view(bsz, lb, R).to(cdt), gB[:, 0].transpose(1, 2),
                                   gC[:, 0].transpose(1, 2)], dim=-1).to(mm)  # (B, lb, R + 2N)
                accumulate(g["x"], dxdbl.view(-1, R + 2 * N).t() @ f.u.to(mm).view(-1, E))
                du += mm_rows(dxdbl, w_x_m).to(cdt)
                # u = silu(pre), pre = conv(ext): d ext for the block's own rows, with the halo after it
                dpre = torch.empty(bsz, lb + K - 1, E, dtype=cdt, device=x.device)
                dpre[:, lb:] = halo
                silu_backward(du, f.pre, grad_input=dpre[:, :lb])
                conv_rows_backward(dpre, f.ext, w["conv_t"], dxz[..., :E], g["conv_t"], g["conv_b"])
                halo = dpre[:, : K - 1].clone()
                dxz_m = dxz.to(mm).view(-1, 2 * E)
                dx[:, s0:s1] = (dxz_m @ w_in_m).view(bsz, lb, dm)
                accumulate(g["in"], dxz_m.t() @ x_mm[:, s0:s1].reshape(-1, dm))
            dA_log = (g["A2"][0].t() * LOG2_E) * A  # d A2 / d A_log = log2(e) * A
        return (dx.to(x.dtype), g["in"].to(w_in.dtype), g["conv_t"].t().contiguous().to(conv_w.dtype),
                g["conv_b"].to(conv_b.dtype), g["x"].to(w_x.dtype), g["dt"].to(w_dt.dtype),
                g["dt_bias"].to(dt_bias.dtype), dA_log.to(A_log.dtype), g["D"].to(D.dtype), g["out"].to(w_out.dtype),
                None, None)


def _weights(w_in, conv_w, conv_b, w_x, w_dt, dt_bias, cdt, mm) -> dict:
    """The weights in the layouts and dtypes the block functions use."""
    return {"in_t": w_in.to(mm).t(), "conv_t": conv_w.to(cdt).t().contiguous(), "conv_b": conv_b.to(cdt),
            "x_t": w_x.to(mm).t(), "dt_t": w_dt.to(mm).t(), "dt_bias": dt_bias.to(cdt)}


def fused_mamba(mixer, x: Tensor, block_len: int | None = None) -> Tensor:
    """MambaMixer forward from a zero state through :class:`_FusedMamba`: x (B, L, D) -> (B, L, D)."""
    mm = matmul_dtype(x)
    chunk = min(mixer.chunk_size, max(x.shape[1], 1))
    if block_len is None:
        block_len = BLOCK_ELEMENTS // max(1, x.shape[0] * mixer.d_inner * mixer.d_state)
    block = max(chunk, block_len // chunk * chunk)
    dims = Dims(mixer.d_inner, mixer.dt_rank, mixer.d_state, mixer.d_conv, chunk, block)
    return _FusedMamba.apply(
        x, mixer.in_proj.weight, mixer.conv_weight, mixer.conv_bias, mixer.x_proj.weight, mixer.dt_proj.weight,
        mixer.dt_proj.bias, mixer.A_log, mixer.D, mixer.out_proj.weight, dims, mm,
    )
