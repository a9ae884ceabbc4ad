"""Fused order-2 causal Hyena operator: in-projection, short conv, gated FFT long conv, out-projection.

For x (B, L, D)::

    u = x W_in^T + b_in                          (B, 3D, L) channel-major (the bias added per group)
    [x1, x2, v] = short_conv(u)                  3 x (B, D, L)
    z = causal_conv(k + skip * delta_0, x2 * v)  (B, D, L)   (FFT, size n = fft_size(L))
    out = (x1 * z)^T W_out^T + b_out             (B, L, D)

The elementwise work and the FFTs run channel group by channel group (a few channels at a time) in
reused workspace buffers, so the transients stay in cache and no large tensor is allocated per op.
Forward saves only x (in the matmul dtype, or the residual input with its LayerNorm statistics, and the
normalised input when the matmul dtype is narrower), z, the filter's spectrum under bf16 autocast or the
filter itself otherwise (keeps_filter_spectrum), and u when asked to (keep_in_proj); backward recomputes the normalised input (otherwise), u, the short
conv, the gated input and its spectrum, then computes the projections' gradients and the LayerNorm backward
in one pass over position blocks. The FFTs go through :mod:`genoseq.ops.cpu_fft` (reused MKL plans).
Matmuls run in the autocast dtype when autocast is on (bf16), all elementwise work and the FFTs in float32
(float64 for float64 inputs).

Groups can run on worker threads (:func:`genoseq.ops._groups.set_group_threads`); the result does not
depend on it.
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F
from torch import Tensor

from genoseq.ops import cpu_fft
from genoseq.ops._groups import WorkerSums, map_groups
from genoseq.ops.fftconv import fast_fft_len, fft_size, long_conv_direct
from genoseq.ops.prenorm import (
    Norm,
    blocks,
    keeps_normalised,
    matmul_dtype,
    mul_into,
    norm_backward_rows,
    normalize,
    residual_add,
)
from genoseq.ops.rows import accumulate

CONV_IMPL = "fft"  # "direct": the O(L^2) oracle inside the fused operator (tests: exact causality)
_GROUP_ELEMS = 1 << 19  # target channels * n per group (G = 8 at L = 32k)
_WINDOWED_MIN_LEN = 2048  # positions per row from which the short-conv weight gradient takes the windowed accumulator
_WGRAD_PIECE = 2048  # positions per piece of that accumulator: (3 G, K, piece) float32 is 0.6 MB at G = 8, K = 3
_MIN_GROUP = 4  # rows per FFT call at least (batched rows transform faster per row)


def _group_slices(D: int, B: int, n: int) -> list[slice]:
    step = max(1, min(D, max(_MIN_GROUP, _GROUP_ELEMS // max(1, B * n))))
    return [slice(lo, min(D, lo + step)) for lo in range(0, D, step)]


class _Workspace:
    """Buffers of one thread for groups of G channels, reused across calls. One FFT call per direction and
    group over the rows R = [filter (G); gated input (B*G); dz (B*G), backward only].

    With ``backward`` (training): the spectra RF and inverse transforms Z (z (B*G) forward; [dk (G); dvg (G)]
    backward, B = 1) have buffers of their own, and R keeps its zero tails. Forward only (long inference, where
    memory counts): the transforms run in place, R's rows padded to 2 (n // 2 + 1) with RF a complex view of
    them and z written back over the gated-input rows; the tails are zeroed again at each load."""

    def __init__(self, B: int, G: int, L: int, n: int, cdt: torch.dtype, backward: bool = True) -> None:
        BG = B * G
        self.B, self.G, self.L, self.n = B, G, L, n
        self.inplace = not backward
        self.U = torch.empty(B, 3, G, L, dtype=cdt)  # short-conv inputs in the compute dtype; backward: du
        self.C = torch.empty(B, 3, G, L, dtype=cdt)  # short-conv outputs x1, x2, v
        self.dC = torch.empty(B, 3, G, L, dtype=cdt) if backward else None  # their gradients
        width = 2 * (n // 2 + 1) if self.inplace else n
        self.R = torch.zeros(G + (2 if backward else 1) * BG, width, dtype=cdt)  # zero-padded FFT inputs
        self.Kp, self.P = self.R[:G], self.R[G : G + BG].view(B, G, width)
        self.Q = self.R[G + BG :].view(B, G, n) if backward else None
        if self.inplace:
            self.RF = torch.view_as_complex(self.R.view(self.R.shape[0], width // 2, 2))
            self.Z = self.R[G:, :n]
        else:
            cplx = torch.complex128 if cdt == torch.float64 else torch.complex64
            self.RF = torch.empty(self.R.shape[0], n // 2 + 1, dtype=cplx)
            self.Z = torch.empty(2 * BG, n, dtype=cdt)


_workspaces: dict[int, dict[tuple, _Workspace]] = {}  # thread id -> {shape key: workspace}


def _workspace(B: int, G: int, L: int, n: int, cdt: torch.dtype, backward: bool = True) -> _Workspace:
    """This thread's workspace for the shape, made once and kept (see clear_workspaces); ``backward=False``:
    without the gradient buffers (forward only)."""
    key = (B, G, L, n, cdt, backward, torch.is_inference_mode_enabled())  # inference tensors: read-only outside
    mine = _workspaces.setdefault(threading.get_ident(), {})
    if key not in mine:
        if len(mine) >= 2:  # a full group and a remainder group; anything else is a new shape
            mine.clear()
        with torch.inference_mode(False):  # normal tensors: usable both inside and outside inference mode
            mine[key] = _Workspace(B, G, L, n, cdt, backward)
    return mine[key]


def clear_workspaces() -> None:
    """Free the cached per-thread buffers of the fused Hyena operator."""
    _workspaces.clear()


def _short_conv_group(uu: Tensor, w: Tensor, b: Tensor, out: Tensor) -> None:
    """out (B, 3, G, L) = b + sum_j w[..., j] * uu shifted right by K-1-j (causal, zero history)."""
    K, L = w.shape[-1], uu.shape[-1]
    torch.addcmul(b[..., None], uu, w[..., K - 1 :], out=out)
    for j in range(K - 1):
        s = K - 1 - j
        if s < L:
            out[..., s:].addcmul_(uu[..., : L - s], w[..., j : j + 1])


def _load_group(ws: _Workspace, sl: slice, u, conv_w, conv_b, k, skip, D: int, in_b: Tensor | None = None) -> None:
    """Short conv of the group's three streams into ws.C, the gated input x2 * v into ws.P, the filter
    (k + skip at lag 0) into ws.Kp unless k is None (its spectrum saved by the forward). ``in_b`` (3D,) in the
    compute dtype: the in-projection bias, added here when u was computed without it."""
    B, K, L = u.shape[0], conv_w.shape[-1], ws.L
    if ws.inplace:
        ws.R[:, L:].zero_()  # the last in-place transforms left data in the padding
    ws.U.copy_(u.view(B, 3, D, L)[:, :, sl])  # (B, 3, G, L) in the compute dtype
    if in_b is not None:  # after the converting copy: a mixed-dtype add takes an unvectorised path (~1.5x)
        ws.U.add_(in_b.view(3, D)[:, sl, None])
    w = conv_w.view(3, D, K)[:, sl].to(ws.C.dtype)
    b = conv_b.view(3, D)[:, sl].to(ws.C.dtype)
    _short_conv_group(ws.U, w, b, ws.C)
    torch.mul(ws.C[:, 1], ws.C[:, 2], out=ws.P[..., :L])
    if k is not None:
        ws.Kp[:, :L].copy_(k[sl])
        ws.Kp[:, 0].add_(skip[sl])


def _conv(ws: _Workspace) -> Tensor:
    """z (B, G, L): causal convolution of the gated input ws.P with the filter ws.Kp."""
    L, n, BG, G = ws.L, ws.n, ws.B * ws.G, ws.G
    if CONV_IMPL == "direct":
        return long_conv_direct(ws.P[..., :L], ws.Kp[:, :L])
    RF = cpu_fft.rfft(ws.R[: G + BG, :n], out=ws.RF[: G + BG])  # filter and gated-input spectra
    S = RF[G:].view(ws.B, G, -1)
    S.mul_(RF[:G])
    return cpu_fft.irfft(S, n, out=ws.Z[:BG].view(ws.B, G, n))[..., :L]


def _conv_backward(ws: _Workspace, KFc: Tensor | None) -> tuple[Tensor, Tensor]:
    """(dvg (B, G, L), dk (G, L)) for dz in ws.Q: dvg[s] = sum_t dz[t] k[t - s], dk[j] = sum_t dz[t] vg[t - j].
    KFc (G, n // 2 + 1): the conjugated filter spectrum saved by the forward, else None (ws.Kp holds the
    filter). Conjugates are taken in place, physically: a product with a lazily conjugated view costs ~2x."""
    L, n, B, G = ws.L, ws.n, ws.B, ws.G
    if CONV_IMPL == "direct":
        dz, vg, k = ws.Q[..., :L], ws.P[..., :L], ws.Kp[:, :L]
        dvg = long_conv_direct(dz.flip(-1), k).flip(-1)  # correlation = reversed convolution
        dk = long_conv_direct(dz.flip(-1).transpose(0, 1).reshape(1, G * B, L),
                              vg.transpose(0, 1).reshape(G * B, L)).view(G, B, L).sum(1).flip(-1)
        return dvg, dk
    if KFc is None:
        RF = cpu_fft.rfft(ws.R, out=ws.RF)  # filter, gated input and dz spectra in one call
        KFc = RF[:G].conj_physical_()
    else:
        RF = ws.RF
        cpu_fft.rfft(ws.R[G:], out=RF[G:])  # gated input and dz spectra
    BG = B * G
    S, DZ = RF[G : G + BG].view(B, G, -1).conj_physical_(), RF[G + BG :].view(B, G, -1)  # S: conj(spectrum)
    if B == 1:  # in place: S <- DZ conj(S) (the dk spectrum), DZ <- DZ conj(KF) (the dvg spectrum)
        S.mul_(DZ)
        DZ.mul_(KFc)
        Z = cpu_fft.irfft(RF[G:], n, out=ws.Z)  # rows [dk (G); dvg (G)]
        return Z[G:, :L].view(1, G, L), Z[:G, :L]
    dk = cpu_fft.irfft((DZ * S).sum(0), n)[:, :L]
    return cpu_fft.irfft(DZ.mul_(KFc), n, out=ws.Z[:BG].view(B, G, n))[..., :L], dk


def _forward_group(ws: _Workspace, sl: slice, u, in_b, conv_w, conv_b, k, skip, y, z_save, kf_save, D: int):
    _load_group(ws, sl, u, conv_w, conv_b, k, skip, D, in_b)
    z = _conv(ws)  # (B, G, L) in the compute dtype, scratch
    z_save[:, sl].copy_(z)
    mul_into(y[:, sl], z, ws.C[:, 0])  # z is spent after the copy above
    if kf_save is not None:
        torch.conj_physical(ws.RF[: ws.G], out=kf_save[sl])  # the filter spectrum, conjugated, for the backward


def _backward_group(ws: _Workspace, sl: slice, u, in_b, conv_w, conv_b, k, kf, skip, z, dy, du, dk, dconv_w,
                    dconv_b, D: int):
    """One channel group's backward; the filter comes from k (loaded into ws.Kp) or its spectrum kf. The
    group's rows of dy are overwritten with the out-projection input x1 * z once read."""
    B, K, L = u.shape[0], conv_w.shape[-1], ws.L
    _load_group(ws, sl, u, conv_w, conv_b, k if kf is None else None, skip, D, in_b)
    x1, x2, v = ws.C[:, 0], ws.C[:, 1], ws.C[:, 2]
    dyg, zg = dy[:, sl], z[:, sl]
    if dyg.dtype == x1.dtype:
        torch.mul(dyg, x1, out=ws.Q[..., :L])  # dz
        torch.mul(dyg, zg, out=ws.dC[:, 0])  # dx1
        torch.mul(zg, x1, out=dyg)  # the out-projection input, for its weight gradient, over the spent dy rows
    else:  # narrower dy and z (bf16 autocast): converted first (mixed-dtype products are unvectorised), in
        # dC's rows, which are written only later
        dyf, zf, x1z = ws.dC[:, 0], ws.dC[:, 1], ws.dC[:, 2]
        dyf.copy_(dyg)
        zf.copy_(zg)
        torch.mul(dyf, x1, out=ws.Q[..., :L])  # dz
        dyg.copy_(torch.mul(zf, x1, out=x1z))  # the out-projection input, over the spent dy rows
        dyf.mul_(zf)  # dx1
    dvg, dk_g = _conv_backward(ws, None if kf is None else kf[sl])
    dk[sl] = dk_g
    torch.mul(dvg, v, out=ws.dC[:, 1])  # dx2
    torch.mul(dvg, x2, out=ws.dC[:, 2])  # dv
    # short-conv backward: dw[j] = sum_t dC[t] u[t - (K-1-j)]; du[t] = sum_j w[j] dC[t + K-1-j]
    w = conv_w.view(3, D, K)[:, sl].to(ws.C.dtype)
    dC, uu = ws.dC, ws.U
    dconv_w.view(3, D, K)[:, sl] = _short_conv_weight_grad(dC, uu, K)
    dconv_b.view(3, D)[:, sl] = dC.sum((0, -1))
    dU = torch.mul(dC, w[..., K - 1 :], out=uu)  # u is no longer needed: du overwrites it
    for j in range(K - 1):
        s = K - 1 - j
        if s < L:
            dU[..., : L - s].addcmul_(dC[..., s:], w[..., j : j + 1])
    du.view(B, 3, D, L)[:, :, sl] = dU


