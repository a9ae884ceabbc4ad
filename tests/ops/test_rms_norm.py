"""RMSNorm's hand-written forward/backward against autograd through torch's rms_norm, float64."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genoseq.model.norm import RMSNorm, make_norm
from genoseq.ops import _groups
from genoseq.ops import rms_norm as rms_ops


def _case(dtype=torch.float64, shape=(2, 13, 6)):
    torch.manual_seed(0)
    x = (torch.randn(*shape, dtype=dtype) * 3).requires_grad_()
    w = (torch.rand(shape[-1], dtype=dtype) + 0.5).requires_grad_()
    gy = torch.randn(*shape, dtype=dtype)
    return x, w, gy


@pytest.mark.parametrize("block", [2048, 5, 1])
def test_rms_norm_matches_autograd(block, monkeypatch):
    monkeypatch.setattr(rms_ops, "_BLOCK", block)
    x, w, gy = _case()
    y, ref = rms_ops.rms_norm(x, w, 1e-5), F.rms_norm(x, (6,), w, 1e-5)
    torch.testing.assert_close(y, ref, rtol=1e-13, atol=1e-14)
    got = torch.autograd.grad((y * gy).sum(), [x, w])
    want = torch.autograd.grad((ref * gy).sum(), [x, w])
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)


def test_rms_norm_hand_values():
    # x = (3, 4): mean of squares 12.5, r = 1 / sqrt(12.5); weight (1, 2) -> y = (3r, 8r)
    x = torch.tensor([[3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    y = rms_ops.rms_norm(x, w, 0.0)
    r = 12.5 ** -0.5
    torch.testing.assert_close(y, torch.tensor([[3 * r, 8 * r]], dtype=torch.float64), rtol=0, atol=1e-15)
    y[0, 0].backward()  # d(3r)/dw = (3r, 0)
    torch.testing.assert_close(w.grad, torch.tensor([3 * r, 0.0], dtype=torch.float64), rtol=0, atol=1e-15)


def test_rms_norm_same_bits_for_any_worker_count(monkeypatch):
    monkeypatch.setattr(rms_ops, "_BLOCK", 7)
    monkeypatch.setattr(_groups, "PARALLEL_MIN_POSITIONS", 0)
    x, w, gy = _case(torch.float32, (1, 100, 16))
    runs = []
    for threads in (1, 2):
        _groups.set_group_threads(threads)
        try:
            y = rms_ops.rms_norm(x, w, 1e-5)
            runs.append((y, *torch.autograd.grad((y * gy).sum(), [x, w])))
        finally:
            _groups.set_group_threads(None)
    for a, b in zip(*runs, strict=True):
        assert torch.equal(a, b)


def test_module_keeps_torch_parameters_and_falls_back():
    m = make_norm("rmsnorm", 8, 1e-5)
    assert isinstance(m, RMSNorm) and isinstance(m, torch.nn.RMSNorm)
    assert list(m.state_dict()) == ["weight"]
    x = torch.randn(3, 8)
    with torch.no_grad():  # no autograd wanted: torch's own forward
        torch.testing.assert_close(m(x), F.rms_norm(x, (8,), m.weight, 1e-5))
    xb = x.bfloat16()
    assert m.bfloat16()(xb).dtype == torch.bfloat16  # other dtypes keep torch's path
