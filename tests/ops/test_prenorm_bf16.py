"""Fused pre-norm residual branches (Hyena mixer, MLP) under bf16 autocast: the forward keeps LayerNorm(x)
in bf16 for the backward (no recompute there), and the gradients stay within bf16 matmul error of the
float32 op (relative norm <= 3e-2)."""

from __future__ import annotations

import pytest
import torch

from genoseq.model.block import MLP
from genoseq.model.hyena import HyenaMixer
from genoseq.ops.hyena_conv import hyena_order2
from genoseq.ops.mlp import mlp
from genoseq.ops.prenorm import Norm, mul_into, residual_add


def _hyena(L: int, D: int):
    mixer = HyenaMixer(D, 0, order=2, filter_dim=8, filter_pos_dim=5, max_len=L)

    def branch(x, norm):
        k = mixer.raw_filter(L, torch.float32).flatten(0, 1)
        return hyena_order2(x, mixer.in_proj.weight, mixer.in_proj.bias, mixer.short_conv_weight,
                            mixer.short_conv_bias, k, mixer.skip[0], mixer.out_proj.weight, mixer.out_proj.bias,
                            norm=norm, residual=True)

    return mixer, branch


def _mlp(L: int, D: int):
    m = MLP(D, 2 * D, "gelu")
    return m, lambda x, norm: mlp(x, m.fc1.weight, m.fc1.bias, m.fc2.weight, m.fc2.bias, "gelu", norm=norm,
                                  residual=True)


@pytest.mark.parametrize("make", [_hyena, _mlp], ids=["hyena", "mlp"])
def test_bf16_keeps_normalised_input_and_gradients_stay_close(make):
    torch.manual_seed(0)
    L, D = 64, 16
    module, branch = make(L, D)
    ln = torch.nn.LayerNorm(D)
    x = torch.randn(1, L, D, requires_grad=True)
    params = [x, *module.parameters(), *ln.parameters()]
    gy = torch.randn(1, L, D)

    def run(autocast: bool):
        saved = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append((tuple(t.shape)[-2:], t.dtype)) or t,
                                                      lambda t: t):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                y = branch(x, Norm(ln.weight, ln.bias, ln.eps))
        return saved, torch.autograd.grad((y.float() * gy).sum(), params)

    saved16, got = run(True)
    saved32, want = run(False)
    kept = ((L, D), torch.bfloat16)  # the normalised rows (z, also bf16, is (D, L))
    assert kept in saved16 and kept not in saved32
    for a, b in zip(got, want, strict=True):
        assert (a - b).norm() <= 3e-2 * b.norm() + 1e-6


@pytest.mark.parametrize("branch_dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("in_place", [False, True])
def test_residual_add_exact_values(branch_dtype, in_place):
    residual = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
    branch = torch.tensor([[0.5, 0.5, 1.5], [-3.0, 2.0, 4.0]], dtype=branch_dtype)  # exact in bf16
    want = torch.tensor([[1.5, -1.5, 2.0], [0.0, 2.25, 3.0]])
    out = residual.clone() if in_place else torch.full_like(residual, 9.0)
    got = residual_add(out, out if in_place else residual, branch)
    assert got.data_ptr() == out.data_ptr() and got.dtype == torch.float32
    assert torch.equal(out, want)


@pytest.mark.parametrize("out_dtype", [torch.float32, torch.bfloat16])
def test_mul_into_exact_values(out_dtype):
    a = torch.tensor([[1.5, -2.0, 0.25], [3.0, 0.5, -1.0]])
    b = torch.tensor([[2.0, 0.5, 4.0], [-1.0, 8.0, 0.75]])
    want = torch.tensor([[3.0, -1.0, 1.0], [-3.0, 4.0, -0.75]])  # exact in bf16
    scratch = a.clone()
    out = torch.full((2, 3), 9.0, dtype=out_dtype)
    got = mul_into(out, scratch, b)
    assert got.data_ptr() == out.data_ptr() and got.dtype == out_dtype
    assert torch.equal(out.float(), want)
    assert torch.equal(scratch, a if out_dtype == torch.float32 else want)  # overwritten only to convert
