"""Blocks whose LayerNorm, branch and residual add run as one fused op equal the unfused reference (float64)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genoseq.model.block import MLP, Block
from genoseq.model.hyena import HyenaMixer
from genoseq.ops import _groups, prenorm
from genoseq.ops import mlp as mlp_ops
from genoseq.ops.prenorm import Norm

TOL = {"rtol": 1e-10, "atol": 1e-12}


def _block(kind: str, seed: int = 0) -> Block:
    torch.manual_seed(seed)
    D = 8
    blk = Block(HyenaMixer(D, 0, filter_dim=8, filter_pos_dim=5, max_len=16), nn.LayerNorm(D),
                MLP(D, 12, kind), nn.LayerNorm(D)).double()
    for p in (blk.norm1.weight, blk.norm1.bias, blk.norm2.weight, blk.norm2.bias):
        p.data.normal_()  # affine parameters away from (1, 0) so their gradients are exercised
    return blk


def _reference(blk: Block, h: torch.Tensor) -> torch.Tensor:
    h = h + blk.mixer.forward_reference(blk.norm1(h))
    return h + blk.mlp.reference(blk.norm2(h))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("kind", ["gelu", "glu"])
@pytest.mark.parametrize(("B", "L"), [(1, 13), (2, 7)])
def test_fused_block_matches_reference(kind, B, L, threads, monkeypatch):
    monkeypatch.setattr(_groups, "_threads", threads)
    monkeypatch.setattr(_groups, "PARALLEL_MIN_POSITIONS", 0)  # tiny inputs still go to the workers
    monkeypatch.setattr(prenorm, "BLOCK", 4)  # several normalisation blocks
    monkeypatch.setattr(mlp_ops, "_BLOCK", 5)
    blk = _block(kind)
    g = torch.Generator().manual_seed(1)
    h = torch.randn(B, L, 8, dtype=torch.float64, generator=g, requires_grad=True)
    gy = torch.randn(B, L, 8, dtype=torch.float64, generator=g)
    params = [h, *blk.parameters()]
    out, ref = blk(h), _reference(blk, h)
    torch.testing.assert_close(out, ref, **TOL)
    got = torch.autograd.grad((out * gy).sum(), params)
    want = torch.autograd.grad((ref * gy).sum(), params)
    names = ["h"] + [n for n, _ in blk.named_parameters()]
    for name, a, b in zip(names, got, want, strict=True):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, name=name: f"gradient of {name}: {m}")


def test_dropout_and_rmsnorm_blocks_stay_unfused():
    blk = _block("gelu")
    assert blk._fusable_norm(blk.norm1) is not None
    blk.drop = nn.Dropout(0.1)
    assert blk._fusable_norm(blk.norm1) is None  # training with dropout: unfused
    blk.eval()
    assert blk._fusable_norm(blk.norm1) is not None  # dropout is the identity in eval mode
    assert blk._fusable_norm(nn.RMSNorm(8)) is None


@pytest.mark.parametrize(("use_norm", "residual"), [(True, False), (False, True)])
def test_mlp_op_norm_and_residual_separately(use_norm, residual):
    torch.manual_seed(2)
    m, ln = MLP(6, 10, "gelu").double(), nn.LayerNorm(6).double()
    ln.weight.data.normal_()
    x = torch.randn(1, 9, 6, dtype=torch.float64, requires_grad=True)
    norm = Norm(ln.weight, ln.bias, ln.eps) if use_norm else None
    y = mlp_ops.mlp(x, m.fc1.weight, m.fc1.bias, m.fc2.weight, m.fc2.bias, "gelu", norm=norm, residual=residual)
    ref = m.reference(ln(x) if use_norm else x) + (x if residual else 0)
    torch.testing.assert_close(y, ref, **TOL)
    params = [x, *m.parameters(), *ln.parameters()]
    gy = torch.randn_like(y)
    got = torch.autograd.grad((y * gy).sum(), params, allow_unused=True)
    want = torch.autograd.grad((ref * gy).sum(), params, allow_unused=True)
    for a, b in zip(got, want, strict=True):
        if b is None:
            assert a is None or not use_norm
        else:
            torch.testing.assert_close(a, b, **TOL)
    with torch.no_grad():  # the inference path
        y0 = mlp_ops.mlp(x, m.fc1.weight, m.fc1.bias, m.fc2.weight, m.fc2.bias, "gelu", norm=norm, residual=residual)
    torch.testing.assert_close(y0, ref.detach(), **TOL)
