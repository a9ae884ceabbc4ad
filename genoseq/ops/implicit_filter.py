"""Hyena's implicit filter MLP evaluated in lag pieces, with a hand-written backward.

For lags t = 0..m-1 and features z(t) (m, P)::

    a1 = sin(z W1^T + b1);  a2 = sin(a1 W2^T + b2);  a3 = sin(a2 W3^T + b3)     (m, F) each
    k  = (W4 a3^T) * window,  window[c, t] = exp(-deltas[c] * t / max_len)      (C, m)

(the Sin frequencies are folded into W_i, b_i by the caller). Forward and backward run ``_PIECE`` lags at a
time, so no (m, F) activation is ever materialised for the whole range and nothing but the weights is saved:
backward recomputes each piece's activations (as activation checkpointing would, without its whole-range
buffers). Pieces are shared among the group worker threads (genoseq.ops._groups). The window of a piece
starting at lag lo is exp(-d lo / max_len) * E[t - lo], with E the window of the first piece: one multiply
instead of an exp per element.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genoseq.ops._groups import WorkerSums, map_groups

_PIECE = 4096  # lags per piece


def features(lags: Tensor, max_len: int, bands: Tensor, pos_dim: int, dtype: torch.dtype) -> Tensor:
    """(n,) integer lags -> (n, pos_dim): [t, cos(2 pi f t), sin(2 pi f t)] with t = lag / max_len."""
    t = lags.to(dtype)[:, None] / max_len  # (n, 1)
    ang = 2 * math.pi * t * bands.to(dtype)[None, :]  # (n, bands)
    return torch.cat([t, torch.cos(ang), torch.sin(ang)], dim=-1)[:, :pos_dim]


def _hidden_piece(lo: int, hi: int, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, W3: Tensor, b3: Tensor,
                  bands: Tensor, max_len: int, pos_dim: int, dtype: torch.dtype) -> Tensor:
    """a3 (hi - lo, F) for lags lo..hi-1, in the weights' dtype."""
    z = features(torch.arange(lo, hi, device=W1.device), max_len, bands, pos_dim, dtype).to(W1.dtype)
    a1 = torch.sin(torch.addmm(b1, z, W1.t()))
    a2 = torch.sin(torch.addmm(b2, a1, W2.t()))
    return torch.sin(torch.addmm(b3, a2, W3.t()))


def _project_piece(k: Tensor, lo: int, a3: Tensor, W4: Tensor, E: Tensor, scale) -> None:
    """k[:, lo:lo + len(a3)] = (W4 a3^T) * window, the window of lags from lo (see _window_parts)."""
    hi = lo + a3.shape[0]
    torch.mul(torch.mm(W4 * scale(lo).to(W4.dtype)[:, None], a3.t()), E[:, : hi - lo], out=k[:, lo:hi])


