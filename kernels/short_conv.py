"""Short causal depthwise conv1d (K = 2..4) fused with bias, SiLU and a multiplicative gate.

    y[b, c, t] = act(bias[c] + sum_j weight[c, j] * xe[b, c, t - (K-1) + j]) * gate[b, c, t]

where ``xe`` is the input extended on the left by the K-1 state columns (zeros without state).
One program handles BLOCK_L positions of one (batch, channel) row; the K taps are K shifted
loads of the same row (served from L1/L2), so HBM traffic is one read of x (and gate) and one
write of y. The backward kernel runs over the extended positions [-(K-1), L) and produces
d(state) and dx together, plus per-program partial sums for d(weight) and d(bias).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

FWD_BLOCK_L = 1024
BWD_BLOCK_L = 512
NUM_WARPS = 4
BWD_WARPS = 8


@triton.jit
def _load_ext(x_row, s_row, pos, L, KM1: tl.constexpr, HAS_STATE: tl.constexpr):
    """Extended input at positions ``pos`` in [-(K-1), L): state columns first, then x (fp32)."""
    v = tl.load(x_row + pos, mask=(pos >= 0) & (pos < L), other=0.0).to(tl.float32)
    if HAS_STATE:
        v += tl.load(s_row + pos + KM1, mask=(pos < 0) & (pos >= -KM1), other=0.0).to(tl.float32)
    return v


@triton.jit
def _preact(x_row, s_row, w_row, b_ptr, c, q, L, K: tl.constexpr, HAS_STATE: tl.constexpr,
            HAS_BIAS: tl.constexpr):
    """Pre-activation bias + sum_j w[j] * xe[q - (K-1) + j] (fp32)."""
    acc = tl.zeros(q.shape, dtype=tl.float32)
    if HAS_BIAS:
        acc += tl.load(b_ptr + c).to(tl.float32)
    for j in tl.static_range(K):
        w = tl.load(w_row + j).to(tl.float32)
        acc += w * _load_ext(x_row, s_row, q - (K - 1) + j, L, K - 1, HAS_STATE)
    return acc


@triton.jit
def short_conv_fwd_kernel(
    x_ptr, w_ptr, b_ptr, g_ptr, s_ptr, y_ptr, C, L,
    K: tl.constexpr, ACT: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_GATE: tl.constexpr,
    HAS_STATE: tl.constexpr, BLOCK_L: tl.constexpr,
):
    row = tl.program_id(0)  # b * C + c
    c = row % C
    t = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)
    x_row = x_ptr + row.to(tl.int64) * L
    s_row = s_ptr + row.to(tl.int64) * (K - 1)
    pre = _preact(x_row, s_row, w_ptr + c * K, b_ptr, c, t, L, K, HAS_STATE, HAS_BIAS)
    if ACT:
        out = pre * tl.sigmoid(pre)
    else:
        out = pre
    if HAS_GATE:
        out = out * tl.load(g_ptr + row.to(tl.int64) * L + t, mask=t < L, other=0.0).to(tl.float32)
    tl.store(y_ptr + row.to(tl.int64) * L + t, out.to(y_ptr.dtype.element_ty), mask=t < L)


@triton.jit
def short_conv_bwd_kernel(
    x_ptr, w_ptr, b_ptr, g_ptr, s_ptr, dy_ptr, dxe_ptr, dg_ptr, dw_part_ptr, db_part_ptr, C, L, NBLK,
    K: tl.constexpr, ACT: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_GATE: tl.constexpr,
    HAS_STATE: tl.constexpr, BLOCK_L: tl.constexpr,
):
    row = tl.program_id(0)
    blk = tl.program_id(1)
    c = row % C
    p = blk * BLOCK_L + tl.arange(0, BLOCK_L) - (K - 1)  # extended positions [-(K-1), L)
    x_row = x_ptr + row.to(tl.int64) * L
    s_row = s_ptr + row.to(tl.int64) * (K - 1)
    xe_p = _load_ext(x_row, s_row, p, L, K - 1, HAS_STATE)
    dxe = tl.zeros([BLOCK_L], dtype=tl.float32)
    for s in tl.static_range(K):
        q = p + s  # output positions that read xe[p] through tap K-1-s
        valid = (q >= 0) & (q < L)
        pre = _preact(x_row, s_row, w_ptr + c * K, b_ptr, c, q, L, K, HAS_STATE, HAS_BIAS)
        dout = tl.load(dy_ptr + row.to(tl.int64) * L + q, mask=valid, other=0.0).to(tl.float32)
        if ACT:
            sig = tl.sigmoid(pre)
            act = pre * sig
            dact = sig * (1.0 + pre * (1.0 - sig))
        else:
            act = pre
            dact = tl.full(pre.shape, 1.0, tl.float32)
        if HAS_GATE:
            gate = tl.load(g_ptr + row.to(tl.int64) * L + q, mask=valid, other=0.0).to(tl.float32)
            if s == 0:
                tl.store(dg_ptr + row.to(tl.int64) * L + q, (dout * act).to(dg_ptr.dtype.element_ty),
                         mask=valid)
            dout = dout * gate
        dpre = tl.where(valid, dout * dact, 0.0)
        dxe += tl.load(w_ptr + c * K + (K - 1 - s)).to(tl.float32) * dpre
        tl.store(dw_part_ptr + (row.to(tl.int64) * NBLK + blk) * K + (K - 1 - s), tl.sum(dpre * xe_p))
        if s == 0:
            if HAS_BIAS:
                tl.store(db_part_ptr + row.to(tl.int64) * NBLK + blk, tl.sum(dpre))
    n_ext = L + K - 1
    tl.store(dxe_ptr + row.to(tl.int64) * n_ext + p + (K - 1), dxe, mask=p < L)


def _flags(bias, gate, state):
    return dict(HAS_BIAS=bias is not None, HAS_GATE=gate is not None, HAS_STATE=state is not None)


def short_conv_fwd(x, weight, bias, activation, gate, state):
    """Launch the forward kernel. x (B, C, L) -> y (B, C, L) in x.dtype."""
    Bsz, C, L = x.shape
    K = weight.shape[1]
    y = torch.empty_like(x)
    dummy = x
    grid = (Bsz * C, triton.cdiv(L, FWD_BLOCK_L))
    short_conv_fwd_kernel[grid](
        x, weight, bias if bias is not None else dummy, gate if gate is not None else dummy,
        state if state is not None else dummy, y, C, L,
        K=K, ACT=activation == "silu", BLOCK_L=FWD_BLOCK_L, num_warps=NUM_WARPS, **_flags(bias, gate, state),
    )
    return y


def short_conv_bwd(dy, x, weight, bias, activation, gate, state):
    """Launch the backward kernel; returns (dx, dweight, dbias, dgate, dstate)."""
    Bsz, C, L = x.shape
    K = weight.shape[1]
    nblk = triton.cdiv(L + K - 1, BWD_BLOCK_L)
    dxe = torch.empty(Bsz, C, L + K - 1, device=x.device, dtype=torch.float32)
    dg = torch.empty_like(gate) if gate is not None else None
    dw_part = torch.empty(Bsz * C, nblk, K, device=x.device, dtype=torch.float32)
    db_part = torch.zeros(Bsz * C, nblk, device=x.device, dtype=torch.float32)
    dummy = x
    short_conv_bwd_kernel[(Bsz * C, nblk)](
        x, weight, bias if bias is not None else dummy, gate if gate is not None else dummy,
        state if state is not None else dummy, dy, dxe, dg if dg is not None else dummy, dw_part, db_part,
        C, L, nblk, K=K, ACT=activation == "silu", BLOCK_L=BWD_BLOCK_L, num_warps=BWD_WARPS,
        **_flags(bias, gate, state),
    )
    dweight = dw_part.view(Bsz, C, nblk, K).sum(dim=(0, 2)).to(weight.dtype)
    dbias = db_part.view(Bsz, C, nblk).sum(dim=(0, 2)).to(bias.dtype) if bias is not None else None
    dstate = dxe[:, :, : K - 1].to(state.dtype) if state is not None else None
    return dxe[:, :, K - 1:].to(x.dtype), dweight, dbias, dg, dstate


class ShortConvFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, gate, state, activation):
        ctx.activation = activation
        ctx.save_for_backward(x, weight, bias, gate, state)
        return short_conv_fwd(x, weight, bias, activation, gate, state)

    @staticmethod
    def backward(ctx, dy):
        x, weight, bias, gate, state = ctx.saved_tensors
        dx, dw, db, dg, ds = short_conv_bwd(dy.contiguous(), x, weight, bias, ctx.activation, gate, state)
        return dx, dw, db, dg, ds, None


def short_conv(x, weight, bias=None, activation=None, gate=None, state=None):
    """Triton short causal depthwise conv; same contract as ``genoseq.ops.short_conv.short_conv``.

    x (B, C, L); weight (C, K), K in 2..4; bias (C,); activation None | "silu"; gate (B, C, L);
    state (B, C, K-1). Returns (y (B, C, L), new_state (B, C, K-1) = the last K-1 extended inputs).
    """
    K = weight.shape[1]
    x = x.contiguous()
    weight = weight.contiguous()
    bias = bias.contiguous() if bias is not None else None
    gate = gate.contiguous() if gate is not None else None
    state = state.contiguous() if state is not None else None
    y = ShortConvFn.apply(x, weight, bias, gate, state, activation)
    ext = x if state is None else torch.cat([state.to(x.dtype), x], dim=-1)
    if ext.shape[-1] < K - 1:
        ext = torch.nn.functional.pad(ext, (K - 1 - ext.shape[-1], 0))
    return y, ext[..., ext.shape[-1] - (K - 1):]


def unsupported(x, weight, activation) -> str | None:
    """Why this call cannot run on the kernel (None when it can)."""
    if x.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return f"dtype {x.dtype} (kernels take float32/float16/bfloat16)"
    if not 2 <= weight.shape[1] <= 4:
        return f"kernel size {weight.shape[1]} (the kernel supports 2..4)"
    if activation not in (None, "silu"):
        return f"activation {activation!r} (the kernel supports None and 'silu')"
    return None


def aot_configs():
    """Every kernel configuration the launcher can pick (all optional inputs on), for kernels/aot.py."""
    for dtype in ("fp32", "bf16"):
        for K in (2, 3, 4):
            flags = dict(K=K, ACT=True, HAS_BIAS=True, HAS_GATE=True, HAS_STATE=True)
            yield dict(fn=short_conv_fwd_kernel, config=f"K={K} {dtype}", dtype=dtype, fp32_ptrs=(),
                       constexprs=dict(flags, BLOCK_L=FWD_BLOCK_L), num_warps=NUM_WARPS)
            yield dict(fn=short_conv_bwd_kernel, config=f"K={K} {dtype}", dtype=dtype,
                       fp32_ptrs=("dxe_ptr", "dw_part_ptr", "db_part_ptr"),
                       constexprs=dict(flags, BLOCK_L=BWD_BLOCK_L), num_warps=BWD_WARPS)