def keeps_filter_spectrum(mdt: torch.dtype, cdt: torch.dtype) -> bool:
    """Whether the forward keeps the conjugated filter spectrum (D, n // 2 + 1) for the backward instead of
    the filter k (D, L): one transform of G rows less per backward group (~1.5% of a training step) for twice
    k's memory (complex, n ~ 2L). Taken when the matmuls run narrower than the elementwise work (bf16 autocast),
    where the other saved tensors are half size; in float32 / float64 the memory goes first."""
    return mdt.itemsize < cdt.itemsize


def _short_conv_weight_grad(dC: Tensor, U: Tensor, K: int) -> Tensor:
    """dw (3, G, K), dw[..., j] = sum_{b, t} dC[b, ..., t + s] U[b, ..., t] with s = K-1-j, for dC and U (B, 3, G, L).

    Rows of at least _WINDOWED_MIN_LEN positions: over pieces of _WGRAD_PIECE positions, one multiply-add of the K
    shifted windows of dC (an overlapping (rows, K, piece) view) by U into a (rows, K, piece) accumulator that
    stays in cache, summed over its last dim once at the end, plus the few terms t >= m = L-K+1 of shifts
    s < K-1. (One matrix-vector product per row over the windows took ~1.3-1.9x as long: BLAS copies the
    overlapping view first.) Shorter rows: a product and a sum per tap over all rows at once."""
    B, _, G, L = dC.shape
    if L < max(K, _WINDOWED_MIN_LEN):  # short rows (and many of them): one product and sum per tap over all rows at once
        return torch.stack([(dC[..., K - 1 - j :] * U[..., : L - (K - 1 - j)]).sum((0, -1)) if K - 1 - j < L
                            else dC.new_zeros(3, G) for j in range(K)], -1)
    m = L - K + 1
    a, u = dC.reshape(B * 3 * G, L), U.reshape(B * 3 * G, L)
    piece = min(m, _WGRAD_PIECE)
    acc = dC.new_zeros(a.shape[0], K, piece)  # acc[r, s, t] = sum over pieces p0 of a[r, p0 + t + s] u[r, p0 + t]
    for p0 in range(0, m, piece):
        n = min(piece, m - p0)
        windows = a[:, p0 : p0 + n + K - 1].unfold(-1, n, 1)  # (rows, K, n): windows[r, s, t] = a[r, p0 + s + t]
        acc[..., :n].addcmul_(windows, u[:, None, p0 : p0 + n])
    by_shift = acc.sum(-1)  # (rows, K) over t < m
    for s in range(K - 1):
        by_shift[:, s] += (a[:, m + s :] * u[:, m : L - s]).sum(-1)
    return by_shift.view(B, 3 * G, K).sum(0).flip(-1).view(3, G, K)