class _ImplicitFilter(torch.autograd.Function):
    @staticmethod
    def forward(ctx, W1, b1, W2, b2, W3, b3, W4, m, deltas, bands, max_len, pos_dim, dtype):
        k = torch.empty(W4.shape[0], m, dtype=dtype, device=W4.device)
        E, scale = _window_parts(deltas, max_len, min(m, _PIECE), dtype)

        def job(lo: int) -> None:
            hi = min(m, lo + _PIECE)
            _project_piece(k, lo, _hidden_piece(lo, hi, W1, b1, W2, b2, W3, b3, bands, max_len, pos_dim, dtype),
                           W4, E, scale)

        map_groups(job, range(0, m, _PIECE), m)
        ctx.save_for_backward(W1, b1, W2, b2, W3, b3, W4, deltas, bands)
        ctx.m, ctx.max_len, ctx.pos_dim, ctx.dtype = m, max_len, pos_dim, dtype
        return k

    @staticmethod
    def backward(ctx, dk):
        W1, b1, W2, b2, W3, b3, W4, deltas, bands = ctx.saved_tensors
        m, max_len, dtype = ctx.m, ctx.max_len, ctx.dtype
        dev, pdt = W4.device, W4.dtype
        E, scale = _window_parts(deltas, max_len, min(m, _PIECE), dtype)
        sums = WorkerSums(lambda: [torch.zeros_like(w) for w in (W1, b1, W2, b2, W3, b3, W4)])

        def job(lo: int) -> None:
            dW1, db1, dW2, db2, dW3, db3, dW4 = sums.mine()
            hi = min(m, lo + _PIECE)
            z = features(torch.arange(lo, hi, device=dev), max_len, bands, ctx.pos_dim, dtype).to(pdt)
            p1 = torch.addmm(b1, z, W1.t())
            a1 = torch.sin(p1)
            p2 = torch.addmm(b2, a1, W2.t())
            a2 = torch.sin(p2)
            p3 = torch.addmm(b3, a2, W3.t())
            a3 = torch.sin(p3)
            dh = (dk[:, lo:hi] * E[:, : hi - lo]).to(pdt)  # (C, n): gradient of W4s a3^T
            dh *= scale(lo).to(pdt)[:, None]  # W4s = W4 * scale: fold the scale into dh
            dW4.addmm_(dh, a3)
            dp = torch.mm(dh.t(), W4).mul_(torch.cos(p3))  # (n, F)
            dW3.addmm_(dp.t(), a2)
            db3 += dp.sum(0)
            dp = torch.mm(dp, W3).mul_(torch.cos(p2))
            dW2.addmm_(dp.t(), a1)
            db2 += dp.sum(0)
            dp = torch.mm(dp, W2).mul_(torch.cos(p1))
            dW1.addmm_(dp.t(), z)
            db1 += dp.sum(0)

        map_groups(job, range(0, m, _PIECE), m)
        return (*sums.totals(), None, None, None, None, None, None)


def _window_parts(deltas: Tensor, max_len: int, piece: int, dtype: torch.dtype):
    """E (C, piece) = exp(-d t / max_len) for t < piece, and scale(lo) (C,) = exp(-d lo / max_len)."""
    d = deltas.to(dtype)
    E = torch.exp(d[:, None] * (-torch.arange(piece, device=d.device, dtype=dtype)[None, :] / max_len))
    return E, lambda lo: torch.exp(d * (-lo / max_len))


def implicit_filter(W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, W3: Tensor, b3: Tensor, W4: Tensor, m: int,
                    deltas: Tensor, bands: Tensor, max_len: int, pos_dim: int, dtype: torch.dtype) -> Tensor:
    """k (C, m) in ``dtype`` for lags 0..m-1 (see the module docstring); the MLP runs in the weights' dtype.
    W1 (F, P), W2 and W3 (F, F), W4 (C, F), biases (F,); deltas (C,); bands (P // 2,)."""
    return _ImplicitFilter.apply(W1, b1, W2, b2, W3, b3, W4, m, deltas, bands, max_len, pos_dim, dtype)


def filter_hidden(W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor, W3: Tensor, b3: Tensor, m: int, bands: Tensor,
                  max_len: int, pos_dim: int, dtype: torch.dtype) -> Tensor:
    """The MLP's last hidden activations a3 (m, F) for lags 0..m-1, without autograd (whole-sequence
    inference: the filters of a few channels at a time come from it through :func:`filter_rows`)."""
    a3 = torch.empty(m, W1.shape[0], dtype=W1.dtype, device=W1.device)

    def job(lo: int) -> None:
        hi = min(m, lo + _PIECE)
        a3[lo:hi] = _hidden_piece(lo, hi, W1, b1, W2, b2, W3, b3, bands, max_len, pos_dim, dtype)

    with torch.no_grad():
        map_groups(job, range(0, m, _PIECE), m)
    return a3


def filter_rows(a3: Tensor, W4: Tensor, deltas: Tensor, max_len: int, dtype: torch.dtype) -> Tensor:
    """k (C, m) = (W4 a3^T) * window for the C channels whose rows of W4 (C, F) and deltas (C,) are given:
    the same values as :func:`implicit_filter` for those channels."""
    m, C = a3.shape[0], W4.shape[0]
    k = torch.empty(C, m, dtype=dtype, device=a3.device)
    E, scale = _window_parts(deltas, max_len, min(m, _PIECE), dtype)

    def job(lo: int) -> None:
        _project_piece(k, lo, a3[lo : lo + _PIECE], W4, E, scale)

    with torch.no_grad():
        map_groups(job, range(0, m, _PIECE), m)
    return k
