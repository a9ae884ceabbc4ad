"""Position-wise MLP (Linear - GELU/SwiGLU - Linear) with a lean backward.

Autograd would keep both the hidden pre-activation and the activation (2 x L x hidden). This function keeps
only the input and the pre-activation and recomputes the activation in backward. Both directions run
position block by block (the L x hidden transients stay small and in cache), the blocks shared among the
group worker threads (genoseq.ops._groups), each op single-threaded. Matmuls run in the autocast dtype
when autocast is on; the activation in the matmul dtype, as autograd's ops would.
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F
from torch import Tensor

from genoseq.ops._groups import map_groups

_BLOCK = 1024  # positions per block


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
    def forward(ctx, x, w1, b1, w2, b2, kind, mdt):
        shape = x.shape
        with torch.autocast(device_type=x.device.type, enabled=False):
            xm = x.reshape(-1, shape[-1]).to(mdt)  # (N, D)
            w1m, b1m, w2m, b2m = w1.to(mdt), b1.to(mdt), w2.to(mdt), b2.to(mdt)
            N = xm.shape[0]
            h = torch.empty(N, w1.shape[0], dtype=mdt, device=x.device)  # (N, H [*2])
            out = torch.empty(N, w2.shape[0], dtype=mdt, device=x.device)

            def job(sl: slice) -> None:
                torch.addmm(b1m, xm[sl], w1m.t(), out=h[sl])
                torch.addmm(b2m, _act(h[sl], kind), w2m.t(), out=out[sl])

            map_groups(job, _blocks(N))
        ctx.save_for_backward(xm, h, w1, w2)
        ctx.kind, ctx.mdt, ctx.shape, ctx.xdt = kind, mdt, shape, x.dtype
        return out.view(*shape[:-1], w2.shape[0])

    @staticmethod
    def backward(ctx, dout):
        xm, h, w1, w2 = ctx.saved_tensors
        mdt, kind = ctx.mdt, ctx.kind
        acc = torch.float64 if mdt == torch.float64 else torch.float32
        with torch.autocast(device_type=dout.device.type, enabled=False):
            dm = dout.reshape(-1, dout.shape[-1]).to(mdt)  # (N, D)
            w1m, w2m = w1.to(mdt), w2.to(mdt)
            N = dm.shape[0]
            dx = torch.empty(N, xm.shape[1], dtype=mdt, device=dm.device)
            parts: dict[int, list[Tensor]] = {}  # per worker thread: (dw1, db1, dw2) accumulators
            shapes = (w1.shape, w1.shape[:1], w2.shape)

            def job(sl: slice) -> None:
                mine = parts.get(threading.get_ident())
                if mine is None:
                    mine = [torch.zeros(shape, dtype=acc, device=dm.device) for shape in shapes]
                    parts[threading.get_ident()] = mine
                hb, dmb = h[sl], dm[sl]
                mine[2] += torch.mm(dmb.t(), _act(hb, kind))
                dh = _act_backward(torch.mm(dmb, w2m), hb, kind)  # (n, H [*2])
                mine[0] += torch.mm(dh.t(), xm[sl])
                mine[1] += dh.sum(0, dtype=acc)
                torch.mm(dh, w1m, out=dx[sl])

            map_groups(job, _blocks(N))
            dw1, db1, dw2 = (sum(p[j] for p in parts.values()) for j in range(3))
            db2 = dm.sum(0, dtype=acc)
        return (dx.view(ctx.shape).to(ctx.xdt), dw1.to(w1.dtype), db1.to(w1.dtype), dw2.to(w2.dtype),
                db2.to(w2.dtype), None, None)


def _blocks(N: int) -> list[slice]:
    return [slice(lo, min(N, lo + _BLOCK)) for lo in range(0, N, _BLOCK)]


def mlp(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, kind: str = "gelu") -> Tensor:
    """fc2(act(fc1(x))) for x (..., D); w1 (H [*2 for "glu"], D), w2 (D_out, H). "gelu" (exact erf GELU) or
    "glu" (silu(a) * b over the two halves of fc1's output). Output in the autocast dtype when autocast is
    on, else x's dtype."""
    dev = x.device.type
    mdt = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype
    if x.dtype == torch.float64:
        mdt = torch.float64
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x, w1, b1, w2, b2)):
        return _MLP.apply(x, w1, b1, w2, b2, kind, mdt)
    return _mlp_inference(x, w1, b1, w2, b2, kind, mdt)


def _mlp_inference(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, kind: str, mdt: torch.dtype) -> Tensor:
    """No autograd: block by block, nothing of size L x hidden kept."""
    with torch.no_grad(), torch.autocast(device_type=x.device.type, enabled=False):
        xm = x.reshape(-1, x.shape[-1]).to(mdt)
        w1m, b1m, w2m, b2m = w1.to(mdt), b1.to(mdt), w2.to(mdt), b2.to(mdt)
        out = torch.empty(xm.shape[0], w2.shape[0], dtype=mdt, device=x.device)

        def job(sl: slice) -> None:
            out[sl] = F.linear(_act(F.linear(xm[sl], w1m, b1m), kind), w2m, b2m)

        map_groups(job, _blocks(xm.shape[0]))
    return out.view(*x.shape[:-1], w2.shape[0])
