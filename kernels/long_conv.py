"""Gated long convolution (Hyena) as a Monarch FFT convolution built from tensor-core matmuls.

    y[b, h, t] = post[b, h, t] * (k[h] * v[b, h])[t] + skip[h] * u[b, h, t],   v = pre * u

Same contract as :func:`genoseq.ops.fftconv.long_conv` (causal ``k`` (H, L), bidirectional ``k`` (H, 2L-1)).

The circular convolution has size N = the power of two >= max(2L - 1, 256) (no wrap-around reaches the kept
outputs; the bidirectional filter is rolled by -(L-1) so its outputs also start at index 0). Two batch rows
of the same channel travel together as the real and imaginary parts of one complex signal (the filter is
real, so conv(a + ib, k) = conv(a, k) + i conv(b, k)): no FLOPs are spent on a zero imaginary part.

An N-point DFT is a Monarch product: with n = n1*M2 + n2 and frequency f = k1 + M1*k2, N = M1*M2,

    X[f] = sum_n2 w_M2^(n2 k2) * [ w_N^(n2 k1) * sum_n1 w_M1^(n1 k1) x[n1, n2] ]

i.e. (F_M1 @ X) .* T then @ F_M2 on an (M1, M2) tile: two complex matmuls (4 real ``tl.dot`` each), one
elementwise twiddle. The spectrum stays in that transposed layout, is multiplied by the filter spectrum
(precomputed once per call with torch.fft in the same layout, 1/N folded in), and the inverse runs the same
steps with conjugate matrices in reverse order, which returns the signal in natural order.

* N <= INNER_MAX (512, L <= 256): one kernel, ``long_conv_inner_kernel`` with OUTER=False, per program one
  channel and one batch pair: loads u (and pre gate), both DFTs, the product and both inverse DFTs run in
  registers, the epilogue applies post gate and skip and stores y. HBM: read u, gates, spectrum; write y.
* N > INNER_MAX: N = P * M (P >= 16 outer, M = 512 inner; N is raised to 4096 when smaller). Three kernels:
  ``long_conv_outer_fwd_kernel`` (P-point DFT down the stride-M axis as W_P @ X tiles, fused pre gate and
  twiddle w_N^(kp m)) writes the complex intermediate (fp32, N complex per batch pair) once;
  ``long_conv_inner_kernel`` (OUTER=True, 4 rows per program) runs the M-point forward DFT, the product,
  the M-point inverse and the inverse twiddle on rows of it and overwrites them in place;
  ``long_conv_outer_inv_kernel`` applies the inverse P-point DFT and fuses post gate and skip into the store
  of y. Extra HBM traffic: the intermediate is written twice and read twice (4 x 8N bytes per batch pair,
  32 bytes per (b, h, t) element). Zero padding is skipped: the forward outer pass reads only the rows
  holding data and the inverse outer pass computes only the rows holding outputs. Grid order puts the
  programs that share input columns (outer passes) or a spectrum row (inner pass) next to each other.
* P > OUTER_MAX (1024, L > 256K): five kernels. The dense P-point outer DFT (8P FLOPs per point) is itself
  split P = P1 x P2: a P1-point step with stride P2*M (from u, twiddle w_P^(k1 p2)), a P2-point step with
  stride M per k1 (buffer to buffer, twiddle w_N^(kp m)), the inner kernel, and the two inverse steps in
  reverse. Two more intermediate round trips (8 x 8N bytes per batch pair), 8 (P1 + P2) FLOPs per point.

Backward: dv = correlation of g * post with k = the same kernels with the conjugate spectrum (pre gate slot
= post gate); d_post = g * z needs z = conv(v, k), recomputed by the forward kernel without gates. d_k
(a batch reduction of spectra products), d_pre, d_u, d_skip are plain torch ops (torch.fft for d_k).

Precision: fp32 accumulation everywhere; ``tl.dot`` uses tf32x3 (about fp32 accuracy) for float32 inputs and
tf32 for float16/bfloat16 inputs. Twiddles and DFT matrices are generated in-kernel from exact integer phase
indices (k*n mod S), so no tables are read.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

INNER_MAX = 512  # largest N done fully on chip (larger tiles spill registers: see kernels/README.md)
MIN_N = 256  # smallest FFT size: a 16 x 16 tile (tl.dot needs every dimension >= 16)
MAX_N = 1 << 24  # phase indices k*n < N stay exact in int32 / fp32
OUTER_ROWS = 32  # output rows of the outer P-point DFT per program (min(P, 32))
OUTER_K = 16  # reduction chunk of the outer DFT (small: fewer live dot-operand registers)
OUTER_COLS = 64  # columns (inner index m) per outer-pass program
OUTER_MAX = 1024  # largest outer DFT done as one dense P-point pass (three-pass plan)
MAX_GRID_YZ = 65535  # CUDA grid limit on axes 1 and 2 (channels are launched in groups)
WORKSPACE_FLOATS = 1 << 28  # 1 GiB of fp32 intermediate at most per launch group (channels are grouped)
FILTER_GRAD_ELEMENTS = 1 << 26  # real elements per channel block in the filter gradient (complex spectra ~0.5 GiB)
TWO_PI: tl.constexpr = tl.constexpr(6.283185307179586)


# ---- kernels ------------------------------------------------------------------------------------------

@triton.jit
def _cis(idx, S, SIGN: tl.constexpr):
    """(cos, sin) of SIGN * 2 pi * idx / S for integer idx >= 0 and S a power of two >= 4.

    Exact integer reduction to a quadrant q and a remainder r in [-S/8, S/8], then Taylor polynomials on
    [-pi/4, pi/4] (error < 2e-9): accurate, branch-free and light on registers (libdevice sinf/cosf carry a
    Payne-Hanek slow path that costs ~100 registers).
    """
    j = idx % S
    q = (4 * j + S // 2) // S  # nearest quadrant, 0..4
    r = j - q * (S // 4)  # in [-S/8, S/8]
    x = r.to(tl.float32) * (TWO_PI / S)
    x2 = x * x
    sn = x * (1.0 + x2 * (-1.0 / 6 + x2 * (1.0 / 120 + x2 * (-1.0 / 5040 + x2 * (1.0 / 362880)))))
    cs = 1.0 + x2 * (-0.5 + x2 * (1.0 / 24 + x2 * (-1.0 / 720 + x2 * (1.0 / 40320 + x2 * (-1.0 / 3628800)))))
    q = q % 4
    c = tl.where(q == 0, cs, tl.where(q == 1, -sn, tl.where(q == 2, -cs, sn)))
    s = tl.where(q == 0, sn, tl.where(q == 1, cs, tl.where(q == 2, -sn, -cs)))
    return c, SIGN * s


@triton.jit
def _dft(S: tl.constexpr, SIGN: tl.constexpr):
    """The S x S DFT matrix exp(SIGN * 2 pi i j k / S) as (real, imag) tiles."""
    j = tl.arange(0, S)
    return _cis(j[:, None] * j[None, :], S, SIGN)


@triton.jit
def _cmm(ar, ai, br, bi, PREC: tl.constexpr):
    """Complex matrix product (ar + i ai) @ (br + i bi) as four real tl.dot."""
    rr = tl.dot(ar, br, input_precision=PREC)
    rr = tl.dot(-ai, bi, rr, input_precision=PREC)
    ri = tl.dot(ar, bi, input_precision=PREC)
    ri = tl.dot(ai, br, ri, input_precision=PREC)
    return rr, ri


@triton.jit
def _cmul(ar, ai, br, bi):
    return ar * br - ai * bi, ar * bi + ai * br


@triton.jit
def _load_pair(ptr, off0, off1, idx, L, len1):
    """Rows b0 and b1 of one channel at time indices idx, as fp32; zero at idx >= L (row b0) / len1 (row b1)."""
    r0 = tl.load(ptr + off0 + idx, mask=idx < L, other=0.0).to(tl.float32)
    r1 = tl.load(ptr + off1 + idx, mask=idx < len1, other=0.0).to(tl.float32)
    return r0, r1


@triton.jit
def _conv_tile(xr, xi, kfr, kfi, f1r, f1i, f2r, f2i, twr, twi, PREC: tl.constexpr):
    """M-point DFT of the (M1, M2) tile, times the spectrum tile, inverse DFT (natural order out)."""
    # forward: F_M1 @ X, twiddle w_M^(k1 n2), @ F_M2  ->  C[k1, k2] = X[k1 + M1 k2]
    ar, ai = _cmm(f1r, f1i, xr, xi, PREC)
    ar, ai = _cmul(ar, ai, twr, twi)
    cr, ci = _cmm(ar, ai, f2r, f2i, PREC)
    cr, ci = _cmul(cr, ci, kfr, kfi)
    # inverse: @ conj(F_M2), conj twiddle, conj(F_M1) @  ->  natural order m = n1 * M2 + n2
    dr, di = _cmm(cr, ci, f2r, -f2i, PREC)
    dr, di = _cmul(dr, di, twr, -twi)
    return _cmm(f1r, -f1i, dr, di, PREC)


@triton.jit
def long_conv_inner_kernel(
    u_ptr, pre_ptr, post_ptr, skip_ptr, kf_ptr, buf_ptr, y_ptr,
    B, L, h0, stride_b, N, P,
    M1: tl.constexpr, M2: tl.constexpr, OUTER: tl.constexpr, KPB: tl.constexpr,
    HAS_PRE: tl.constexpr, HAS_POST: tl.constexpr, HAS_SKIP: tl.constexpr, PREC: tl.constexpr,
):
    """One batch pair, one channel: M-point DFT -> * spectrum -> inverse DFT on an (M1, M2) tile.

    OUTER=False (P=1): reads u (x pre) and writes y (x post + skip * u) directly.
    OUTER=True: for KPB outer frequencies kp, reads row kp of the twiddled intermediate A and writes the
    inverse-twiddled row back in place (the DFT matrices and twiddles are built once per program).
    """
    M: tl.constexpr = M1 * M2
    pair = tl.program_id(0)
    hl = tl.program_id(1)
    h = h0 + hl
    r1 = tl.arange(0, M1)
    r2 = tl.arange(0, M2)
    n = r1[:, None] * M2 + r2[None, :]  # (M1, M2) natural index m = n1 * M2 + n2
    f1r, f1i = _dft(M1, -1.0)
    f2r, f2i = _dft(M2, -1.0)
    twr, twi = _cis(r1[:, None] * r2[None, :], M, -1.0)
    kf_row = kf_ptr + h.to(tl.int64) * (2 * P * M) + n  # spectrum layout [h, re/im, kp, k1, k2], 1/N folded in
    if OUTER:
        buf_row = buf_ptr + (pair.to(tl.int64) * tl.num_programs(1) + hl) * (2 * P * M) + n
        for r in range(KPB):
            kp = tl.program_id(2) * KPB + r
            xr = tl.load(buf_row + kp * M).to(tl.float32)
            xi = tl.load(buf_row + P * M + kp * M).to(tl.float32)
            yr, yi = _conv_tile(xr, xi, tl.load(kf_row + kp * M), tl.load(kf_row + P * M + kp * M),
                                f1r, f1i, f2r, f2i, twr, twi, PREC)
            # inverse outer twiddle w_N^(-kp m) = w_N^(-kp n1 M2) * w_N^(-kp n2): two vectors, one product
            ar, ai = _cis(kp * M2 * r1, N, 1.0)
            br, bi = _cis(kp * r2, N, 1.0)
            yr, yi = _cmul(yr, yi, ar[:, None] * br[None, :] - ai[:, None] * bi[None, :],
                           ar[:, None] * bi[None, :] + ai[:, None] * br[None, :])
            tl.store(buf_row + kp * M, yr.to(buf_ptr.dtype.element_ty))
            tl.store(buf_row + P * M + kp * M, yi.to(buf_ptr.dtype.element_ty))
    else:
        b0 = 2 * pair
        len1 = L * (b0 + 1 < B).to(tl.int32)  # row b1's length (0 when B is odd and b1 is missing)
        off0 = b0.to(tl.int64) * stride_b + h.to(tl.int64) * L
        off1 = off0 + stride_b
        xr, xi = _load_pair(u_ptr, off0, off1, n, L, len1)
        if HAS_PRE:
            g0, g1 = _load_pair(pre_ptr, off0, off1, n, L, len1)
            xr = xr * g0
            xi = xi * g1
        yr, yi = _conv_tile(xr, xi, tl.load(kf_row), tl.load(kf_row + M), f1r, f1i, f2r, f2i, twr, twi, PREC)
        if HAS_POST:
            g0, g1 = _load_pair(post_ptr, off0, off1, n, L, len1)
            yr = yr * g0
            yi = yi * g1
        if HAS_SKIP:
            s = tl.load(skip_ptr + h).to(tl.float32)
            u0, u1 = _load_pair(u_ptr, off0, off1, n, L, len1)
            yr = yr + s * u0
            yi = yi + s * u1
        inside = n < L
        tl.store(y_ptr + off0 + n, yr.to(y_ptr.dtype.element_ty), mask=inside)
        tl.store(y_ptr + off1 + n, yi.to(y_ptr.dtype.element_ty), mask=n < len1)


@triton.jit
def long_conv_outer_fwd_kernel(
    u_ptr, pre_ptr, src_ptr, dst_ptr,
    B, L, h0, stride_b, N, Q, C, GM, TWS, TWD,
    BR: tl.constexpr, BK: tl.constexpr, BM: tl.constexpr,
    FROM_U: tl.constexpr, HAS_PRE: tl.constexpr, PREC: tl.constexpr,
):
    """Forward strided Q-point DFT on BR output rows x BM columns of one pair/channel/group g:

        dst[g + GM k, c] = w_TWS^((g + GM k) (c // TWD)) * sum_j w_Q^(j k) src[g Q + j, c]     (rows of C)

    FROM_U: src[j, c] = (pre * u)[C j + c] (rows past the data are zero padding and skipped), g = 0.
    Three-pass plan: Q = P, C = M, twiddle w_N^(kp m). Five-pass plan: first Q = P1, C = P2 M, twiddle
    w_P^(k1 p2); then per group k1: Q = P2, C = M, rows k1 + P1 k2, twiddle w_N^(kp m).
    """
    blk = tl.program_id(0)  # row block fastest: programs sharing input columns run together (L2)
    pair = tl.program_id(1)
    hl = tl.program_id(2)
    nrb = Q // BR
    ncb = C // BM
    rb = blk % nrb
    cb = (blk // nrb) % ncb
    g = blk // (nrb * ncb)
    k = rb * BR + tl.arange(0, BR)
    c = cb * BM + tl.arange(0, BM)
    b0 = 2 * pair
    len1 = L * (b0 + 1 < B).to(tl.int32)  # row b1's length (0 when B is odd and b1 is missing)
    off0 = b0.to(tl.int64) * stride_b + (h0 + hl).to(tl.int64) * L
    off1 = off0 + stride_b
    base = (pair.to(tl.int64) * tl.num_programs(2) + hl) * (2 * N)  # this pair/channel's buffer rows
    acc_r = tl.zeros((BR, BM), dtype=tl.float32)
    acc_i = tl.zeros((BR, BM), dtype=tl.float32)
    jr, ji = _cis(k[:, None] * tl.arange(0, BK)[None, :], Q, -1.0)  # (BR, BK): w_Q^(k j), j < BK
    if FROM_U:
        j_hi = tl.cdiv(L, C)  # rows j >= j_hi are zero padding
    else:
        j_hi = Q
    for j0 in range(0, j_hi, BK):
        j = j0 + tl.arange(0, BK)
        if FROM_U:
            t = j[:, None] * C + c[None, :]  # (BK, BM) time index
            xr, xi = _load_pair(u_ptr, off0, off1, t, L, len1)
            if HAS_PRE:
                g0, g1 = _load_pair(pre_ptr, off0, off1, t, L, len1)
                xr = xr * g0
                xi = xi * g1
        else:
            idx = (g * Q + j[:, None]) * C + c[None, :]
            xr = tl.load(src_ptr + base + idx).to(tl.float32)
            xi = tl.load(src_ptr + base + N + idx).to(tl.float32)
        vr, vi = _cis(k * j0, Q, -1.0)  # (BR,): w_Q^(k j0)
        wr, wi = _cmul(jr, ji, vr[:, None], vi[:, None])  # (BR, BK): w_Q^(k j)
        acc_r = tl.dot(wr, xr, acc_r, input_precision=PREC)
        acc_r = tl.dot(-wi, xi, acc_r, input_precision=PREC)
        acc_i = tl.dot(wr, xi, acc_i, input_precision=PREC)
        acc_i = tl.dot(wi, xr, acc_i, input_precision=PREC)
    row = g + GM * k  # (BR,) output rows = frequency index of the twiddle
    tr, ti = _cis(row[:, None] * (c[None, :] // TWD), TWS, -1.0)
    acc_r, acc_i = _cmul(acc_r, acc_i, tr, ti)
    idx = row[:, None] * C + c[None, :]
    tl.store(dst_ptr + base + idx, acc_r.to(dst_ptr.dtype.element_ty))
    tl.store(dst_ptr + base + N + idx, acc_i.to(dst_ptr.dtype.element_ty))


@triton.jit
def long_conv_outer_inv_kernel(
    u_ptr, post_ptr, skip_ptr, src_ptr, dst_ptr, y_ptr,
    B, L, h0, stride_b, N, Q, C, GM, TWS,
    BR: tl.constexpr, BK: tl.constexpr, BM: tl.constexpr,
    TO_Y: tl.constexpr, HAS_POST: tl.constexpr, HAS_SKIP: tl.constexpr, PREC: tl.constexpr,
):
    """Inverse strided Q-point DFT on BR output rows x BM columns of one pair/channel/group g:

        out[g Q + p, c] = sum_k w_Q^(-p k) src[g + GM k, c]     (rows of C)

    TO_Y: out is y[C p + c] (only rows holding t < L), times post gate plus skip * u; g = 0.
    Otherwise out goes to dst times the twiddle w_TWS^(-g p) (five-pass plan: w_P^(-k1 p2)).
    """
    blk = tl.program_id(0)  # row block fastest: programs reading the same columns run together (L2)
    pair = tl.program_id(1)
    hl = tl.program_id(2)
    if TO_Y:
        nrb = tl.cdiv(tl.cdiv(L, C), BR)  # only row blocks holding outputs t < L
    else:
        nrb = Q // BR
    ncb = C // BM
    rb = blk % nrb
    cb = (blk // nrb) % ncb
    g = blk // (nrb * ncb)
    p = rb * BR + tl.arange(0, BR)
    c = cb * BM + tl.arange(0, BM)
    h = h0 + hl
    base = (pair.to(tl.int64) * tl.num_programs(2) + hl) * (2 * N)
    acc_r = tl.zeros((BR, BM), dtype=tl.float32)
    acc_i = tl.zeros((BR, BM), dtype=tl.float32)
    jr, ji = _cis(p[:, None] * tl.arange(0, BK)[None, :], Q, 1.0)  # (BR, BK): w_Q^(-p j), j < BK
    for k0 in range(0, Q, BK):
        kq = k0 + tl.arange(0, BK)
        idx = (g + GM * kq[:, None]) * C + c[None, :]  # (BK, BM)
        dr = tl.load(src_ptr + base + idx).to(tl.float32)
        di = tl.load(src_ptr + base + N + idx).to(tl.float32)
        vr, vi = _cis(p * k0, Q, 1.0)  # (BR,): w_Q^(-p k0)
        wr, wi = _cmul(jr, ji, vr[:, None], vi[:, None])  # (BR, BK): w_Q^(-p kq)
        acc_r = tl.dot(wr, dr, acc_r, input_precision=PREC)
        acc_r = tl.dot(-wi, di, acc_r, input_precision=PREC)
        acc_i = tl.dot(wr, di, acc_i, input_precision=PREC)
        acc_i = tl.dot(wi, dr, acc_i, input_precision=PREC)
    if TO_Y:
        b0 = 2 * pair
        len1 = L * (b0 + 1 < B).to(tl.int32)  # row b1's length (0 when B is odd and b1 is missing)
        off0 = b0.to(tl.int64) * stride_b + h.to(tl.int64) * L
        off1 = off0 + stride_b
        t = p[:, None] * C + c[None, :]
        if HAS_POST:
            g0, g1 = _load_pair(post_ptr, off0, off1, t, L, len1)
            acc_r = acc_r * g0
            acc_i = acc_i * g1
        if HAS_SKIP:
            s = tl.load(skip_ptr + h).to(tl.float32)
            u0, u1 = _load_pair(u_ptr, off0, off1, t, L, len1)
            acc_r = acc_r + s * u0
            acc_i = acc_i + s * u1
        tl.store(y_ptr + off0 + t, acc_r.to(y_ptr.dtype.element_ty), mask=t < L)
        tl.store(y_ptr + off1 + t, acc_i.to(y_ptr.dtype.element_ty), mask=t < len1)
    else:
        tr, ti = _cis(g * p[:, None] + 0 * c[None, :], TWS, 1.0)
        acc_r, acc_i = _cmul(acc_r, acc_i, tr, ti)
        idx = (g * Q + p[:, None]) * C + c[None, :]
        tl.store(dst_ptr + base + idx, acc_r.to(dst_ptr.dtype.element_ty))
        tl.store(dst_ptr + base + N + idx, acc_i.to(dst_ptr.dtype.element_ty))


# ---- launcher -----------------------------------------------------------------------------------------

def _split(m: int) -> tuple[int, int]:
    """M = M1 * M2 with M1 <= M2 powers of two as square as possible."""
    m1 = 1 << (int(math.log2(m)) // 2)
    return m1, m // m1


def plan(length: int, inner_max: int = INNER_MAX, outer_max: int = OUTER_MAX) -> dict:
    """FFT size and decomposition for sequence length ``length``: N, P = P1 * P2 (outer), M1 x M2 (inner).

    N = the power of two >= max(2L - 1, 256). N <= inner_max: one on-chip pass (P = 1). Otherwise
    N = P * M with M = inner_max and P >= 16 (tl.dot needs 16-wide tiles; N is raised to 16 * 256 = 4096
    when smaller). P <= outer_max: three passes (P1 = P, P2 = 1); larger P: five passes, the outer DFT split
    into P1 x P2 (both >= 16) so its cost is 8 (P1 + P2) instead of 8 P FLOPs per point.
    """
    n = max(MIN_N, 1 << max(0, (2 * length - 2).bit_length()))  # power of two >= 2L - 1
    if n <= inner_max:
        p = 1
    else:
        n = max(n, 16 * MIN_N)
        p = max(16, n // inner_max)
    m1, m2 = _split(n // p)
    p1, p2 = (p, 1) if p <= max(outer_max, 255) else _split(p)
    return dict(N=n, P=p, P1=p1, P2=p2, M1=m1, M2=m2)


def outer_warps(rows: int) -> int:
    """Warps of the outer passes: 8 (with 4, ptxas spilled a few bytes on sm_80 for some tf32x3 variants)."""
    return 8


INNER_WARPS = 4
INNER_ROWS = 4  # outer frequencies per inner-kernel program (P >= 16 is a multiple)


def buffer_dtype(dtype: torch.dtype) -> torch.dtype:
    """Dtype of the three-pass intermediate: float32 for every input dtype. (bfloat16 would halve its HBM
    traffic but measured 8.9e-3 relative RMSE vs 1.6e-3 for bf16 output rounding alone at L=1500.)"""
    return torch.float32


def _precision(dtype: torch.dtype) -> str:
    return "tf32x3" if dtype == torch.float32 else "tf32"


def spectrum(k: torch.Tensor, length: int, bidirectional: bool, cfg: dict) -> torch.Tensor:
    """Filter spectrum (H, 2, P, M1, M2) fp32 in the kernels' transposed frequency layout, scaled by 1/N.

    Entry [h, :, kp, k1, k2] is (re, im) of K[kp + P * (k1 + M1 * k2)]. The bidirectional filter is rolled
    by -(L-1) (offset 0 at index 0, negative offsets wrapped to the end) so outputs start at index 0.
    """
    n, p, m1, m2 = cfg["N"], cfg["P"], cfg["M1"], cfg["M2"]
    H = k.shape[0]
    kk = torch.zeros(H, n, device=k.device, dtype=torch.float32)
    kc = k.to(torch.float32)
    if bidirectional:
        kk[:, :length] = kc[:, length - 1:]
        if length > 1:
            kk[:, n - (length - 1):] = kc[:, : length - 1]
    else:
        kk[:, :length] = kc
    kf = torch.fft.fft(kk) / n  # (H, N) complex64
    kf = kf.view(H, m2, m1, p).permute(0, 3, 2, 1)  # (H, P, M1, M2): [kp, k1, k2]
    return torch.stack([kf.real, kf.imag], dim=1).contiguous()  # (H, 2, P, M1, M2)


def _conv_launch(x: torch.Tensor, kf: torch.Tensor, cfg: dict, pre=None, post=None, skip=None) -> torch.Tensor:
    """y = post * circular_conv(pre * x, k)[:L] + skip * x for x (B, H, L); kf from :func:`spectrum`.

    Passing the conjugate spectrum gives the correlation used by the backward pass.
    """
    Bsz, H, L = x.shape
    x = x.contiguous()
    pre = pre.to(x.dtype).contiguous() if pre is not None else None
    post = post.to(x.dtype).contiguous() if post is not None else None
    skip = skip.to(torch.float32).contiguous() if skip is not None else None
    y = torch.empty_like(x)
    n, p, m1, m2 = cfg["N"], cfg["P"], cfg["M1"], cfg["M2"]
    m = m1 * m2
    npairs = (Bsz + 1) // 2
    prec = _precision(x.dtype)
    flags = dict(HAS_PRE=pre is not None, HAS_POST=post is not None, HAS_SKIP=skip is not None)
    dummy = x
    args = (x, pre if pre is not None else dummy, post if post is not None else dummy,
            skip if skip is not None else kf)
    if p == 1:
        for h0 in range(0, H, MAX_GRID_YZ):
            long_conv_inner_kernel[(npairs, min(MAX_GRID_YZ, H - h0), 1)](
                *args, kf, kf, y, Bsz, L, h0, H * L, n, 1, M1=m1, M2=m2, OUTER=False, KPB=1, PREC=prec,
                num_warps=INNER_WARPS, **flags)
        return y
    p1, p2 = cfg["P1"], cfg["P2"]
    nbuf = 1 if p2 == 1 else 2
    group = max(1, min(H, MAX_GRID_YZ, WORKSPACE_FLOATS // (npairs * 2 * n * nbuf)))
    bufs = torch.empty(nbuf, npairs * group * 2 * n, device=x.device, dtype=buffer_dtype(x.dtype))
    common = dict(BK=OUTER_K, PREC=prec)

    def fwd(src, dst, q, c, gm, tws, twd, from_u, hg, h0):
        br, bm = min(q, OUTER_ROWS), min(c, OUTER_COLS)
        groups = 1 if from_u else n // (q * c)
        long_conv_outer_fwd_kernel[((q // br) * (c // bm) * groups, npairs, hg)](
            x, args[1], src, dst, Bsz, L, h0, H * L, n, q, c, gm, tws, twd, BR=br, BM=bm, FROM_U=from_u,
            HAS_PRE=flags["HAS_PRE"] and from_u, num_warps=outer_warps(br), **common)

    def inv(src, dst, q, c, gm, tws, to_y, hg, h0):
        br, bm = min(q, OUTER_ROWS), min(c, OUTER_COLS)
        blocks = triton.cdiv(triton.cdiv(L, c), br) if to_y else (q // br) * (n // (q * c))
        long_conv_outer_inv_kernel[(blocks * (c // bm), npairs, hg)](
            x, args[2], args[3], src, dst, y, Bsz, L, h0, H * L, n, q, c, gm, tws, BR=br, BM=bm, TO_Y=to_y,
            HAS_POST=flags["HAS_POST"] and to_y, HAS_SKIP=flags["HAS_SKIP"] and to_y, num_warps=outer_warps(br),
            **common)

    for h0 in range(0, H, group):
        hg = min(group, H - h0)
        if p2 == 1:  # three passes: P-point outer DFT, inner, inverse P-point outer DFT
            fwd(bufs[0], bufs[0], p, m, 1, n, 1, True, hg, h0)
            inner_buf = bufs[0]
        else:  # five passes: the outer DFT as P1-point (stride P2 M) then P2-point (stride M) steps
            fwd(bufs[0], bufs[0], p1, p2 * m, 1, p, m, True, hg, h0)
            fwd(bufs[0], bufs[1], p2, m, p1, n, 1, False, hg, h0)
            inner_buf = bufs[1]
        long_conv_inner_kernel[(npairs, hg, p // INNER_ROWS)](
            *args, kf, inner_buf, y, Bsz, L, h0, H * L, n, p, M1=m1, M2=m2, OUTER=True, KPB=INNER_ROWS,
            PREC=prec, num_warps=INNER_WARPS, HAS_PRE=False, HAS_POST=False, HAS_SKIP=False)
        if p2 == 1:
            inv(bufs[0], bufs[0], p, m, 1, 1, True, hg, h0)
        else:
            inv(bufs[1], bufs[0], p2, m, p1, p, False, hg, h0)
            inv(bufs[0], bufs[0], p1, p2 * m, 1, 1, True, hg, h0)
    return y


# ---- autograd -----------------------------------------------------------------------------------------

def _conj(kf: torch.Tensor) -> torch.Tensor:
    return torch.stack([kf[:, 0], -kf[:, 1]], dim=1)


def conv_launch(x: torch.Tensor, kf: torch.Tensor, cfg: dict, pre=None, post=None, skip=None) -> torch.Tensor:
    """:func:`_conv_launch` on x's CUDA device (triton launches on the current device)."""
    if x.is_cuda:
        with torch.cuda.device(x.device):
            return _conv_launch(x, kf, cfg, pre, post, skip)
    return _conv_launch(x, kf, cfg, pre, post, skip)


def _filter_grad(g, u, pre, post, n: int) -> torch.Tensor:
    """dk_roll[h, j] = sum_b sum_t gz[b, h, t] v[b, h, (t - j) mod N], gz = g * post, v = u * pre, by torch.fft.

    Computed over blocks of channels so that the complex fp32 spectra (B, h, N/2+1) stay near 1 GiB: a
    whole-tensor rfft at B = 8, H = 1024, L = 131,072 would hold ~26 GB of spectra at once. Returns (H, N) fp32.
    """
    f32 = torch.float32
    Bsz, H, _ = u.shape
    per_block = max(1, FILTER_GRAD_ELEMENTS // (Bsz * n))
    out = torch.empty(H, n, device=u.device, dtype=f32)
    for h0 in range(0, H, per_block):
        hs = slice(h0, min(H, h0 + per_block))
        gz = g[:, hs].to(f32) * post[:, hs].to(f32) if post is not None else g[:, hs].to(f32)  # (B, h, L)
        v = u[:, hs].to(f32) * pre[:, hs].to(f32) if pre is not None else u[:, hs].to(f32)  # (B, h, L)
        spec = torch.fft.rfft(gz, n=n)
        spec *= torch.fft.rfft(v, n=n).conj()  # (B, h, N/2+1)
        out[hs] = torch.fft.irfft(spec.sum(0), n=n)
    return out


class LongConvFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, k, skip, pre, post, bidirectional, inner_max, outer_max):
        L = u.shape[-1]
        cfg = plan(L, inner_max, outer_max)
        kf = spectrum(k, L, bidirectional, cfg)
        ctx.save_for_backward(u, k, skip, pre, post)
        ctx.bidirectional = bidirectional
        ctx.cfg = cfg
        return conv_launch(u, kf, cfg, pre, post, skip)

    @staticmethod
    def backward(ctx, g):
        u, k, skip, pre, post = ctx.saved_tensors
        cfg = ctx.cfg
        L = u.shape[-1]
        n = cfg["N"]
        g = g.contiguous()
        need_u, need_k, need_skip, need_pre, need_post = ctx.needs_input_grad[:5]
        kf = spectrum(k, L, ctx.bidirectional, cfg)
        f32 = torch.float32
        du = dk = dskip = dpre = dpost = None
        if need_post and post is not None:
            z = conv_launch(u, kf, cfg, pre)  # (B, H, L) ungated conv, recomputed
            dpost = (g.to(f32) * z.to(f32)).to(post.dtype)
        if need_u or need_pre or need_k:
            dv = conv_launch(g, _conj(kf), cfg, post).to(f32)  # correlation of g * post with k
            uf = u.to(f32)
            if need_u:
                du = dv * pre.to(f32) if pre is not None else dv
                if skip is not None:
                    du = du + skip.to(f32)[:, None] * g.to(f32)
                du = du.to(u.dtype)
            if need_pre and pre is not None:
                dpre = (dv * uf).to(pre.dtype)
            if need_k:
                corr = _filter_grad(g, u, pre, post, n)  # (H, N)
                if ctx.bidirectional:
                    dk = torch.roll(corr, L - 1, dims=-1)[:, : 2 * L - 1]
                else:
                    dk = corr[:, :L]
                dk = dk.to(k.dtype)
        if need_skip and skip is not None:
            dskip = (g.to(f32) * u.to(f32)).sum(dim=(0, 2)).to(skip.dtype)
        return du, dk, dskip, dpre, dpost, None, None, None


# ---- cost model (kernels/README.md, "Gated long convolution") ---------------------------------------

def cost_model(B: int, H: int, L: int, itemsize: int = 2, inner_max: int = INNER_MAX, fft_passes: int = 1) -> dict:
    """Forward-pass FLOPs and HBM bytes of this design vs the torch.fft path, gates and skip all present.

    ``flops``: tensor-core FLOPs of the DFT matmuls (4 real tl.dot per complex product, 2 FLOPs per MAC).
    ``bytes``: HBM traffic assuming the L2 reuse the grid order is built for (programs of one channel /
    one column block adjacent): u and gates and y once (u twice on the three-pass path: skip is added in
    the last pass), the spectrum once per channel, the fp32 intermediate written twice and read twice.
    ``min_bytes``: read u, both gates and this design's spectrum (N complex fp32 per channel), write y.
    ``torch_bytes``: fftconv.long_conv as written (fp32 casts, padded copy, rfft, product, irfft, gating
    passes), each cuFFT transform counted as ``fft_passes`` read+write passes over its complex array.
    """
    cfg = plan(L, inner_max)
    n, p, m1, m2 = cfg["N"], cfg["P"], cfg["M1"], cfg["M2"]
    m = m1 * m2
    rows = (B + 1) // 2 * H  # (batch pair, channel) rows
    elems = B * H * L
    spectrum_bytes = H * 2 * n * 4
    inner = p * 16 * m * (m1 + m2)  # per row: 4 complex matmuls of (M1, M2) tiles, P rows
    if p == 1:
        flops = rows * inner
        hbm = 4 * elems * itemsize + spectrum_bytes
    else:
        p1, p2 = cfg["P1"], cfg["P2"]
        c = p2 * m  # columns of the first / last outer step
        rows_in = triton.cdiv(triton.cdiv(L, c), OUTER_K) * OUTER_K  # input rows holding data
        br = min(p1, OUTER_ROWS)
        rows_out = triton.cdiv(triton.cdiv(L, c), br) * br  # output rows holding t < L
        middle = 0 if p2 == 1 else 2 * 8 * p2 * n  # five passes: the P2-point steps, forward and inverse
        flops = rows * (8 * p1 * rows_in * c + middle + inner + 8 * rows_out * p1 * c)
        accesses = 4 if p2 == 1 else 8  # the fp32 intermediate written / read once per pass boundary
        hbm = 5 * elems * itemsize + spectrum_bytes + accesses * rows * 2 * n * 4
    min_bytes = 4 * elems * itemsize + spectrum_bytes
    fft_rw = 2 * 8 * fft_passes  # one transform: read + write L+1 complex fp32 per pass (~8 B per element each)
    per_elem = ((itemsize + 4) + (itemsize + 4) + 12  # u, pre to fp32; v = u * pre
                + (4 + 8) + fft_rw  # zero-padded copy to N = 2L, rfft
                + (8 + 8 + 8 / B) + fft_rw  # spectrum product (k's spectrum shared over the batch), irfft
                + (itemsize + 4) + 12  # post to fp32, z * post (reads the kept half of irfft's output)
                + 8 + 12 + (4 + itemsize))  # skip * u, add, cast to the output dtype
    return dict(cfg, flops=flops, bytes=hbm, min_bytes=min_bytes, torch_bytes=int(per_elem * elems))


# ---- public API ---------------------------------------------------------------------------------------

def unsupported(u, k, bidirectional: bool = False) -> str | None:
    """Why this call cannot run on the kernel (None when it can)."""
    if u.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return f"dtype {u.dtype} (the long_conv kernel takes float32/float16/bfloat16)"
    if u.dim() != 3:
        return f"u must be (B, H, L), got shape {tuple(u.shape)}"
    if 2 * u.shape[-1] - 1 > MAX_N:
        return f"length {u.shape[-1]} (the long_conv kernel supports L <= {MAX_N // 2})"
    if (u.shape[0] + 1) // 2 > MAX_GRID_YZ:
        return f"batch size {u.shape[0]} (the long_conv kernel supports B <= {2 * MAX_GRID_YZ})"
    return None


def long_conv(u, k, skip=None, pre_gate=None, post_gate=None, bidirectional=False, inner_max=INNER_MAX,
              outer_max=OUTER_MAX):
    """Triton gated long convolution; same contract as :func:`genoseq.ops.fftconv.long_conv`.

    u, pre_gate, post_gate (B, H, L); k (H, L) causal or (H, 2L-1) bidirectional; skip (H,). Returns y
    (B, H, L) in u's dtype. ``inner_max`` (power of two >= 256) caps the on-chip FFT size; lengths with
    a larger FFT use the three-kernel (outer / inner / outer) path; ``outer_max`` caps the outer DFT done
    in one dense pass (larger ones use five kernels). Tests lower both to exercise those paths.
    """
    from genoseq.ops.fftconv import _check

    _check(u, k, bidirectional)
    reason = unsupported(u, k, bidirectional)
    if reason is not None:
        raise ValueError(f"long_conv kernel: {reason}")
    return LongConvFn.apply(u.contiguous(), k, skip, pre_gate, post_gate, bidirectional, inner_max, outer_max)


def aot_configs():
    """Every kernel configuration the launcher can pick (all optional inputs on), for kernels/aot.py.

    P, Q and the column count are runtime arguments, so the compiled variants are: the inner kernel at
    M = 16x16 and 16x32 (direct single pass, and OUTER step); the outer passes with 16- and 32-row tiles,
    each reading u / writing y (FROM_U / TO_Y) or buffer to buffer (five-pass plan). One list per input
    dtype (fp32: tf32x3 dots; bf16/fp16: tf32). The intermediate (buf/src/dst pointers) is always fp32.
    """
    flags = dict(HAS_PRE=True, HAS_POST=True, HAS_SKIP=True)
    fp32_ptrs = ("skip_ptr", "kf_ptr", "buf_ptr", "src_ptr", "dst_ptr")
    for dtype in ("fp32", "bf16", "fp16"):
        prec = "tf32x3" if dtype == "fp32" else "tf32"
        common = dict(dtype=dtype, fp32_ptrs=fp32_ptrs, num_warps=INNER_WARPS)
        m = MIN_N
        while m <= INNER_MAX:
            m1, m2 = _split(m)
            for outer in (False, True):
                yield dict(common, fn=long_conv_inner_kernel,
                           config=f"M={m1}x{m2}{' outer' if outer else ''} {dtype}",
                           constexprs=dict(flags, M1=m1, M2=m2, OUTER=outer, KPB=INNER_ROWS if outer else 1,
                                           PREC=prec))
            m *= 2
        for br in (16, OUTER_ROWS):
            shape = dict(BR=br, BK=OUTER_K, BM=OUTER_COLS, PREC=prec)
            for edge in (True, False):
                end = "u/y" if edge else "buf"
                yield dict(common, fn=long_conv_outer_fwd_kernel, config=f"rows={br} {end} {dtype}",
                           num_warps=outer_warps(br), constexprs=dict(shape, FROM_U=edge, HAS_PRE=True))
                yield dict(common, fn=long_conv_outer_inv_kernel, config=f"rows={br} {end} {dtype}",
                           num_warps=outer_warps(br), constexprs=dict(shape, TO_Y=edge, HAS_POST=True,
                                                                      HAS_SKIP=True))