def _run(fn, D: int, B: int, L: int, n: int, cdt: torch.dtype) -> None:
    groups = _group_slices(D, B, n)
    map_groups(lambda sl: fn(_workspace(B, sl.stop - sl.start, L, n, cdt), sl), groups, B * L)


def _in_proj(x: Tensor, w: Tensor) -> Tensor:
    """x (B, L, D) -> u (B, 3D, L) = W x^T, channel-major, without a transpose copy. The bias is left to the
    channel groups, which add it in the compute dtype while loading their rows: an addmm with a (3D, 1) bias
    would first broadcast it over the whole (3D, L) output (a pass over memory as long as the product's)."""
    if x.shape[0] == 1:
        return torch.mm(w, x[0].t()).unsqueeze(0)
    return torch.matmul(w, x.transpose(1, 2))


def _out_proj(y: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """y (B, D, L) -> (B, L, D) = y^T W^T + b (batch 1: a 2-D product on the transposed view, no copy)."""
    if y.shape[0] == 1:
        return F.linear(y[0].t(), w, b).unsqueeze(0)
    return F.linear(y.transpose(-1, -2), w, b)


def _out_proj_blocks(y: Tensor, w: Tensor, b: Tensor, residual: Tensor | None) -> Tensor:
    """:func:`_out_proj` plus the residual (B, L, D) when given (then in its dtype), position block by block on
    the group workers: each block's product is added while it is in cache."""
    B, D, L = y.shape
    out = torch.empty(B, L, w.shape[0], dtype=y.dtype if residual is None else residual.dtype, device=y.device)

    def job(sl: slice) -> None:
        for i in range(B):
            o = F.linear(y[i, :, sl].t(), w, b)  # (rows, D)
            if residual is None:
                out[i, sl] = o
            else:
                residual_add(out[i, sl], residual[i, sl], o)

    map_groups(job, blocks(L), B * L)
    return out


def _out_proj_input_grad(dout: Tensor, w: Tensor) -> Tensor:
    """dy (B, D, L) = W^T dout^T for dout (B, L, D_out) and the out-projection weight w (D_out, D) in the
    matmul dtype: position block by block on the group workers, each block of dout converted to that dtype
    on the way (no whole converted copy of dout, and no serial product of the whole length)."""
    B, L, _ = dout.shape
    dy = torch.empty(B, w.shape[1], L, dtype=w.dtype, device=dout.device)

    def job(sl: slice) -> None:
        for b in range(B):
            torch.mm(w.t(), dout[b, sl].to(w.dtype).t(), out=dy[b, :, sl])

    map_groups(job, blocks(L), B * L)
    return dy


class _HyenaOrder2(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, ln_w, ln_b, in_w, in_b, conv_w, conv_b, k, skip, out_w, out_b, mdt, eps, residual, keep_u):
        B, L, D = x.shape
        cdt = torch.float64 if x.dtype == torch.float64 else torch.float32
        n = fft_size(L)
        norm = Norm(ln_w, ln_b, eps) if eps is not None else None
        with torch.autocast(device_type=x.device.type, enabled=False):
            if norm is not None:  # x is the residual stream h; xm = LayerNorm(h) in the matmul dtype
                xm, mean, rstd = normalize(x.reshape(B * L, D), norm, mdt, with_stats=True)
                xm = xm.view(B, L, D)
            else:
                xm, mean, rstd = x.to(mdt), None, None
            u = _in_proj(xm, in_w.to(mdt))  # (B, 3D, L); the groups add the bias as they load their rows
            bc = in_b.to(cdt)
            y = torch.empty(B, D, L, dtype=mdt, device=x.device)
            z = torch.empty(B, D, L, dtype=mdt, device=x.device)
            kc, sc = k.to(cdt), skip.to(cdt)
            cplx = torch.complex128 if cdt == torch.float64 else torch.complex64
            grads = any(ctx.needs_input_grad)
            spectrum = grads and CONV_IMPL == "fft" and keeps_filter_spectrum(mdt, cdt)
            kf = torch.empty(D, n // 2 + 1, dtype=cplx) if spectrum else None

            def fn(ws, sl):
                _forward_group(ws, sl, u, bc, conv_w, conv_b, kc, sc, y, z, kf, D)

            _run(fn, D, B, L, n, cdt)
            u = u if grads and keep_u else None  # else recomputed in backward
            # the normalised input in a narrower matmul dtype (bf16 under autocast) is kept: half the size of x
            xm = xm if grads and norm is not None and keeps_normalised(mdt, x) else None
            out = _out_proj_blocks(y, out_w.to(mdt), out_b.to(mdt), x if residual else None)
        saved_x = x if norm is not None else x.to(mdt)  # xm for the backward (u = W_in xm^T unless kept)
        ctx.save_for_backward(saved_x, mean, rstd, ln_w, ln_b, z, k if kf is None else kf, skip, in_w, in_b, conv_w,
                              conv_b, out_w, xm)
        ctx.mdt, ctx.cdt, ctx.xdt, ctx.eps, ctx.residual = mdt, cdt, x.dtype, eps, residual
        ctx.u = u  # an intermediate: the first backward takes it and writes du over it (a second one recomputes)
        ctx.spectrum, ctx.kdt = kf is not None, k.dtype
        return out

    @staticmethod
    def backward(ctx, dout):
        x, mean, rstd, ln_w, ln_b, z, k, skip, in_w, in_b, conv_w, conv_b, out_w, xm = ctx.saved_tensors
        u, ctx.u = ctx.u, None
        kf, k = (k, None) if ctx.spectrum else (None, k)
        mdt, cdt = ctx.mdt, ctx.cdt
        B, D, L = z.shape
        n = fft_size(L)
        norm = Norm(ln_w, ln_b, ctx.eps) if ctx.eps is not None else None
        with torch.autocast(device_type=dout.device.type, enabled=False):
            if xm is None:  # else kept by the forward
                xm = normalize(x.reshape(B * L, D), norm, mdt, with_stats=False)[0].view(B, L, D) if norm else x
            if u is None:
                u = _in_proj(xm, in_w.to(mdt))  # (B, 3D, L) without the bias, recomputed
            dy = _out_proj_input_grad(dout, out_w.to(mdt))  # (B, D, L)
            du = u  # each group reads its rows of u first and writes its rows of du last
            dk = torch.empty(D, L, dtype=cdt, device=z.device)
            dconv_w = torch.empty(conv_w.shape, dtype=cdt, device=z.device)
            dconv_b = torch.empty(conv_b.shape, dtype=cdt, device=z.device)
            kc, sc, bc = (None if k is None else k.to(cdt)), skip.to(cdt), in_b.to(cdt)

            def fn(ws, sl):
                _backward_group(ws, sl, u, bc, conv_w, conv_b, kc, kf, sc, z, dy, du, dk, dconv_w, dconv_b, D)

            _run(fn, D, B, L, n, cdt)
            # the groups left the out-projection input x1 * z in dy's buffer: its gradients first, so that the
            # buffer is freed before the tail allocates dx (the step's memory peak is in the last layer's tail)
            d_out_w, d_out_b = _out_proj_grads(dout, dy)
            u = dy = None
            res = dout if ctx.residual else None
            dx, d_ln_w, d_ln_b, d_in_w, d_in_b = _backward_tail(du, xm, in_w.to(mdt), x, mean, rstd, norm, res, ctx.xdt)
            dskip = dk[:, 0].clone()
        return (dx, d_ln_w, d_ln_b, d_in_w.to(in_w.dtype), d_in_b.to(in_w.dtype), dconv_w.to(conv_w.dtype),
                dconv_b.to(conv_b.dtype), dk.to(ctx.kdt), dskip.to(skip.dtype), d_out_w.to(out_w.dtype),
                d_out_b.to(out_w.dtype), None, None, None, None)


def _out_proj_grads(dout: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """d_out_w (D_out, D) = sum_t dm[t]^T y[:, t]^T and d_out_b = sum_t dm[t] for the out-projection input y
    (B, D, L) in the matmul dtype and dm = dout (B, L, D_out) in that dtype (converted block by block), from
    per-block products summed per worker in float32 (float64 for float64)."""
    B, L, D = dout.shape
    acc = torch.float64 if y.dtype == torch.float64 else torch.float32
    sums = WorkerSums(lambda: [torch.zeros(D, y.shape[1], dtype=acc), torch.zeros(D, dtype=acc)])

    def job(sl: slice) -> None:
        mine = sums.mine()
        for b in range(B):
            dmb = dout[b, sl].to(y.dtype)  # (n, D_out)
            accumulate(mine[0], torch.mm(dmb.t(), y[b, :, sl].t()))
            mine[1] += dmb.sum(0)

    map_groups(job, blocks(L), B * L)
    d_out_w, d_out_b = sums.totals()
    return d_out_w, d_out_b


def _backward_tail(du: Tensor, xm: Tensor, in_w: Tensor, x: Tensor, mean, rstd, norm: Norm | None,
                   residual: Tensor | None, xdt: torch.dtype):
    """The in-projection's gradients and the LayerNorm backward in one pass over position blocks (workers).

    du (B, 3D, L) in-projection output gradient and xm (B, L, D) its input, both in the matmul dtype;
    x (B, L, D) the branch input; residual (B, L, D) the output gradient added to dx, or None. Returns (dx,
    d_ln_w, d_ln_b, d_in_w, d_in_b); the weight and bias sums accumulate per worker in float32 (float64 for
    float64) from per-block products."""
    B, L, D = xm.shape
    acc = torch.float64 if xm.dtype == torch.float64 else torch.float32
    dx = torch.empty(B, L, D, dtype=xdt, device=xm.device)
    shapes = (tuple(in_w.shape), (in_w.shape[0],))
    sums = WorkerSums(lambda: [torch.zeros(s, dtype=acc) for s in shapes] + [None, None])

    def job(sl: slice) -> None:
        mine = sums.mine()
        for b in range(B):
            dub = du[b, :, sl]  # (3D, n)
            accumulate(mine[0], torch.mm(dub, xm[b, sl]))
            mine[1] += dub.sum(1)
            g = torch.mm(dub.t(), in_w)  # (n, D): gradient of the normalised rows
            if norm is not None:
                rows = slice(b * L + sl.start, b * L + sl.stop)
                g = norm_backward_rows(g, x[b, sl], mean[rows], rstd[rows], norm, mine, 2)
            else:
                g = g.to(xdt)
            if residual is not None:
                g += residual[b, sl]
            dx[b, sl] = g

    map_groups(job, blocks(L), B * L)
    d_in_w, d_in_b, d_ln_w, d_ln_b = sums.totals()  # the LayerNorm's stay None without it
    return dx, d_ln_w, d_ln_b, d_in_w, d_in_b


def hyena_order2(x: Tensor, in_w: Tensor, in_b: Tensor, conv_w: Tensor, conv_b: Tensor, k: Tensor, skip: Tensor,
                 out_w: Tensor, out_b: Tensor, norm: Norm | None = None, residual: bool = False,
                 keep_in_proj: bool = False) -> Tensor:
    """Causal order-2 Hyena mixer, fused (see the module docstring). x (B, L, D); in_w (3D, D); in_b (3D,);
    conv_w (3D, K); conv_b (3D,); k (D, L) filter for lags 0..L-1 (skip not folded in); skip (D,);
    out_w (D, D); out_b (D,). Returns (B, L, D) in the autocast dtype when autocast is on, else x's dtype.

    With ``norm`` the mixer reads LayerNorm(x) (normalised in blocks, recomputed in backward); with
    ``residual`` it returns x + mixer(...) in x's dtype (a pre-norm residual branch in one op).

    ``keep_in_proj``: keep the in-projection u (B, 3D, L) for the backward instead of recomputing it there
    (one matmul less). Worth it where the op's backward runs at the step's memory peak anyway, as in a
    model's last block: its backward comes first, while every other layer's activations are still held, and
    the recompute would allocate the same buffer at that moment."""
    if norm is None:
        return _HyenaOrder2.apply(x, None, None, in_w, in_b, conv_w, conv_b, k, skip, out_w, out_b,
                                  matmul_dtype(x), None, residual, keep_in_proj)
    return _HyenaOrder2.apply(x, norm.weight, norm.bias, in_w, in_b, conv_w, conv_b, k, skip, out_w, out_b,
                              matmul_dtype(x), norm.eps, residual, keep_in_proj)


# ---------------------------------------------------------------------------------------------- streaming
def chunk_fft_size(T: int, n_out: int, support: int) -> int:
    """FFT size for the last ``n_out`` outputs over a history of T inputs with a filter of ``support`` lags.

    The full linear convolution has T + Kk - 1 outputs (Kk = min(T, support)); with n >= n_out + Kk - 1
    the circular wrap lands on outputs before the kept ones, and n >= T holds the whole history.
    """
    return fast_fft_len(max(T, n_out + min(T, support) - 1))


class _ChunkWorkspace:
    """Per-thread buffers for one chunk shape; the history rows keep their zero tails."""

    def __init__(self, B: int, G: int, K: int, Lc: int, n: int, cdt: torch.dtype) -> None:
        cplx = torch.complex128 if cdt == torch.float64 else torch.complex64
        self.U = torch.empty(B, 3, G, K - 1 + Lc, dtype=cdt)  # conv state then the chunk's in-projection
        self.C = torch.empty(B, 3, G, Lc, dtype=cdt)  # short-conv outputs x1, x2, v
        self.R = torch.zeros(B, G, n, dtype=cdt)  # history then gated input, zero-padded
        self.RF = torch.empty(B, G, n // 2 + 1, dtype=cplx)
        self.Z = torch.empty(B, G, n, dtype=cdt)


def _chunk_workspace(B: int, G: int, K: int, Lc: int, T: int, n: int, cdt: torch.dtype) -> _ChunkWorkspace:
    key = ("chunk", B, G, K, Lc, T, n, cdt, torch.is_inference_mode_enabled())  # T: the zero tail starts there
    mine = _workspaces.setdefault(threading.get_ident(), {})
    if key not in mine:
        if len(mine) >= 2:
            mine.clear()
        with torch.inference_mode(False):  # normal tensors: usable both inside and outside inference mode
            mine[key] = _ChunkWorkspace(B, G, K, Lc, n, cdt)
    return mine[key]


def hyena_order2_chunk(x: Tensor, in_w: Tensor, in_b: Tensor, conv_w: Tensor, conv_b: Tensor, kf: Tensor, n: int,
                       out_w: Tensor, out_b: Tensor, conv_state: Tensor, hist: Tensor, keep: int
                       ) -> tuple[Tensor, Tensor, Tensor]:
    """One streaming chunk of the causal order-2 Hyena mixer, without autograd.

    x (B, Lc, D); conv_state (B, 3D, K-1) the previous in-projections; hist (B, D, T0) the previous gated
    conv inputs; kf (D, n // 2 + 1) the rfft at size n = chunk_fft_size(T0 + Lc, Lc, support) of the filter
    (skip folded into lag 0, lags beyond the support zero). Returns (out (B, Lc, D), new conv_state, new
    history: the last min(T0 + Lc, keep) gated inputs).
    """
    B, Lc, D = x.shape
    K, T0 = conv_w.shape[-1], hist.shape[-1]
    T = T0 + Lc
    dev = x.device.type
    mdt = matmul_dtype(x)
    cdt = torch.float64 if x.dtype == torch.float64 else torch.float32
    with torch.no_grad(), torch.autocast(device_type=dev, enabled=False):
        u = _in_proj(x.to(mdt), in_w.to(mdt))  # (B, 3D, Lc), without the bias
        y = torch.empty(B, D, Lc, dtype=mdt, device=x.device)
        new_hist = torch.empty(B, D, min(T, keep), dtype=hist.dtype, device=x.device)
        new_conv = torch.empty(B, 3 * D, K - 1, dtype=conv_state.dtype, device=x.device)
        w_all = conv_w.view(3, D, K).to(cdt)
        b_all = conv_b.view(3, D).to(cdt)
        in_b_all = in_b.view(3, D).to(cdt)

        def fn(sl: slice) -> None:
            G = sl.stop - sl.start
            ws = _chunk_workspace(B, G, K, Lc, T, n, cdt)
            U, C, P = ws.U, ws.C, ws.R
            U[..., : K - 1] = conv_state.view(B, 3, D, K - 1)[:, :, sl]
            torch.add(u.view(B, 3, D, Lc)[:, :, sl], in_b_all[:, sl, None], out=U[..., K - 1 :])
            w, b = w_all[:, sl], b_all[:, sl]
            torch.addcmul(b[..., None], U[..., :Lc], w[..., :1], out=C)
            for j in range(1, K):
                C.addcmul_(U[..., j : j + Lc], w[..., j : j + 1])
            new_conv.view(B, 3, D, K - 1)[:, :, sl] = U[..., Lc:]
            P[..., :T0] = hist[:, sl]
            torch.mul(C[:, 1], C[:, 2], out=P[..., T0:T])
            cpu_fft.rfft(P, out=ws.RF)
            ws.RF.mul_(kf[sl])
            cpu_fft.irfft(ws.RF, n, out=ws.Z)
            torch.mul(ws.Z[..., T - Lc : T], C[:, 0], out=y[:, sl])
            new_hist[:, sl] = P[..., T - new_hist.shape[-1] : T]

        map_groups(fn, _group_slices(D, B, n), B * Lc)
        out = _out_proj(y, out_w.to(mdt), out_b.to(mdt))
    return out, new_conv, new_hist
