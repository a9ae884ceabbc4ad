"""Mamba-2 SSD (state-space duality) as a chunked scan on tensor cores.

One program owns one (batch, head, block of BLOCK_P <= 32 head_dim columns): its BLOCK_P x N slice
of the state lives in registers and the program walks the sequence in chunks of Q = 32 steps. Per chunk (cs = cumsum(dt * A)):

    S   = C B^T                                     (Q, Q)   tl.dot
    M   = S * exp(cs_i - cs_j) [i >= j] * dt_j      intra-chunk "attention" with decay
    y   = M x + exp(cs) * (C h^T) + D x             (Q, P)   two tl.dot
    h  <- exp(cs_Q) h + (x * exp(cs_Q - cs) dt)^T B (P, N)   tl.dot

so inter-chunk state passing happens in registers and HBM traffic is one read of x, dt, B, C and
one write of y. The forward saves the chunk-start states (fp32, B x H x ceil(L/Q) x P x N) for the
backward. Backward = two kernels: `ssd_bwd_state_kernel` walks the chunks in reverse carrying
dL/dh (P, N) (one tl.dot per chunk) and stores it per chunk; `ssd_bwd_dx_kernel` (dx, three tl.dot)
and `ssd_bwd_chunk_kernel` (ddt, dB, dC, dA, dD, six tl.dot) then run every chunk in parallel; dB and dC are summed over the
heads of a group with atomics, and so is d(dt) (a sum over the head_dim blocks). Matmul operands are cast to the input dtype for 16-bit inputs (bf16/fp16 tensor cores, fp32
accumulation); float32 inputs use IEEE fp32 dots (TF32 operand tiles spilled registers).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

CHUNK = 32
BLOCK_P_MAX = 32  # head_dim columns per program (larger head_dim -> more programs)
STATE_WARPS = 4
CHUNK_WARPS = 8
NUM_STAGES = 1
CHUNK_BLOCK_N = 32  # d_state sub-block of ssd_bwd_chunk_kernel
MAX_N = 64  # largest d_state (register tiles of the forward / state kernels)


@triton.jit
def _mm(a, b, ref_ptr):
    """a @ b: IEEE fp32 for float32 inputs, 16-bit tensor cores (fp32 accumulate) for 16-bit inputs."""
    if ref_ptr.dtype.element_ty == tl.float32:
        return tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")
    else:
        return tl.dot(a.to(ref_ptr.dtype.element_ty), b.to(ref_ptr.dtype.element_ty))


@triton.jit
def _load_chunk(x_ptr, dt_ptr, B_ptr, C_ptr, b, h, grp, t, p, n, L, H, G, P, N):
    tmask = t < L
    row = (b * L + t).to(tl.int64)  # (Q,)
    x = tl.load(x_ptr + (row * H + h)[:, None] * P + p[None, :], mask=tmask[:, None] & (p < P)[None, :],
                other=0.0)
    dt = tl.load(dt_ptr + row * H + h, mask=tmask, other=0.0).to(tl.float32)
    bc_offs = (row * G + grp)[:, None] * N + n[None, :]
    bc_mask = tmask[:, None] & (n < N)[None, :]
    Bc = tl.load(B_ptr + bc_offs, mask=bc_mask, other=0.0)
    Cc = tl.load(C_ptr + bc_offs, mask=bc_mask, other=0.0)
    return x, dt, Bc, Cc, bc_offs, bc_mask


@triton.jit
def ssd_fwd_kernel(
    x_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, D_ptr, h0_ptr, y_ptr, hT_ptr, ckpt_ptr,
    L, H, G, P, N, NCHUNK,
    HAS_D: tl.constexpr, HAS_H0: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr,
    CHUNK: tl.constexpr, SAVE_STATES: tl.constexpr, COMPUTE_Y: tl.constexpr,
):
    """Forward (COMPUTE_Y) or the state-only pass the backward runs to rebuild the chunk-start states."""
    pid = tl.program_id(0)  # b * H + h
    b = pid // H
    h = pid % H
    grp = h // (H // G)
    p = tl.program_id(1) * BLOCK_P + tl.arange(0, BLOCK_P)
    n = tl.arange(0, BLOCK_N)
    q = tl.arange(0, CHUNK)
    A = tl.load(A_ptr + h).to(tl.float32)
    Dh = tl.load(D_ptr + h).to(tl.float32) if HAS_D else 0.0
    pn_offs = (pid.to(tl.int64) * P + p[:, None]) * N + n[None, :]
    pn_mask = (p < P)[:, None] & (n < N)[None, :]
    if HAS_H0:
        state = tl.load(h0_ptr + pn_offs, mask=pn_mask, other=0.0).to(tl.float32)  # (P, N)
    else:
        state = tl.zeros([BLOCK_P, BLOCK_N], tl.float32)
    causal = q[:, None] >= q[None, :]
    for ci in range(0, NCHUNK):
        t = ci * CHUNK + q
        x, dt, Bc, Cc, _, _ = _load_chunk(x_ptr, dt_ptr, B_ptr, C_ptr, b, h, grp, t, p, n, L, H, G, P, N)
        if SAVE_STATES:  # chunk-start states for the backward
            tl.store(ckpt_ptr + ((pid.to(tl.int64) * NCHUNK + ci) * P + p[:, None]) * N + n[None, :], state,
                     mask=pn_mask)
        cs = tl.cumsum(dt * A, axis=0)  # (Q,)
        if COMPUTE_Y:
            S = _mm(Cc, tl.trans(Bc), x_ptr)  # (Q, Q)
            decay = tl.exp(tl.where(causal, cs[:, None] - cs[None, :], float("-inf")))
            M = S * decay * dt[None, :]
            y = _mm(M.to(x.dtype), x, x_ptr)  # (Q, P)
            y += tl.exp(cs)[:, None] * _mm(Cc, tl.trans(state.to(Cc.dtype)), x_ptr)
            y += Dh * x.to(tl.float32)
            tmask = t < L
            tl.store(y_ptr + ((b * L + t).to(tl.int64) * H + h)[:, None] * P + p[None, :],
                     y.to(y_ptr.dtype.element_ty), mask=tmask[:, None] & (p < P)[None, :])
        cs_end = tl.sum(tl.where(q == CHUNK - 1, cs, 0.0), axis=0)
        w = tl.exp(cs_end - cs) * dt  # (Q,)
        xw = (x.to(tl.float32) * w[:, None]).to(x.dtype)
        state = state * tl.exp(cs_end) + _mm(tl.trans(xw), Bc.to(x.dtype), x_ptr)
    tl.store(hT_ptr + pn_offs, state, mask=pn_mask)


@triton.jit
def ssd_bwd_state_kernel(
    dt_ptr, A_ptr, C_ptr, dy_ptr, dhT_ptr, dckpt_ptr, dh0_ptr,
    L, H, G, P, N, NCHUNK,
    HAS_DHT: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
):
    """Reverse pass over chunks: stores dL/d(state after chunk c) for every chunk, and dL/d(h0)."""
    pid = tl.program_id(0)
    b = pid // H
    h = pid % H
    grp = h // (H // G)
    p = tl.program_id(1) * BLOCK_P + tl.arange(0, BLOCK_P)
    n = tl.arange(0, BLOCK_N)
    q = tl.arange(0, CHUNK)
    A = tl.load(A_ptr + h).to(tl.float32)
    pn_offs = (pid.to(tl.int64) * P + p[:, None]) * N + n[None, :]
    pn_mask = (p < P)[:, None] & (n < N)[None, :]
    if HAS_DHT:
        dstate = tl.load(dhT_ptr + pn_offs, mask=pn_mask, other=0.0).to(tl.float32)
    else:
        dstate = tl.zeros([BLOCK_P, BLOCK_N], tl.float32)
    for cr in range(0, NCHUNK):
        ci = NCHUNK - 1 - cr
        t = ci * CHUNK + q
        tmask = t < L
        row = (b * L + t).to(tl.int64)
        tl.store(dckpt_ptr + ((pid.to(tl.int64) * NCHUNK + ci) * P + p[:, None]) * N + n[None, :], dstate,
                 mask=pn_mask)
        dt = tl.load(dt_ptr + row * H + h, mask=tmask, other=0.0).to(tl.float32)
        dy = tl.load(dy_ptr + (row * H + h)[:, None] * P + p[None, :], mask=tmask[:, None] & (p < P)[None, :],
                     other=0.0).to(tl.float32)
        Cf = tl.load(C_ptr + (row * G + grp)[:, None] * N + n[None, :], mask=tmask[:, None] & (n < N)[None, :],
                     other=0.0).to(tl.float32)
        cs = tl.cumsum(dt * A, axis=0)
        cs_end = tl.sum(tl.where(q == CHUNK - 1, cs, 0.0), axis=0)
        # dL/dh_in = exp(cs_end) dL/dh_out + (dy * exp(cs))^T C
        dstate = tl.exp(cs_end) * dstate + _mm(tl.trans(dy * tl.exp(cs)[:, None]), Cf, dy_ptr)
    tl.store(dh0_ptr + pn_offs, dstate, mask=pn_mask)


@triton.jit
def ssd_bwd_dx_kernel(
    x_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, D_ptr, dckpt_ptr, dy_ptr, dx_ptr,
    L, H, G, P, N, NCHUNK,
    HAS_D: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
):
    """All chunks in parallel: dx = M^T dy + exp(cs_end - cs) dt * (B dstate^T) + D dy."""
    pid = tl.program_id(0)
    b = pid // H
    h = pid % H
    grp = h // (H // G)
    p = tl.program_id(1) * BLOCK_P + tl.arange(0, BLOCK_P)
    ci = tl.program_id(2)
    n = tl.arange(0, BLOCK_N)
    q = tl.arange(0, CHUNK)
    A = tl.load(A_ptr + h).to(tl.float32)
    Dh = tl.load(D_ptr + h).to(tl.float32) if HAS_D else 0.0
    pn_mask = (p < P)[:, None] & (n < N)[None, :]
    t = ci * CHUNK + q
    tmask = t < L
    x, dt, Bc, Cc, _, _ = _load_chunk(x_ptr, dt_ptr, B_ptr, C_ptr, b, h, grp, t, p, n, L, H, G, P, N)
    qp_offs = ((b * L + t).to(tl.int64) * H + h)[:, None] * P + p[None, :]
    qp_mask = tmask[:, None] & (p < P)[None, :]
    dy = tl.load(dy_ptr + qp_offs, mask=qp_mask, other=0.0).to(tl.float32)  # (Q, P)
    st_offs = ((pid.to(tl.int64) * NCHUNK + ci) * P + p[:, None]) * N + n[None, :]
    dstate = tl.load(dckpt_ptr + st_offs, mask=pn_mask, other=0.0)  # (P, N) dL/d(state leaving the chunk)
    cs = tl.cumsum(dt * A, axis=0)
    cs_end = tl.sum(tl.where(q == CHUNK - 1, cs, 0.0), axis=0)
    S = _mm(Cc, tl.trans(Bc), x_ptr)  # (Q, Q): C_i . B_j
    decay = tl.exp(tl.where(q[:, None] >= q[None, :], cs[:, None] - cs[None, :], float("-inf")))
    M = S * decay * dt[None, :]
    dx = _mm(tl.trans(M), dy, x_ptr)
    dx += (tl.exp(cs_end - cs) * dt)[:, None] * _mm(Bc, tl.trans(dstate), x_ptr) + Dh * dy
    tl.store(dx_ptr + qp_offs, dx.to(dx_ptr.dtype.element_ty), mask=qp_mask)


@triton.jit
def ssd_bwd_chunk_kernel(
    x_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, ckpt_ptr, dckpt_ptr, dy_ptr,
    ddt_ptr, dB_ptr, dC_ptr, dA_ptr, dD_ptr,
    L, H, G, P, N, NCHUNK,
    BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
):
    """All chunks in parallel: dB, dC, d(dt), dA, dD from the chunk's input state and output-state gradient.

    d_state is walked in sub-blocks of BLOCK_N (two passes: sums over N first, then the dB/dC blocks),
    so the register tiles stay (Q, BLOCK_N) whatever N is.
    """
    pid = tl.program_id(0)
    b = pid // H
    h = pid % H
    grp = h // (H // G)
    p = tl.program_id(1) * BLOCK_P + tl.arange(0, BLOCK_P)
    ci = tl.program_id(2)
    q = tl.arange(0, CHUNK)
    A = tl.load(A_ptr + h).to(tl.float32)
    causal = q[:, None] >= q[None, :]
    t = ci * CHUNK + q
    tmask = t < L
    row = (b * L + t).to(tl.int64)
    qp_offs = (row * H + h)[:, None] * P + p[None, :]
    qp_mask = tmask[:, None] & (p < P)[None, :]
    x = tl.load(x_ptr + qp_offs, mask=qp_mask, other=0.0)
    dt = tl.load(dt_ptr + row * H + h, mask=tmask, other=0.0).to(tl.float32)
    dy = tl.load(dy_ptr + qp_offs, mask=qp_mask, other=0.0).to(tl.float32)  # (Q, P)
    st_base = (pid.to(tl.int64) * NCHUNK + ci) * P
    xf = x.to(tl.float32)
    cs = tl.cumsum(dt * A, axis=0)
    cs_end = tl.sum(tl.where(q == CHUNK - 1, cs, 0.0), axis=0)
    ecs = tl.exp(cs)
    to_end = tl.exp(cs_end - cs)  # (Q,)
    w = to_end * dt
    # pass 1: sums over d_state
    S = tl.zeros([CHUNK, CHUNK], tl.float32)  # C_i . B_j
    yint = tl.zeros([CHUNK, BLOCK_P], tl.float32)  # C h_in^T
    sB = tl.zeros([CHUNK], tl.float32)  # sum_n (x dstate)[n] B[n]
    hd = 0.0  # sum h_in * dstate
    for n0 in range(0, N, BLOCK_N):
        n = n0 + tl.arange(0, BLOCK_N)
        bc_offs = (row * G + grp)[:, None] * N + n[None, :]
        bc_mask = tmask[:, None] & (n < N)[None, :]
        Bc = tl.load(B_ptr + bc_offs, mask=bc_mask, other=0.0)
        Cc = tl.load(C_ptr + bc_offs, mask=bc_mask, other=0.0)
        pn_mask = (p < P)[:, None] & (n < N)[None, :]
        h_in = tl.load(ckpt_ptr + (st_base + p[:, None]) * N + n[None, :], mask=pn_mask, other=0.0)
        dstate = tl.load(dckpt_ptr + (st_base + p[:, None]) * N + n[None, :], mask=pn_mask, other=0.0)
        S += _mm(Cc, tl.trans(Bc), x_ptr)
        yint += _mm(Cc, tl.trans(h_in), x_ptr)
        sB += tl.sum(_mm(x, dstate, x_ptr) * Bc.to(tl.float32), axis=1)
        hd += tl.sum(tl.sum(h_in * dstate, axis=1), axis=0)
    decay = tl.exp(tl.where(causal, cs[:, None] - cs[None, :], float("-inf")))
    E = decay * _mm(dy, tl.trans(xf), x_ptr)  # (Q, Q): decay * (dy_i . x_j)
    Wm = E * dt[None, :]
    # pass 2: dC = W B + exp(cs) * (dy h_in);  dB = W^T C + w * (x dstate)
    for n0 in range(0, N, BLOCK_N):
        n = n0 + tl.arange(0, BLOCK_N)
        bc_offs = (row * G + grp)[:, None] * N + n[None, :]
        bc_mask = tmask[:, None] & (n < N)[None, :]
        Bc = tl.load(B_ptr + bc_offs, mask=bc_mask, other=0.0)
        Cc = tl.load(C_ptr + bc_offs, mask=bc_mask, other=0.0)
        pn_mask = (p < P)[:, None] & (n < N)[None, :]
        h_in = tl.load(ckpt_ptr + (st_base + p[:, None]) * N + n[None, :], mask=pn_mask, other=0.0)
        dstate = tl.load(dckpt_ptr + (st_base + p[:, None]) * N + n[None, :], mask=pn_mask, other=0.0)
        dC = _mm(Wm, Bc, x_ptr) + ecs[:, None] * _mm(dy, h_in, x_ptr)
        tl.atomic_add(dC_ptr + bc_offs, dC, mask=bc_mask)
        dB = _mm(tl.trans(Wm), Cc, x_ptr) + w[:, None] * _mm(x, dstate, x_ptr)
        tl.atomic_add(dB_ptr + bc_offs, dB, mask=bc_mask)
    # d(dt) directly, then through cs = cumsum(dt * A)
    s_state = to_end * sB  # (Q,)
    ES = E * S
    T = ES * dt[None, :]
    ddt = tl.sum(ES, axis=0) + s_state
    dcs = tl.sum(T, axis=1) - tl.sum(T, axis=0) + ecs * tl.sum(dy * yint, axis=1) - s_state * dt
    end_term = tl.exp(cs_end) * hd + tl.sum(s_state * dt, axis=0)
    dcs += tl.where(q == CHUNK - 1, end_term, 0.0)
    rc = tl.cumsum(dcs, axis=0, reverse=True)  # sum_{k >= m} dcs_k
    ddt += A * rc
    tl.atomic_add(ddt_ptr + row * H + h, ddt, mask=tmask)
    tl.atomic_add(dA_ptr + pid, tl.sum(tl.where(tmask, rc * dt, 0.0), axis=0))
    tl.atomic_add(dD_ptr + pid, tl.sum(tl.sum(dy * xf, axis=1), axis=0))


def _blocks(P: int, N: int, dtype: torch.dtype) -> tuple[int, int]:
    """(BLOCK_P, BLOCK_N): float32 inputs use 16 head_dim columns per program (IEEE fp32 dots need more
    registers), 16-bit inputs up to 32."""
    bp_max = 16 if dtype == torch.float32 else BLOCK_P_MAX
    return min(bp_max, max(16, triton.next_power_of_2(P))), max(16, triton.next_power_of_2(N))


def _fwd_warps(dtype_is_fp32: bool, bn: int) -> int:
    """Chosen from the AOT table: the only settings with 0 spills on both sm_80 and sm_90."""
    return 8 if dtype_is_fp32 and bn >= 64 else 4


def _run_fwd(x, dt, A, B, C, D, h0, compute_y: bool):
    """Forward kernel: (y, final state) when compute_y, else (None, chunk-start states (B, H, nchunk, P, N))."""
    Bsz, L, H, P = x.shape
    G, N = B.shape[2], B.shape[3]
    bp, bn = _blocks(P, N, x.dtype)
    nchunk = triton.cdiv(L, CHUNK)
    f32 = dict(device=x.device, dtype=torch.float32)
    y = torch.empty_like(x) if compute_y else None
    hT = torch.empty(Bsz, H, P, N, **f32)
    ckpt = None if compute_y else torch.empty(Bsz, H, nchunk, P, N, **f32)
    dummy = x
    ssd_fwd_kernel[(Bsz * H, triton.cdiv(P, bp))](
        x, dt, A, B, C, D if D is not None else dummy, h0 if h0 is not None else dummy,
        y if compute_y else dummy, hT, ckpt if ckpt is not None else hT,
        L, H, G, P, N, nchunk, HAS_D=D is not None, HAS_H0=h0 is not None, BLOCK_P=bp, BLOCK_N=bn,
        CHUNK=CHUNK, SAVE_STATES=not compute_y, COMPUTE_Y=compute_y,
        num_warps=_fwd_warps(x.dtype == torch.float32, bn), num_stages=NUM_STAGES,
    )
    return (y, hT) if compute_y else (None, ckpt)


class SSDFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, dt, A, B, C, D, h0):
        y, hT = _run_fwd(x, dt, A, B, C, D, h0, compute_y=True)
        ctx.has = (D is not None, h0 is not None)
        ctx.save_for_backward(x, dt, A, B, C, D, h0)
        return y, hT

    @staticmethod
    def backward(ctx, dy, dhT):
        x, dt, A, B, C, D, h0 = ctx.saved_tensors
        _, ckpt = _run_fwd(x, dt, A, B, C, D, h0, compute_y=False)  # rebuild the chunk-start states
        Bsz, L, H, P = x.shape
        G, N = B.shape[2], B.shape[3]
        bp, bn = _blocks(P, N, x.dtype)
        npb, nchunk = triton.cdiv(P, bp), ckpt.shape[2]
        f32 = dict(device=x.device, dtype=torch.float32)
        dy = dy.contiguous()
        dckpt = torch.empty_like(ckpt)
        dh0 = torch.empty(Bsz, H, P, N, **f32)
        dummy = x
        ssd_bwd_state_kernel[(Bsz * H, npb)](
            dt, A, C, dy, dhT.contiguous() if dhT is not None else dummy, dckpt, dh0,
            L, H, G, P, N, nchunk, HAS_DHT=dhT is not None, BLOCK_P=bp, BLOCK_N=bn, CHUNK=CHUNK,
            num_warps=STATE_WARPS, num_stages=NUM_STAGES,
        )
        dx, ddt = torch.empty_like(x), torch.zeros(dt.shape, **f32)
        dB, dC = torch.zeros(B.shape, **f32), torch.zeros(C.shape, **f32)
        dA, dD = torch.zeros(Bsz, H, **f32), torch.zeros(Bsz, H, **f32)
        grid = (Bsz * H, npb, nchunk)
        ssd_bwd_dx_kernel[grid](
            x, dt, A, B, C, D if D is not None else dummy, dckpt, dy, dx, L, H, G, P, N, nchunk,
            HAS_D=D is not None, BLOCK_P=bp, BLOCK_N=bn, CHUNK=CHUNK, num_warps=CHUNK_WARPS, num_stages=NUM_STAGES,
        )
        ssd_bwd_chunk_kernel[grid](
            x, dt, A, B, C, ckpt, dckpt, dy, ddt, dB, dC, dA, dD, L, H, G, P, N, nchunk,
            BLOCK_P=bp, BLOCK_N=min(bn, CHUNK_BLOCK_N), CHUNK=CHUNK, num_warps=CHUNK_WARPS,
            num_stages=NUM_STAGES,
        )
        has_d, has_h0 = ctx.has
        return (dx, ddt.to(dt.dtype), dA.sum(0).to(A.dtype), dB.to(B.dtype), dC.to(C.dtype),
                dD.sum(0).to(D.dtype) if has_d else None, dh0 if has_h0 else None)


def ssd(x, dt, A, B, C, D=None, initial_state=None, return_final_state=False):
    """Triton SSD; same contract as ``genoseq.ops.ssd.ssd``.

    x (B, L, H, P); dt (B, L, H) positive; A (H,) negative; B, C (B, L, G, N); D (H,);
    initial_state (B, H, P, N). Returns y (B, L, H, P) [, final_state (B, H, P, N) float32].
    """
    def c(t):
        return t.contiguous() if t is not None else None

    y, hT = SSDFn.apply(c(x), c(dt), c(A), c(B), c(C), c(D), c(initial_state))
    return (y, hT) if return_final_state else y


def unsupported(x, B) -> str | None:
    """Why this call cannot run on the kernel (None when it can)."""
    if x.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return f"dtype {x.dtype} (kernels take float32/float16/bfloat16)"
    if B.shape[3] > MAX_N:
        return f"d_state {B.shape[3]} > {MAX_N} (register tile limit)"
    if x.shape[2] % B.shape[2]:
        return f"{x.shape[2]} heads are not divisible into {B.shape[2]} groups"
    return None


def aot_configs():
    """Every kernel configuration the launcher can pick (all optional inputs on), for kernels/aot.py."""
    for dtype in ("fp32", "bf16"):
        for bp in ((16,) if dtype == "fp32" else (16, BLOCK_P_MAX)):
            for bn in (16, 32, MAX_N):
                common = dict(BLOCK_P=bp, BLOCK_N=bn, CHUNK=CHUNK)
                cfg = f"P{bp} N{bn} Q{CHUNK} {dtype}"
                for compute_y in (True, False):  # forward / state rebuild in the backward
                    yield dict(fn=ssd_fwd_kernel, config=cfg + ("" if compute_y else " states"), dtype=dtype,
                               fp32_ptrs=("dt_ptr", "A_ptr", "D_ptr", "h0_ptr", "hT_ptr", "ckpt_ptr"),
                               constexprs=dict(common, HAS_D=True, HAS_H0=True, SAVE_STATES=not compute_y,
                                               COMPUTE_Y=compute_y),
                               num_warps=_fwd_warps(dtype == "fp32", bn), num_stages=NUM_STAGES)
                yield dict(fn=ssd_bwd_state_kernel, config=cfg, dtype=dtype,
                           fp32_ptrs=("dt_ptr", "A_ptr", "dhT_ptr", "dckpt_ptr", "dh0_ptr"),
                           constexprs=dict(common, HAS_DHT=True), num_warps=STATE_WARPS, num_stages=NUM_STAGES)
                yield dict(fn=ssd_bwd_dx_kernel, config=cfg, dtype=dtype,
                           fp32_ptrs=("dt_ptr", "A_ptr", "D_ptr", "dckpt_ptr"),
                           constexprs=dict(common, HAS_D=True), num_warps=CHUNK_WARPS, num_stages=NUM_STAGES)
                yield dict(fn=ssd_bwd_chunk_kernel, config=cfg, dtype=dtype,
                           fp32_ptrs=("dt_ptr", "A_ptr", "ckpt_ptr", "dckpt_ptr", "ddt_ptr", "dB_ptr",
                                      "dC_ptr", "dA_ptr", "dD_ptr"),
                           constexprs=dict(common, BLOCK_N=min(bn, CHUNK_BLOCK_N)), num_warps=CHUNK_WARPS,
                           num_stages=NUM_STAGES)
