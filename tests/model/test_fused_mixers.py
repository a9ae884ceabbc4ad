"""Fused training paths of the Mamba-1 and Mamba-2 mixers (genoseq.model.mamba_fused, mamba2_fused) against
the autograd reference ``mixer._mix``.

float64: output, input gradient and every parameter gradient agree to a relative error <= 1e-10 (observed
~1e-15); bfloat16 autocast: relative error <= 2e-2 / 3e-2 (Mamba-2 / Mamba-1; the reference runs the conv
in bfloat16, the fused paths in float32).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from model_helpers import assert_grads_close, mixer_grads

from genoseq.model.mamba import MambaMixer
from genoseq.model.mamba2 import Mamba2Mixer
from genoseq.model.mamba2_fused import fused_mamba2
from genoseq.model.mamba_fused import fused_mamba
from genoseq.model.norm import RMSNorm
from genoseq.ops import rows as rows_ops
from genoseq.ops._groups import set_group_threads

F64 = torch.float64
TOL = 1e-10


@dataclass(frozen=True)
class Kind:
    cls: type
    fused: object
    d_model: int
    defaults: dict
    backward: str  # the fused op's grad_fn name
    bf16_tol: float


KINDS = {
    "mamba": Kind(MambaMixer, fused_mamba, 8, {"d_state": 4, "expand": 2, "chunk_size": 4}, "_FusedMambaBackward",
                  3e-2),
    "mamba2": Kind(Mamba2Mixer, fused_mamba2, 16, {"d_state": 4, "head_dim": 8, "chunk_size": 8},
                   "_FusedMamba2Backward", 2e-2),
}


def make_mixer(kind: str, dtype=F64, **kw):
    k = KINDS[kind]
    torch.manual_seed(0)
    mixer = k.cls(k.d_model, 0, **{**k.defaults, **kw}).to(dtype)
    with torch.no_grad():  # larger steps than the init (the decays matter), weights off their symmetric init
        if kind == "mamba":
            for p in mixer.parameters():
                p.add_(0.1 * torch.randn_like(p))
            mixer.dt_proj.bias.add_(1.0)
        else:
            mixer.dt_bias.add_(2.0)
            mixer.norm_weight.add_(0.5 * torch.randn_like(mixer.norm_weight))  # not all ones: scales visible
            mixer.D.add_(0.5 * torch.randn_like(mixer.D))
    return mixer


def grads(kind: str, mixer, x: torch.Tensor, w: torch.Tensor, fused: bool, block_len: int | None = None):
    fused_fn = KINDS[kind].fused
    ref = lambda t: mixer._mix(t, None, None)[0]  # noqa: E731
    return mixer_grads(mixer, x, w, (lambda t: fused_fn(mixer, t, block_len)) if fused else ref)


def inputs(kind: str, batch: int, length: int, seed: int, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    d = KINDS[kind].d_model
    return (torch.randn(batch, length, d, generator=g, dtype=dtype),
            torch.randn(batch, length, d, generator=g, dtype=dtype))


# (kind, mixer kwargs, batch, length, block_len): several blocks (state and conv halo carried between them),
# lengths that end in a partial chunk, blocks shorter than the conv window, sequences shorter than it
SHAPES = [({}, 2, 37, 8), ({"d_conv": 2}, 1, 21, 4), ({"d_conv": 3}, 1, 65, 16), ({}, 2, 3, None),
          ({"chunk_size": 2}, 1, 11, 2), ({}, 1, 64, None)]
CASES = [(kind, *s) for kind in KINDS for s in SHAPES] + [("mamba2", {"n_groups": 2}, 2, 50, 8)]


@pytest.mark.parametrize("rows", [512, 3])  # the conv's row pieces: one per block, or several with a halo
@pytest.mark.parametrize("kind,kw,batch,length,block", CASES,
                         ids=[f"{c[0]}-{c[1]}-B{c[2]}-L{c[3]}-blk{c[4]}" for c in CASES])
def test_fused_equals_autograd_reference_float64(kind, kw, batch, length, block, rows, monkeypatch):
    monkeypatch.setattr(rows_ops, "_ROWS", rows)
    monkeypatch.setattr(rows_ops, "_GRAD_ROWS", rows)
    mixer = make_mixer(kind, **kw)
    x, w = inputs(kind, batch, length, 1)
    assert_grads_close(grads(kind, mixer, x, w, True, block), grads(kind, mixer, x, w, False), TOL)


@pytest.mark.parametrize("kind", KINDS)
def test_forward_takes_the_fused_path_only_for_cpu_training(kind):
    mixer = make_mixer(kind, torch.float32)
    x = torch.randn(1, 20, KINDS[kind].d_model, requires_grad=True)
    assert type(mixer(x).grad_fn).__name__ == KINDS[kind].backward
    with torch.no_grad():
        torch.testing.assert_close(mixer(x), mixer._mix(x, None, None)[0], rtol=0, atol=0)
    assert type(mixer.bfloat16()(x.bfloat16()).grad_fn).__name__ != KINDS[kind].backward  # bf16 parameters


@pytest.mark.parametrize("kind", KINDS)
def test_bf16_autocast_close_to_reference(kind):
    mixer = make_mixer(kind, torch.float32)
    x, w = inputs(kind, 1, 70, 2, torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fused = grads(kind, mixer, x, w, True, 16)
        ref = grads(kind, mixer, x, w, False)
    assert fused[0].dtype == torch.bfloat16 and all(v.dtype == torch.float32 for v in fused[2].values())
    assert_grads_close(fused, ref, KINDS[kind].bf16_tol)


def test_mamba2_same_gradients_with_one_or_two_block_workers():
    # the blocks' stages run on worker threads (genoseq.ops._pipeline) or inline; both run the same
    # single-threaded ops and fold the parameter gradients in block order, so results are bitwise equal
    mixer = make_mixer("mamba2", torch.float32)
    x, w = inputs("mamba2", 1, 100, 3, torch.float32)
    runs = []
    try:
        for workers in (1, 2):
            set_group_threads(workers)
            runs.append(grads("mamba2", mixer, x, w, True, 16))
    finally:
        set_group_threads(None)
    (y1, dx1, dp1), (y2, dx2, dp2) = runs
    assert torch.equal(y1, y2) and torch.equal(dx1, dx2)
    for name in dp1:
        assert torch.equal(dp1[name], dp2[name]), name


def test_mamba_keeps_the_input_and_one_activation_for_backward():
    mixer = make_mixer("mamba", torch.float32)
    x = torch.randn(1, 512, 8, requires_grad=True)
    kept: list[torch.Tensor] = []

    def pack(t):
        kept.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fused_mamba(mixer, x, 128)
    big = [t for t in kept if t.numel() >= 512 * 8]
    # x (L x d_model) and scan output + D u (L x d_inner); the parameters and the block start states are small
    assert sorted(tuple(t.shape) for t in big) == [(1, 512, 8), (1, 512, 16)]


class _PreNormResidual(torch.nn.Module):
    """h + mixer(RMSNorm(h)) with the norm's weight among the parameters (for mixer_grads)."""

    def __init__(self, mixer, d: int, dtype) -> None:
        super().__init__()
        self.mixer = mixer
        self.norm = RMSNorm(d, eps=1e-5).to(dtype)
        with torch.no_grad():
            self.norm.weight.add_(0.1 * torch.randn(d, generator=torch.Generator().manual_seed(7), dtype=dtype))

    def reference(self, h):
        return h + self.mixer._mix(torch.nn.functional.rms_norm(h, (h.shape[-1],), self.norm.weight, 1e-5),
                                   None, None)[0]


