"""Position-wise MLP (Linear - GELU/SwiGLU - Linear) with a lean backward.

Autograd would keep both the hidden pre-activation and the activation (2 x L x hidden). This function keeps
only its input (with a fused LayerNorm: the un-normalised input and the per-position statistics, and the
normalised rows when the matmul dtype is narrower, as bf16 under autocast is) and recomputes fc1 and the activation in backward (one more fc1 matmul; nothing of size L x hidden is ever
stored). Both directions run position block by block (the L x hidden transients stay small and in
cache), the blocks shared among the group worker threads (genoseq.ops._groups), each op single-threaded. Matmuls run in the autocast dtype
when autocast is on; the activation in the matmul dtype, as autograd's ops would.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from genoseq.ops._groups import WorkerSums, map_groups
from genoseq.ops.prenorm import Norm, blocks, keeps_normalised, matmul_dtype, norm_backward_rows, residual_add
from genoseq.ops.rows import accumulate

_BLOCK = 2048  # positions per block


def _act(h: Tensor, kind: str) -> Tensor:
    if kind == "glu":
        a, b = h.chunk(2, dim=-1)
        return F.silu(a) * b
    return F.gelu(h)


def _act_backward(da: Tensor, h: Tensor, kind: str) -> Tensor:
    if kind == "glu":
        a, b = h.chunk(2, dim=-1)
        sa = torch.sigmoid(a)
        silu = a * sa
        dsilu = sa * (1 + a * (1 - sa))
        return torch.cat([da * b * dsilu, da * silu], dim=-1)
    return torch.ops.aten.gelu_backward(da, h)


class _MLP(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, ln_w, ln_b, w1, b1, w2, b2, kind, mdt, eps, residual):
        shape, D = x.shape, x.shape[-1]
        norm = Norm(ln_w, ln_b, eps) if eps is not None else None
        with torch.autocast(device_type=x.device.type, enabled=False):
            x2 = x.reshape(-1, D)  # (N, D)
            xm = None if norm is not None else x2.to(mdt)
            w1m, b1m, w2m, b2m = w1.to(mdt), b1.to(mdt), w2.to(mdt), b2.to(mdt)
            N = x2.shape[0]
            out = torch.empty(N, w2.shape[0], dtype=x.dtype if residual else mdt, device=x.device)
            stats = (torch.empty(N, 1, dtype=x.dtype, device=x.device),
                     torch.empty(N, 1, dtype=x.dtype, device=x.device)) if norm is not None else None
            # normalised rows in a narrower matmul dtype (bf16 under autocast) are kept for the backward: half
            # the size of its input, and the LayerNorm is not recomputed there
            keep = torch.empty(N, D, dtype=mdt, device=x.device) if norm is not None and keeps_normalised(mdt, x) else None

            def job(sl: slice) -> None:
                if norm is not None:
                    xn, stats[0][sl], stats[1][sl] = torch.native_layer_norm(x2[sl], (D,), ln_w, ln_b, eps)
                    xb = xn.to(mdt) if keep is None else keep[sl].copy_(xn)
                else:
                    xb = xm[sl]
                o = F.linear(_act(F.linear(xb, w1m, b1m), kind), w2m, b2m)
                if residual:
                    residual_add(out[sl], x2[sl], o)
                else:
                    out[sl] = o

            map_groups(job, blocks(N, _BLOCK), N)
        mean, rstd = stats if stats is not None else (None, None)
        ctx.save_for_backward(x2 if norm is not None else xm, mean, rstd, ln_w, ln_b, w1, b1, w2, keep)
        ctx.kind, ctx.mdt, ctx.shape, ctx.xdt, ctx.eps, ctx.residual = kind, mdt, shape, x.dtype, eps, residual
        return out.view(*shape[:-1], w2.shape[0])

    @staticmethod
    def backward(ctx, dout):
        xs, mean, rstd, ln_w, ln_b, w1, b1, w2, kept = ctx.saved_tensors
        mdt, kind = ctx.mdt, ctx.kind
        norm = Norm(ln_w, ln_b, ctx.eps) if ctx.eps is not None else None
        acc = torch.float64 if mdt == torch.float64 else torch.float32
        with torch.autocast(device_type=dout.device.type, enabled=False):
            D = xs.shape[1]
            d2 = dout.reshape(-1, dout.shape[-1])  # (N, D)
            w1m, b1m, w2m = w1.to(mdt), b1.to(mdt), w2.to(mdt)
            N = d2.shape[0]
            dx = torch.empty(N, D, dtype=ctx.xdt, device=d2.device)
            shapes = (w1.shape, w1.shape[:1], w2.shape, w2.shape[:1])
            # per worker thread: dw1, db1, dw2, db2, dln_w, dln_b
            sums = WorkerSums(lambda: [torch.zeros(s, dtype=acc, device=d2.device) for s in shapes] + [None, None])

            def job(sl: slice) -> None:
                mine = sums.mine()
                if kept is not None:
                    xb = kept[sl]
                elif norm is not None:
                    xb = torch.native_layer_norm(xs[sl], (D,), ln_w, ln_b, norm.eps)[0].to(mdt)
                else:
                    xb = xs[sl]
                hb, dmb = F.linear(xb, w1m, b1m), d2[sl].to(mdt)  # pre-activation, recomputed
                accumulate(mine[2], torch.mm(dmb.t(), _act(hb, kind)))
                mine[3] += dmb.sum(0)  # in the matmul dtype like the weight gradients (accumulated in float32
                # inside the reduction): sum(dtype=float32) of a bf16 tensor takes a slow path, ~8x the time
                dh = _act_backward(torch.mm(dmb, w2m), hb, kind)  # (n, H [*2])
                accumulate(mine[0], torch.mm(dh.t(), xb))
                mine[1] += dh.sum(0)
                dxb = torch.mm(dh, w1m)  # (n, D) gradient of the normalised rows
                if norm is not None:
                    g = norm_backward_rows(dxb, xs[sl], mean[sl], rstd[sl], norm, mine, 4)
                else:
                    g = dxb.to(ctx.xdt)
                if ctx.residual:
                    g += d2[sl]
                dx[sl] = g

            map_groups(job, blocks(N, _BLOCK), N)
            dw1, db1, dw2, db2, dln_w, dln_b = sums.totals()  # the LayerNorm's stay None without it
        return (dx.view(ctx.shape), dln_w, dln_b, dw1.to(w1.dtype), db1.to(w1.dtype), dw2.to(w2.dtype),
                db2.to(w2.dtype), None, None, None, None)


def mlp(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, kind: str = "gelu", norm: Norm | None = None,
        residual: bool = False) -> Tensor:
    """fc2(act(fc1(x))) for x (..., D); w1 (H [*2 for "glu"], D), w2 (D_out, H). "gelu" (exact erf GELU) or
    "glu" (silu(a) * b over the two halves of fc1's output). Output in the autocast dtype when autocast is
    on, else x's dtype. With ``norm`` the MLP reads LayerNorm(x) (kept in the matmul dtype when it is narrower than x's, else
    recomputed in backward); with
    ``residual`` it returns x + mlp(...) in x's dtype (a pre-norm residual branch in one op)."""
    mdt = matmul_dtype(x)
    params = (x, w1, b1, w2, b2) if norm is None else (x, w1, b1, w2, b2, norm.weight, norm.bias)
    if not (torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in params)):
        return _mlp_inference(x, w1, b1, w2, b2, kind, mdt, norm, residual)
    if norm is None:
        return _MLP.apply(x, None, None, w1, b1, w2, b2, kind, mdt, None, residual)
    return _MLP.apply(x, norm.weight, norm.bias, w1, b1, w2, b2, kind, mdt, norm.eps, residual)


