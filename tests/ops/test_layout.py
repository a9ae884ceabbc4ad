"""contiguous_grad: an identity whose gradient comes back contiguous, and the Mamba-1 mixer's use of it."""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from genoseq.model.mamba import MambaMixer
from genoseq.ops.layout import contiguous_grad


def test_contiguous_grad_is_identity_with_contiguous_gradient():
    x = torch.randn(2, 3, 5, requires_grad=True)
    y = contiguous_grad(x)
    assert torch.equal(y, x)
    seen = {}
    y.register_hook(lambda g: seen.setdefault("in", g))
    x.register_hook(lambda g: seen.setdefault("out", g))
    g = torch.randn(2, 5, 3).transpose(1, 2)  # a gradient in the transposed layout
    y.backward(g)
    assert not seen["in"].is_contiguous() and seen["out"].is_contiguous()
    assert torch.equal(x.grad, g)


def test_contiguous_grad_passes_tensors_without_grad():
    x = torch.randn(4)
    assert contiguous_grad(x) is x


def test_mamba_mixer_backward_sees_one_layout():
    # every elementwise op of the mixer's backward over (B, d_inner, L) tensors gets same-layout inputs
    torch.manual_seed(0)
    mixer = MambaMixer(d_model=8, d_state=4, expand=2, chunk_size=4)
    x = torch.randn(2, 24, 8, requires_grad=True)
    mixed: list[str] = []

    class Watch(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            ts = [a for a in args if isinstance(a, torch.Tensor) and a.shape == (2, 16, 24)]
            if func.__name__.split(".")[0] in ("mul", "silu_backward", "addcmul", "softplus_backward") and \
                    len({t.stride() for t in ts}) > 1:
                mixed.append(func.__name__)
            return func(*args, **(kwargs or {}))

    y = mixer._mix(x, None, None)[0]  # the unfused path (training on CPU takes the fused op)
    with Watch():
        y.sum().backward()
    assert mixed == []
