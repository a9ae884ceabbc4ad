"""Fused Mamba-1 training path (genoseq.model.mamba_fused) against the autograd reference ``MambaMixer._mix``.

float64: output, input gradient and every parameter gradient agree to a relative error <= 1e-10 (observed
~1e-16); bfloat16 autocast: relative error <= 3e-2 (the reference runs the conv in bfloat16, the fused path
in float32). The fused op keeps the input, one (L x d_inner) tensor and the block start states only.
"""

from __future__ import annotations

import pytest
import torch

from genoseq.model.mamba import MambaMixer
from genoseq.model.mamba_fused import fused_mamba
from genoseq.ops import rows as rows_ops

F64 = torch.float64
TOL = 1e-10


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def make_mixer(dtype=F64, **kw) -> MambaMixer:
    torch.manual_seed(0)
    mixer = MambaMixer(8, 0, **{"d_state": 4, "expand": 2, "chunk_size": 4, **kw}).to(dtype)
    with torch.no_grad():
        for p in mixer.parameters():
            p.add_(0.1 * torch.randn_like(p))  # away from the init's symmetric values
        mixer.dt_proj.bias.add_(1.0)  # larger steps than the init: the decays matter
    return mixer


def grads(mixer: MambaMixer, x: torch.Tensor, w: torch.Tensor, fused: bool, block_len: int | None = None):
    mixer.zero_grad()
    x = x.clone().requires_grad_(True)
    y = fused_mamba(mixer, x, block_len) if fused else mixer._mix(x, None, None)[0]
    (y.float() * w).sum().backward()
    return y.detach(), x.grad, {n: p.grad.clone() for n, p in mixer.named_parameters()}


# (mixer kwargs, batch, length, block_len): several blocks (state and conv halo carried between them),
# lengths that end in a partial chunk, blocks shorter than the conv window, sequences shorter than it
CASES = [
    ({}, 2, 37, 8),
    ({"d_conv": 2}, 1, 21, 4),
    ({"d_conv": 3}, 1, 65, 16),
    ({}, 2, 3, None),
    ({"chunk_size": 2}, 1, 11, 2),
    ({}, 1, 64, None),
]


@pytest.mark.parametrize("rows", [512, 3])  # the conv's row pieces: one per block, or several with a halo
@pytest.mark.parametrize("kw,batch,length,block", CASES, ids=[f"{c[0]}-B{c[1]}-L{c[2]}-blk{c[3]}" for c in CASES])
def test_fused_equals_autograd_reference_float64(kw, batch, length, block, rows, monkeypatch):
    monkeypatch.setattr(rows_ops, "_ROWS", rows)
    mixer = make_mixer(**kw)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, length, 8, generator=g, dtype=F64)
    w = torch.randn(batch, length, 8, generator=g, dtype=F64)
    y_f, dx_f, dp_f = grads(mixer, x, w, fused=True, block_len=block)
    y_r, dx_r, dp_r = grads(mixer, x, w, fused=False)
    assert rel_err(y_f, y_r) < TOL
    assert rel_err(dx_f, dx_r) < TOL
    for name in dp_r:
        assert rel_err(dp_f[name], dp_r[name]) < TOL, name


def test_forward_takes_the_fused_path_only_for_cpu_training():
    mixer = make_mixer(torch.float32)
    x = torch.randn(1, 20, 8, requires_grad=True)
    assert type(mixer(x).grad_fn).__name__ == "_FusedMambaBackward"
    with torch.no_grad():
        torch.testing.assert_close(mixer(x), mixer._mix(x, None, None)[0], rtol=0, atol=0)
    assert type(mixer.bfloat16()(x.bfloat16()).grad_fn).__name__ != "_FusedMambaBackward"  # bf16 parameters


def test_bf16_autocast_close_to_reference():
    mixer = make_mixer(torch.float32)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 70, 8, generator=g)
    w = torch.randn(1, 70, 8, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y_f, dx_f, dp_f = grads(mixer, x, w, fused=True, block_len=16)
        y_r, dx_r, dp_r = grads(mixer, x, w, fused=False)
    assert y_f.dtype == torch.bfloat16 and all(v.dtype == torch.float32 for v in dp_f.values())
    assert rel_err(y_f.float(), y_r.float()) < 3e-2
    assert rel_err(dx_f, dx_r) < 3e-2
    for name in dp_r:
        assert rel_err(dp_f[name], dp_r[name]) < 3e-2, name


def test_memory_kept_for_backward_is_the_input_and_one_activation():
    mixer = make_mixer(torch.float32)
    x = torch.randn(1, 512, 8, requires_grad=True)
    kept: list[torch.Tensor] = []

    def pack(t):
        kept.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fused_mamba(mixer, x, 128)
    big = [t for t in kept if t.numel() >= 512 * 8]
    # x (L x d_model) and ys (L x d_inner); the parameters and the four block start states are small
    assert sorted(tuple(t.shape) for t in big) == [(1, 512, 8), (1, 512, 16)]
