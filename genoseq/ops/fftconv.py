"""Gated long convolution (Hyena's core op): FFT path and the direct O(L^2) oracle.

Causal, ``k`` (H, L)::

    y[b, h, t] = post[b, h, t] * sum_{s <= t} k[h, t - s] * v[b, h, s] + skip[h] * u[b, h, t],  v = pre * u

Bidirectional, ``k`` (H, 2L - 1), index ``j`` <-> offset ``j - (L - 1)``::

    y[b, h, t] = post[b, h, t] * sum_{s=0..L-1} k[h, L - 1 + t - s] * v[b, h, s] + skip[h] * u[b, h, t]

Gates default to 1 and ``skip`` to 0. The FFT size is the smallest 2^a 3^b 5^c >= 2L - 1 (no wrap-around
reaches the kept outputs, see :func:`fft_size`). Accumulation is float32 at least (float64 stays float64);
the result has ``u``'s dtype.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor


@functools.lru_cache(maxsize=4096)
def fast_fft_len(n: int) -> int:
    """Smallest integer >= n whose only prime factors are 2, 3 and 5 (fast for MKL / pocketfft / cuFFT)."""
    if n <= 1:
        return 1
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def fft_size(length: int) -> int:
    """FFT size used for a length-``length`` causal or bidirectional convolution.

    Causal: outputs t < L read lags t - s in [0, L); with n >= 2L - 1 the circular wrap of negative lags
    lands on the zero padding of ``k``. Bidirectional: the kept outputs are z[L-1 .. 2L-2] of the full
    convolution with a (2L-1)-tap filter, whose indices m - s stay in [0, 2L-2] < n.
    """
    return fast_fft_len(2 * length - 1)


def _compute_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


_GROUP_ELEMS = 1 << 22  # complex elements per FFT channel group (bounds the transient spectra to ~32 MB)


def _groups(H: int, B: int, n: int):
    """Channel slices processed together so that B * channels * (n//2+1) stays near _GROUP_ELEMS."""
    step = max(1, min(H, _GROUP_ELEMS // max(1, B * (n // 2 + 1))))
    return [slice(lo, min(H, lo + step)) for lo in range(0, H, step)]


class _FFTConv(torch.autograd.Function):
    """z = causal/bidirectional convolution of v (B, H, L) with k; saves only the real inputs and works on
    channel groups, so neither the saved tensors nor the transient spectra grow with more than L * H."""

    @staticmethod
    def forward(ctx, v: Tensor, k: Tensor, bidirectional: bool) -> Tensor:
        B, H, L = v.shape
        n = fft_size(L)
        off = L - 1 if bidirectional else 0
        z = v.new_empty(B, H, L)
        for g in _groups(H, B, n):
            kf = torch.fft.rfft(k[g], n=n)  # (h, n//2+1)
            zf = torch.fft.rfft(v[:, g], n=n)  # (B, h, n//2+1)
            zf *= kf
            z[:, g] = torch.fft.irfft(zf, n=n)[..., off : off + L]
        ctx.save_for_backward(v, k)
        ctx.bidirectional = bidirectional
        return z

    @staticmethod
    def backward(ctx, g: Tensor):
        v, k = ctx.saved_tensors
        B, H, L = v.shape
        n = fft_size(L)
        off = L - 1 if ctx.bidirectional else 0
        klen = k.shape[-1]
        need_v, need_k = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_v = torch.empty_like(v) if need_v else None
        grad_k = torch.empty_like(k) if need_k else None
        for sl in _groups(H, B, n):
            gf = torch.fft.rfft(g[:, sl], n=n)  # (B, h, F)
            if need_v:
                kf = torch.fft.rfft(k[sl], n=n)
                # corr[m] = sum_t g[t] k[t - m];  dv[s] = sum_t g[t] k[off + t - s] = corr[(s - off) mod n]
                corr = torch.fft.irfft(gf * kf.conj(), n=n)
                grad_v[:, sl] = torch.roll(corr, off, dims=-1)[..., :L] if off else corr[..., :L]
            if need_k:
                vf = torch.fft.rfft(v[:, sl], n=n)
                prod = gf[0] * vf[0].conj() if B == 1 else (gf * vf.conj()).sum(0)
                # corr[m] = sum_t g[t] v[t - m];  dk[j] = sum_t g[t] v[t + off - j] = corr[(j - off) mod n]
                corr = torch.fft.irfft(prod, n=n)
                grad_k[sl] = torch.roll(corr, off, dims=-1)[..., :klen] if off else corr[..., :klen]
        return grad_v, grad_k, None


def _check(u: Tensor, k: Tensor, bidirectional: bool) -> None:
    if u.dim() != 3:
        raise ValueError(f"long_conv: u must be (B, H, L), got shape {tuple(u.shape)}")
    H, L = u.shape[1], u.shape[2]
    want = 2 * L - 1 if bidirectional else L
    if k.dim() != 2 or k.shape[0] != H or k.shape[1] != want:
        raise ValueError(f"long_conv: k must be ({H}, {want}) for L={L}, got shape {tuple(k.shape)}")


def long_conv(
    u: Tensor,
    k: Tensor,
    skip: Tensor | None = None,
    pre_gate: Tensor | None = None,
    post_gate: Tensor | None = None,
    bidirectional: bool = False,
) -> Tensor:
    """Gated long convolution through the FFT. u, gates (B, H, L); k (H, L) or (H, 2L-1); skip (H,).

    Returns y (B, H, L) in ``u``'s dtype; float32 accumulation for float32/bf16/fp16, float64 for float64.
    """
    _check(u, k, bidirectional)
    cdt = _compute_dtype(u)
    with torch.autocast(device_type=u.device.type, enabled=False):
        uc = u.to(cdt)
        v = uc if pre_gate is None else uc * pre_gate.to(cdt)  # (B, H, L)
        y = _FFTConv.apply(v, k.to(cdt), bidirectional)  # (B, H, L)
        if post_gate is not None:
            y = y * post_gate.to(cdt)
        if skip is not None:
            y = y + skip.to(cdt)[:, None] * uc
    return y.to(u.dtype)


def long_conv_direct(
    u: Tensor,
    k: Tensor,
    skip: Tensor | None = None,
    pre_gate: Tensor | None = None,
    post_gate: Tensor | None = None,
    bidirectional: bool = False,
) -> Tensor:
    """The oracle: same contract as :func:`long_conv`, computed as an explicit O(L^2) Toeplitz product."""
    _check(u, k, bidirectional)
    cdt = _compute_dtype(u)
    uc = u.to(cdt)
    L = u.shape[-1]
    v = uc if pre_gate is None else uc * pre_gate.to(cdt)
    t = torch.arange(L, device=u.device)
    lag = t[:, None] - t[None, :]  # (L_t, L_s) = t - s
    kc = k.to(cdt)
    if bidirectional:
        T = kc[:, lag + L - 1]  # (H, L, L)
    else:
        T = kc[:, lag.clamp(min=0)] * (lag >= 0).to(cdt)  # (H, L, L)
    y = torch.einsum("hts,bhs->bht", T, v)
    if post_gate is not None:
        y = y * post_gate.to(cdt)
    if skip is not None:
        y = y + skip.to(cdt)[:, None] * uc
    return y.to(u.dtype)


def tail_fft_size(T: int, n_out: int) -> int:
    """FFT size :func:`causal_conv_tail` uses for a history of T inputs and n_out outputs (0 = direct)."""
    if n_out * T <= 8192 or n_out <= 8:
        return 0
    return fast_fft_len(T + n_out - 1)


def causal_conv_tail(history: Tensor, k: Tensor, n_out: int, group: int = 32,
                     k_spectrum: Tensor | None = None) -> Tensor:
    """The last ``n_out`` outputs of a causal convolution over ``history`` (streaming Hyena).

    history (B, H, T) holds the convolution inputs up to now (the newest ``n_out`` last); k (H, T) the
    filter for lags 0..T-1. Returns z (B, H, n_out), z[j] = sum_{s} k[T - n_out + j - s] * history[s].
    Short outputs use a direct product; longer ones an FFT of size n = tail_fft_size(T, n_out) >= T + n_out - 1
    (so negative lags wrap onto k's zero padding), ``group`` channels at a time to bound the FFT workspace.
    ``k_spectrum`` (H, n // 2 + 1): rfft(k, n) precomputed by the caller (reused across equal-size chunks).
    """
    B, H, T = history.shape
    cdt = _compute_dtype(history)
    hist = history.to(cdt)
    n = tail_fft_size(T, n_out)
    if n == 0:
        kc = k.to(cdt)
        # z[j] = sum_m k[m] * hist[T - n_out + j - m], m in 0..T-n_out+j
        out = []
        kr = kc.flip(-1)  # kr[i] = k[T-1-i]
        for j in range(n_out):
            end = T - n_out + j + 1
            out.append(torch.einsum("bhs,hs->bh", hist[..., :end], kr[..., T - end :]))
        return torch.stack(out, -1)
    z = hist.new_empty(B, H, n_out)
    for lo in range(0, H, group):
        hi = min(H, lo + group)
        kf = k_spectrum[lo:hi] if k_spectrum is not None else torch.fft.rfft(k[lo:hi].to(cdt), n=n)
        zf = torch.fft.rfft(hist[:, lo:hi], n=n)
        zf *= kf
        z[:, lo:hi] = torch.fft.irfft(zf, n=n)[..., T - n_out : T]
    return z