@pytest.mark.parametrize("rows", [512, 3])
@pytest.mark.parametrize(("batch", "length", "block"), [(2, 37, 8), (1, 64, None), (2, 3, None)])
def test_mamba2_prenorm_residual_op_float64(batch, length, block, rows, monkeypatch):
    # RMSNorm made block by block inside the op (with the conv's history rows) and the residual added there:
    # the same values and gradients (the norm weight's included) as norm -> mixer -> sum
    monkeypatch.setattr(rows_ops, "_ROWS", rows)
    monkeypatch.setattr(rows_ops, "_GRAD_ROWS", rows)
    m = _PreNormResidual(make_mixer("mamba2"), 16, F64)
    x, w = inputs("mamba2", batch, length, 4)
    fused = mixer_grads(m, x, w, lambda h: fused_mamba2(m.mixer, h, block, (m.norm.weight, 1e-5), residual=True))
    assert_grads_close(fused, mixer_grads(m, x, w, m.reference), TOL)
    # the residual alone (no pre-norm): x + mixer(x)
    plain = mixer_grads(m.mixer, x, w, lambda h: fused_mamba2(m.mixer, h, block, residual=True))
    assert_grads_close(plain, mixer_grads(m.mixer, x, w, lambda h: h + m.mixer._mix(h, None, None)[0]), TOL)


def test_mamba2_block_takes_the_prenorm_residual_op():
    from genoseq.model.block import Block

    mixer = make_mixer("mamba2", torch.float32)
    block = Block(mixer, RMSNorm(16, eps=1e-5), None, None, 0.0, "S")
    h = torch.randn(1, 40, 16, requires_grad=True)
    out = block(h)
    assert type(out.grad_fn).__name__ == "_FusedMamba2Backward"  # one node: no separate norm or sum
    x, w = inputs("mamba2", 1, 70, 5, torch.float32)
    ref = _PreNormResidual(mixer, 16, torch.float32)
    ref.norm = block.norm1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = mixer_grads(block, x, w, block)
        want = mixer_grads(block, x, w, ref.reference)
    assert_grads_close(got, want, KINDS["mamba2"].bf16_tol)
    with torch.no_grad():  # inference keeps the unfused modules
        assert block(h).grad_fn is None