def mlp_residual_(h: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, kind: str, norm: Norm) -> None:
    """h <- h + mlp(LayerNorm(h)) in place, without autograd (whole-sequence long inference: no second
    (B, L, D) tensor). h must be contiguous; matmuls in the autocast dtype when autocast is on."""
    _mlp_inference(h, w1, b1, w2, b2, kind, matmul_dtype(h), norm, True, out=h.view(-1, h.shape[-1]))


def _mlp_inference(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, kind: str, mdt: torch.dtype,
                   norm: Norm | None, residual: bool, out: Tensor | None = None) -> Tensor:
    """No autograd: block by block, nothing of size L x hidden kept. ``out`` (N, D_out): where to write
    (may be x itself when ``residual``: each block reads its rows before writing them)."""
    with torch.no_grad(), torch.autocast(device_type=x.device.type, enabled=False):
        x2 = x.reshape(-1, x.shape[-1])
        w1m, b1m, w2m, b2m = w1.to(mdt), b1.to(mdt), w2.to(mdt), b2.to(mdt)
        if out is None:
            out = torch.empty(x2.shape[0], w2.shape[0], dtype=x.dtype if residual else mdt, device=x.device)

        def job(sl: slice) -> None:
            xb = x2[sl] if norm is None else F.layer_norm(x2[sl], x2.shape[-1:], norm.weight, norm.bias, norm.eps)
            o = F.linear(_act(F.linear(xb.to(mdt), w1m, b1m), kind), w2m, b2m)
            if residual:
                residual_add(out[sl], x2[sl], o)
            else:
                out[sl] = o

        map_groups(job, blocks(x2.shape[0], _BLOCK), x2.shape[0])
    return out.view(*x.shape[:-1], w2.shape[0])
