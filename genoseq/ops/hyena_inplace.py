"""Whole-sequence causal order-2 Hyena residual branch for long inference: h += mixer(LayerNorm(h)), in place.

The same map as :func:`genoseq.ops.hyena_conv.hyena_order2` with ``norm`` and ``residual`` (and the same
arithmetic per channel), without autograd, arranged so that a 1M-token input with a filter as long as the
input fits a small memory budget. Besides h (B, L, D) it holds:

- the gated long-conv output y (B, D, L) in the matmul dtype;
- the filter MLP's last hidden activations (L, filter_dim) in float32 (``filter_hidden``);
- per *phase* of Dp channels: their in-projection (B, 3 Dp, L) in the matmul dtype, computed from
  LayerNorm(h) block by block, and their filters (Dp, L) (``filter_rows``);
- per worker thread, one group workspace of G channels (``_Workspace(backward=False)``).

Phases are sized by ``PHASE_BYTES``; groups of ``_group_size`` channels run on the worker threads
(genoseq.ops._groups). At the end the out-projection is added into h in position blocks.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from genoseq.ops._groups import map_groups
from genoseq.ops.fftconv import fft_size
from genoseq.ops.hyena_conv import _conv, _load_group, _workspace
from genoseq.ops.prenorm import Norm, blocks, matmul_dtype, mul_into, residual_add

PHASE_BYTES = 128 << 20  # in-projection + filters of one phase of channels
_GROUP_ELEMS = 1 << 22  # channels * n per group: G = 2 at n = 2^21 (each FFT call has >= 4 rows)


def _group_size(D: int, B: int, n: int) -> int:
    return max(1, min(D, _GROUP_ELEMS // max(1, B * n)))


def _phase_size(D: int, B: int, L: int, G: int, cdt: torch.dtype, mdt: torch.dtype) -> int:
    per_channel = L * (cdt.itemsize + 3 * B * mdt.itemsize)  # filter row + three in-projection rows
    return max(G, min(D, PHASE_BYTES // per_channel) // G * G)


def _phase_in_proj(h: Tensor, norm: Norm, w: Tensor, bias: Tensor, mdt: torch.dtype) -> Tensor:
    """u (B, 3Dp, L) = w LayerNorm(h)^T + b for w (3Dp, D), b (3Dp,) in the matmul dtype, position block by
    block."""
    B, L, _ = h.shape
    u = torch.empty(B, w.shape[0], L, dtype=mdt, device=h.device)

    def job(sl: slice) -> None:
        for b in range(B):
            xb = F.layer_norm(h[b, sl], h.shape[-1:], norm.weight, norm.bias, norm.eps).to(mdt)  # (rows, D)
            u[b, :, sl] = torch.addmm(bias[:, None], w, xb.t())

    map_groups(job, blocks(L), B * L)
    return u


def hyena_order2_residual_(h: Tensor, norm: Norm, in_w: Tensor, in_b: Tensor, conv_w: Tensor, conv_b: Tensor,
                           filter_hidden: Tensor, filter_rows: Callable[[Tensor, slice], Tensor], skip: Tensor,
                           out_w: Tensor, out_b: Tensor) -> None:
    """h (B, L, D) float32/float64 <- h + Hyena(LayerNorm(h)), no autograd.

    ``filter_hidden`` and ``filter_rows(a3, channels) -> (len(channels), L)`` give the long filters (without
    the skip, which is folded into lag 0 here); other arguments as in ``hyena_order2``. Matmuls run in the
    autocast dtype when autocast is on, the rest in float32 (float64 for float64 h)."""
    B, L, D = h.shape
    dev = h.device.type
    cdt = torch.float64 if h.dtype == torch.float64 else torch.float32
    mdt = matmul_dtype(h)
    n = fft_size(L)
    K = conv_w.shape[-1]
    G = _group_size(D, B, n)
    Dp = _phase_size(D, B, L, G, cdt, mdt)
    with torch.no_grad(), torch.autocast(device_type=dev, enabled=False):
        y = torch.empty(B, D, L, dtype=mdt, device=h.device)  # gated long-conv output
        w_in, b_in = in_w.view(3, D, D), in_b.view(3, D)
        cw, cb = conv_w.view(3, D, K), conv_b.view(3, D)
        for lo in range(0, D, Dp):
            ps = slice(lo, min(D, lo + Dp))
            dp = ps.stop - ps.start
            bp = b_in[:, ps].reshape(3 * dp).to(mdt)
            u = _phase_in_proj(h, norm, w_in[:, ps].reshape(3 * dp, D).to(mdt), bp, mdt)  # (B, 3dp, L)
            k = filter_rows(filter_hidden, ps).to(cdt)  # (dp, L)
            sp = skip[ps].to(cdt)
            cwp, cbp = cw[:, ps].reshape(3 * dp, K), cb[:, ps].reshape(3 * dp)
            yp = y[:, ps]

            def fn(sl: slice, u=u, k=k, sp=sp, cwp=cwp, cbp=cbp, yp=yp, dp=dp) -> None:
                ws = _workspace(B, sl.stop - sl.start, L, n, cdt, backward=False)
                _load_group(ws, sl, u, cwp, cbp, k, sp, dp)
                mul_into(yp[:, sl], _conv(ws), ws.C[:, 0])

            map_groups(fn, [slice(g, min(dp, g + G)) for g in range(0, dp, G)], B * L)
            del u, k
        wo, bo = out_w.to(mdt), out_b.to(mdt)

        def out_proj(sl: slice) -> None:
            for b in range(B):
                residual_add(h[b, sl], h[b, sl], F.linear(y[b, :, sl].t(), wo, bo))  # in place

        map_groups(out_proj, blocks(L), B * L)
