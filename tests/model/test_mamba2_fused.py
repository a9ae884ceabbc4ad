"""Fused Mamba-2 training path (genoseq.model.mamba2_fused) against the autograd reference ``Mamba2Mixer._mix``.

float64: output, input gradient and every parameter gradient agree to a relative error <= 1e-10 (observed
~1e-15); bfloat16 autocast: relative error <= 2e-2 (the reference runs the conv in bfloat16, the fused path
in float32).
"""

from __future__ import annotations

import pytest
import torch

from genoseq.model.mamba2 import Mamba2Mixer
from genoseq.model.mamba2_fused import fused_mamba2
from genoseq.ops import rows as rows_ops

F64 = torch.float64
TOL = 1e-10


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def make_mixer(dtype=F64, **kw) -> Mamba2Mixer:
    torch.manual_seed(0)
    mixer = Mamba2Mixer(16, 0, **{"d_state": 4, "head_dim": 8, "chunk_size": 8, **kw}).to(dtype)
    with torch.no_grad():
        mixer.dt_bias.add_(2.0)  # larger steps than the init: the decays matter
    return mixer


def grads(mixer: Mamba2Mixer, x: torch.Tensor, w: torch.Tensor, fused: bool, block_len: int | None = None):
    mixer.zero_grad()
    x = x.clone().requires_grad_(True)
    y = fused_mamba2(mixer, x, block_len) if fused else mixer._mix(x, None, None)[0]
    (y.float() * w).sum().backward()
    return y.detach(), x.grad, {k: p.grad.clone() for k, p in mixer.named_parameters()}


# (mixer kwargs, batch, length, block_len): several blocks (state and conv halo carried between them),
# lengths that end in a partial chunk, blocks shorter than the conv window, sequences shorter than it
CASES = [
    ({}, 2, 37, 16),
    ({"n_groups": 2}, 2, 50, 8),
    ({"d_conv": 2}, 1, 21, 8),
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
    x = torch.randn(batch, length, 16, generator=g, dtype=F64)
    w = torch.randn(batch, length, 16, generator=g, dtype=F64)
    y_f, dx_f, dp_f = grads(mixer, x, w, fused=True, block_len=block)
    y_r, dx_r, dp_r = grads(mixer, x, w, fused=False)
    assert rel_err(y_f, y_r) < TOL
    assert rel_err(dx_f, dx_r) < TOL
    for name in dp_r:
        assert rel_err(dp_f[name], dp_r[name]) < TOL, name


def test_forward_takes_the_fused_path_only_for_cpu_training():
    mixer = make_mixer(torch.float32)
    x = torch.randn(1, 20, 16, requires_grad=True)
    assert type(mixer(x).grad_fn).__name__ == "_FusedMamba2Backward"
    with torch.no_grad():
        torch.testing.assert_close(mixer(x), mixer._mix(x, None, None)[0], rtol=0, atol=0)
    assert type(mixer.bfloat16()(x.bfloat16()).grad_fn).__name__ != "_FusedMamba2Backward"  # bf16 parameters


def test_bf16_autocast_close_to_reference():
    mixer = make_mixer(torch.float32)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 70, 16, generator=g)
    w = torch.randn(1, 70, 16, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y_f, dx_f, dp_f = grads(mixer, x, w, fused=True, block_len=16)
        y_r, dx_r, dp_r = grads(mixer, x, w, fused=False)
    assert y_f.dtype == torch.bfloat16 and all(v.dtype == torch.float32 for v in dp_f.values())
    assert rel_err(y_f.float(), y_r.float()) < 2e-2
    assert rel_err(dx_f, dx_r) < 2e-2
    for name in dp_r:
        assert rel_err(dp_f[name], dp_r[name]) < 2e-2, name


def test_same_gradients_with_one_or_two_block_workers():
    # the blocks' stages run on worker threads (genoseq.ops._pipeline) or inline; both run the same
    # single-threaded ops and fold the parameter gradients in block order, so results are bitwise equal
    from genoseq.ops._groups import set_group_threads

    mixer = make_mixer(torch.float32)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 100, 16, generator=g)
    w = torch.randn(1, 100, 16, generator=g)
    runs = []
    try:
        for workers in (1, 2):
            set_group_threads(workers)
            runs.append(grads(mixer, x, w, fused=True, block_len=16))
    finally:
        set_group_threads(None)
    (y1, dx1, dp1), (y2, dx2, dp2) = runs
    assert torch.equal(y1, y2) and torch.equal(dx1, dx2)
    for name in dp1:
        assert torch.equal(dp1[name], dp2[name]), name
