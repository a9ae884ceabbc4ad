"""Mamba-1 selective scan: chunked parallel scan with state in/out, fused D skip and SiLU(z) gate.

One program owns BLOCK_D channels x N states of one batch row and walks the sequence in chunks
of CHUNK steps. Inside a chunk the linear recurrence h_t = a_t h_{t-1} + b_t (a_t = exp(dt_t A),
b_t = dt_t B_t u_t) is an associative scan along the time axis (tl.associative_scan, log-depth);
the state is carried from chunk to chunk in registers, so HBM traffic is one read of u, delta,
z, B, C and one write of y. The forward stores the state at every chunk start (fp32,
B x Dm x ceil(L/CHUNK) x N, i.e. N*4/CHUNK bytes per input element: 1 byte at N=16, CHUNK=64)
so the backward can recompute per-step states chunk by chunk instead of storing them.

Backward: one program walks the chunks in reverse. It recomputes the chunk's states from the
saved chunk-start state, then runs the adjoint recurrence g_t = C_t dy_t + a_{t+1} g_{t+1} as a
reverse associative scan, carrying g across chunks. dB and dC (summed over channels) are
accumulated with atomics; dA, dD and d(delta_bias) as per-program partials summed in torch.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

CHUNK = 32
BLOCK_D_MAX = 8
NUM_WARPS = 4


@triton.jit
def _lin_combine(a1, b1, a2, b2):
    # (a1, b1) then (a2, b2): h -> a2 (a1 h + b1) + b2
    return a1 * a2, a2 * b1 + b2


@triton.jit
def _dt(delta_ptr, offs, mask, bias, SOFTPLUS: tl.constexpr):
    raw = tl.load(delta_ptr + offs, mask=mask, other=0.0).to(tl.float32) + bias
    if SOFTPLUS:
        dt = tl.where(raw > 20.0, raw, tl.log(1.0 + tl.exp(raw)))
    else:
        dt = raw
    return tl.where(mask, dt, 0.0), raw


@triton.jit
def selective_scan_fwd_kernel(
    u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, h0_ptr, y_ptr, hT_ptr, ckpt_ptr,
    Dm, L, N, G, NCHUNK,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    HAS_H0: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
    SAVE_STATES: tl.constexpr,
):
    pid_b = tl.program_id(0)
    pid_d = tl.program_id(1)
    d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    n = tl.arange(0, BLOCK_N)
    dmask = d < Dm
    nmask = n < N
    dn_mask = dmask[:, None] & nmask[None, :]
    grp = (pid_d * BLOCK_D) // (Dm // G)
    A = tl.load(A_ptr + d[:, None] * N + n[None, :], mask=dn_mask, other=0.0).to(tl.float32)  # (BD, BN)
    Dv = tl.load(D_ptr + d, mask=dmask, other=0.0).to(tl.float32) if HAS_D else tl.zeros([BLOCK_D], tl.float32)
    bias = tl.load(bias_ptr + d, mask=dmask, other=0.0).to(tl.float32) if HAS_BIAS else tl.zeros(
        [BLOCK_D], tl.float32)
    state_offs = (pid_b * Dm + d[:, None]).to(tl.int64) * N + n[None, :]
    if HAS_H0:
        h = tl.load(h0_ptr + state_offs, mask=dn_mask, other=0.0).to(tl.float32)
    else:
        h = tl.zeros([BLOCK_D, BLOCK_N], tl.float32)
    row = (pid_b * Dm + d).to(tl.int64) * L  # (BD,)
    bc_base = (pid_b * G + grp).to(tl.int64) * N * L
    tt = tl.arange(0, CHUNK)
    for ci in range(0, NCHUNK):
        t = ci * CHUNK + tt
        tmask = t < L
        m2 = dmask[:, None] & tmask[None, :]
        offs = row[:, None] + t[None, :]
        u = tl.load(u_ptr + offs, mask=m2, other=0.0).to(tl.float32)  # (BD, T)
        dt, _ = _dt(delta_ptr, offs, m2, bias[:, None], SOFTPLUS)
        bc_offs = bc_base + n[:, None] * L + t[None, :]
        bc_mask = nmask[:, None] & tmask[None, :]
        Bt = tl.load(B_ptr + bc_offs, mask=bc_mask, other=0.0).to(tl.float32)  # (BN, T)
        Ct = tl.load(C_ptr + bc_offs, mask=bc_mask, other=0.0).to(tl.float32)
        if SAVE_STATES:  # chunk-start states for the backward (skipped when no gradient is needed)
            tl.store(ckpt_ptr + ((pid_b * Dm + d[:, None]).to(tl.int64) * NCHUNK + ci) * N + n[None, :], h,
                     mask=dn_mask)
        dA = tl.exp(dt[:, None, :] * A[:, :, None])  # (BD, BN, T)
        dBu = (dt * u)[:, None, :] * Bt[None, :, :]
        a_s, b_s = tl.associative_scan((dA, dBu), axis=2, combine_fn=_lin_combine)
        hs = a_s * h[:, :, None] + b_s
        y = tl.sum(hs * Ct[None, :, :], axis=1) + Dv[:, None] * u  # (BD, T)
        if HAS_Z:
            z = tl.load(z_ptr + offs, mask=m2, other=0.0).to(tl.float32)
            y = y * z * tl.sigmoid(z)
        tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=m2)
        h = tl.sum(tl.where((tt == CHUNK - 1)[None, None, :], hs, 0.0), axis=2)
    tl.store(hT_ptr + state_offs, h, mask=dn_mask)


@triton.jit
def selective_scan_bwd_kernel(
    u_ptr, delta_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, ckpt_ptr, dy_ptr, dhT_ptr,
    du_ptr, ddelta_ptr, dz_ptr, dB_ptr, dC_ptr, dA_ptr, dD_ptr, dbias_ptr, dh0_ptr,
    Dm, L, N, G, NCHUNK,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    HAS_DHT: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, CHUNK: tl.constexpr,
):
    pid_b = tl.program_id(0)
    pid_d = tl.program_id(1)
    d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    n = tl.arange(0, BLOCK_N)
    dmask = d < Dm
    nmask = n < N
    dn_mask = dmask[:, None] & nmask[None, :]
    grp = (pid_d * BLOCK_D) // (Dm // G)
    A = tl.load(A_ptr + d[:, None] * N + n[None, :], mask=dn_mask, other=0.0).to(tl.float32)
    Dv = tl.load(D_ptr + d, mask=dmask, other=0.0).to(tl.float32) if HAS_D else tl.zeros([BLOCK_D], tl.float32)
    bias = tl.load(bias_ptr + d, mask=dmask, other=0.0).to(tl.float32) if HAS_BIAS else tl.zeros(
        [BLOCK_D], tl.float32)
    state_offs = (pid_b * Dm + d[:, None]).to(tl.int64) * N + n[None, :]
    if HAS_DHT:
        g_carry = tl.load(dhT_ptr + state_offs, mask=dn_mask, other=0.0).to(tl.float32)
    else:
        g_carry = tl.zeros([BLOCK_D, BLOCK_N], tl.float32)
    dA_acc = tl.zeros([BLOCK_D, BLOCK_N], tl.float32)
    dD_acc = tl.zeros([BLOCK_D], tl.float32)
    dbias_acc = tl.zeros([BLOCK_D], tl.float32)
    row = (pid_b * Dm + d).to(tl.int64) * L
    bc_base = (pid_b * G + grp).to(tl.int64) * N * L
    tt = tl.arange(0, CHUNK)
    for cr in range(0, NCHUNK):
        ci = NCHUNK - 1 - cr
        t = ci * CHUNK + tt
        tmask = t < L
        m2 = dmask[:, None] & tmask[None, :]
        offs = row[:, None] + t[None, :]
        u = tl.load(u_ptr + offs, mask=m2, other=0.0).to(tl.float32)
        dt, raw = _dt(delta_ptr, offs, m2, bias[:, None], SOFTPLUS)
        m2n = dmask[:, None] & (t + 1 < L)[None, :]
        dt_next, _ = _dt(delta_ptr, offs + 1, m2n, bias[:, None], SOFTPLUS)
        bc_offs = bc_base + n[:, None] * L + t[None, :]
        bc_mask = nmask[:, None] & tmask[None, :]
        Bt = tl.load(B_ptr + bc_offs, mask=bc_mask, other=0.0).to(tl.float32)
        Ct = tl.load(C_ptr + bc_offs, mask=bc_mask, other=0.0).to(tl.float32)
        dout = tl.load(dy_ptr + offs, mask=m2, other=0.0).to(tl.float32)
        h0 = tl.load(ckpt_ptr + ((pid_b * Dm + d[:, None]).to(tl.int64) * NCHUNK + ci) * N + n[None, :],
                     mask=dn_mask, other=0.0)
        # recompute the chunk's states
        dA = tl.exp(dt[:, None, :] * A[:, :, None])
        dBu = (dt * u)[:, None, :] * Bt[None, :, :]
        a_s, b_s = tl.associative_scan((dA, dBu), axis=2, combine_fn=_lin_combine)
        hs = a_s * h0[:, :, None] + b_s  # (BD, BN, T)
        if HAS_Z:
            z = tl.load(z_ptr + offs, mask=m2, other=0.0).to(tl.float32)
            y = tl.sum(hs * Ct[None, :, :], axis=1) + Dv[:, None] * u
            sz = tl.sigmoid(z)
            tl.store(dz_ptr + offs, (dout * y * sz * (1.0 + z * (1.0 - sz))).to(dz_ptr.dtype.element_ty),
                     mask=m2)
            dy = dout * z * sz
        else:
            dy = dout
        # adjoint: g_t = C_t dy_t + a_{t+1} g_{t+1}
        alpha = tl.where(m2n[:, None, :], tl.exp(dt_next[:, None, :] * A[:, :, None]), 1.0)
        cvals = Ct[None, :, :] * dy[:, None, :]
        p_s, g_s = tl.associative_scan((alpha, cvals), axis=2, combine_fn=_lin_combine, reverse=True)
        g = g_s + p_s * g_carry[:, :, None]
        g_carry = tl.sum(tl.where((tt == 0)[None, None, :], g, 0.0), axis=2)
        hb = hs - dBu  # a_t h_{t-1}
        gB = g * Bt[None, :, :]
        du = tl.sum(gB, axis=1) * dt + Dv[:, None] * dy
        ghb = g * hb
        ddt = tl.sum(gB, axis=1) * u + tl.sum(ghb * A[:, :, None], axis=1)
        dA_acc += tl.sum(ghb * dt[:, None, :], axis=2)
        dD_acc += tl.sum(dy * u, axis=1)
        if SOFTPLUS:
            ddelta = ddt * tl.sigmoid(raw)
        else:
            ddelta = ddt
        ddelta = tl.where(m2, ddelta, 0.0)
        dbias_acc += tl.sum(ddelta, axis=1)
        tl.store(du_ptr + offs, du.to(du_ptr.dtype.element_ty), mask=m2)
        tl.store(ddelta_ptr + offs, ddelta.to(ddelta_ptr.dtype.element_ty), mask=m2)
        tl.atomic_add(dB_ptr + bc_offs, tl.sum(g * (dt * u)[:, None, :], axis=0), mask=bc_mask)
        tl.atomic_add(dC_ptr + bc_offs, tl.sum(hs * dy[:, None, :], axis=0), mask=bc_mask)
    # gradient of the initial state: dh0 = a_0 * g_0
    dt0, _ = _dt(delta_ptr, row, dmask, bias, SOFTPLUS)
    tl.store(dh0_ptr + state_offs, tl.exp(dt0[:, None] * A) * g_carry, mask=dn_mask)
    tl.store(dA_ptr + state_offs, dA_acc, mask=dn_mask)
    tl.store(dD_ptr + pid_b * Dm + d, dD_acc, mask=dmask)
    tl.store(dbias_ptr + pid_b * Dm + d, dbias_acc, mask=dmask)


def _block_n(N: int) -> int:
    return max(16, triton.next_power_of_2(N))


def _block_d_limit(bn: int) -> int:
    """Channels per program: (BLOCK_D, BLOCK_N, CHUNK) fp32 tiles must fit registers without spills."""
    return {16: BLOCK_D_MAX, 32: 4}.get(bn, 2)


def _bwd_warps(bn: int) -> int:
    return 8 if bn >= 64 else NUM_WARPS


def _block_d(Dm: int, G: int, N: int) -> int:
    per_group = Dm // G
    limit = _block_d_limit(_block_n(N))
    bd = 1
    while bd * 2 <= limit and per_group % (bd * 2) == 0:
        bd *= 2
    return bd


def _grouped(B):
    return B.unsqueeze(1) if B.dim() == 3 else B  # (B, N, L) -> (B, 1, N, L)


class SelectiveScanFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, h0, softplus):
        Bsz, Dm, L = u.shape
        N = A.shape[1]
        Bg, Cg = _grouped(B).contiguous(), _grouped(C).contiguous()
        G = Bg.shape[1]
        bd = _block_d(Dm, G, N)
        nchunk = triton.cdiv(L, CHUNK)
        y = torch.empty_like(u)
        hT = torch.empty(Bsz, Dm, N, device=u.device, dtype=torch.float32)
        save = any(ctx.needs_input_grad)
        ckpt = torch.empty(Bsz, Dm, nchunk if save else 0, N, device=u.device, dtype=torch.float32)
        dummy = u
        selective_scan_fwd_kernel[(Bsz, triton.cdiv(Dm, bd))](
            u, delta, A, Bg, Cg, D if D is not None else dummy, z if z is not None else dummy,
            delta_bias if delta_bias is not None else dummy, h0 if h0 is not None else dummy, y, hT, ckpt,
            Dm, L, N, G, nchunk,
            HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=softplus,
            HAS_H0=h0 is not None, BLOCK_D=bd, BLOCK_N=_block_n(N), CHUNK=CHUNK, SAVE_STATES=save,
            num_warps=NUM_WARPS,
        )
        ctx.softplus = softplus
        ctx.grouped = B.dim() == 4
        ctx.flags = (D is not None, z is not None, delta_bias is not None, h0 is not None)
        ctx.save_for_backward(u, delta, A, Bg, Cg, D, z, delta_bias, ckpt)
        ctx.mark_non_differentiable(ckpt)
        return y, hT  # final state in float32 (the compute dtype), as the reference

    @staticmethod
    def backward(ctx, dy, dhT):
        u, delta, A, Bg, Cg, D, z, delta_bias, ckpt = ctx.saved_tensors
        Bsz, Dm, L = u.shape
        N = A.shape[1]
        G = Bg.shape[1]
        bd = _block_d(Dm, G, N)
        nchunk = ckpt.shape[2]
        f32 = dict(device=u.device, dtype=torch.float32)
        du, ddelta = torch.empty_like(u), torch.empty_like(delta)
        dz = torch.empty_like(z) if z is not None else None
        dB = torch.zeros(Bg.shape, **f32)
        dC = torch.zeros(Cg.shape, **f32)
        dA = torch.empty(Bsz, Dm, N, **f32)
        dD = torch.empty(Bsz, Dm, **f32)
        dbias = torch.empty(Bsz, Dm, **f32)
        dh0 = torch.empty(Bsz, Dm, N, **f32)
        dummy = u
        selective_scan_bwd_kernel[(Bsz, triton.cdiv(Dm, bd))](
            u, delta, A, Bg, Cg, D if D is not None else dummy, z if z is not None else dummy,
            delta_bias if delta_bias is not None else dummy, ckpt, dy.contiguous(),
            dhT.contiguous() if dhT is not None else dummy,
            du, ddelta, dz if dz is not None else dummy, dB, dC, dA, dD, dbias, dh0,
            Dm, L, N, G, nchunk,
            HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=ctx.softplus,
            HAS_DHT=dhT is not None, BLOCK_D=bd, BLOCK_N=_block_n(N), CHUNK=CHUNK,
            num_warps=_bwd_warps(_block_n(N)),
        )
        if not ctx.grouped:
            dB, dC = dB.squeeze(1), dC.squeeze(1)
        has_d, has_z, has_bias, has_h0 = ctx.flags
        return (du, ddelta, dA.sum(0).to(A.dtype), dB.to(Bg.dtype), dC.to(Cg.dtype),
                dD.sum(0).to(D.dtype) if has_d else None, dz,
                dbias.sum(0).to(delta_bias.dtype) if has_bias else None, dh0 if has_h0 else None, None)


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   initial_state=None, return_final_state=False):
    """Triton selective scan; same contract as ``genoseq.ops.selective_scan.selective_scan``.

    u, delta, z: (B, Dm, L); A (Dm, N); B, C (B, N, L) or (B, G, N, L); D, delta_bias (Dm,);
    initial_state (B, Dm, N). Returns y (B, Dm, L) [, final_state (B, Dm, N)].
    """
    def c(t):
        return t.contiguous() if t is not None else None

    y, hT = SelectiveScanFn.apply(c(u), c(delta), c(A), c(B), c(C), c(D), c(z), c(delta_bias),
                                  c(initial_state), bool(delta_softplus))
    return (y, hT) if return_final_state else y


def unsupported(u, A, B) -> str | None:
    """Why this call cannot run on the kernel (None when it can)."""
    if u.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return f"dtype {u.dtype} (kernels take float32/float16/bfloat16)"
    if A.shape[1] > 64:
        return f"d_state {A.shape[1]} > 64 (register tile limit)"
    G = B.shape[1] if B.dim() == 4 else 1
    if u.shape[1] % G:
        return f"{u.shape[1]} channels are not divisible into {G} groups"
    return None


def aot_configs():
    """Every kernel configuration the launcher can pick (all optional inputs on), for kernels/aot.py."""
    for dtype in ("fp32", "bf16"):
        for bn in (16, 32, 64):
            bd = _block_d_limit(bn)
            flags = dict(HAS_D=True, HAS_Z=True, HAS_BIAS=True, SOFTPLUS=True, BLOCK_D=bd, BLOCK_N=bn, CHUNK=CHUNK)
            params = ("A_ptr", "D_ptr", "bias_ptr")
            yield dict(fn=selective_scan_fwd_kernel, config=f"D{bd} N{bn} T{CHUNK} {dtype}", dtype=dtype,
                       fp32_ptrs=params + ("h0_ptr", "hT_ptr", "ckpt_ptr"), constexprs=dict(flags, HAS_H0=True, SAVE_STATES=True),
                       num_warps=NUM_WARPS)
            yield dict(fn=selective_scan_bwd_kernel, config=f"D{bd} N{bn} T{CHUNK} {dtype}", dtype=dtype,
                       fp32_ptrs=params + ("ckpt_ptr", "dhT_ptr", "dB_ptr", "dC_ptr", "dA_ptr", "dD_ptr",
                                           "dbias_ptr", "dh0_ptr"),
                       constexprs=dict(flags, HAS_DHT=True), num_warps=_bwd_warps(bn))
