"""Row-block conv helpers of the fused Mamba ops against their defining sums (float64 references)."""

from __future__ import annotations

import pytest
import torch

from genoseq.ops import rows


def _reference_conv(ext: torch.Tensor, wt: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    K = wt.shape[0]
    lb = ext.shape[1] - (K - 1)
    e, w = ext.double(), wt.double()
    return b.double() + sum(w[j] * e[:, j : j + lb] for j in range(K))


def _window(B: int, W: int, C: int, dtype, strided: bool, g: torch.Generator) -> torch.Tensor:
    if strided:  # a column slice of a wider row-major tensor, as the fused ops' in-projection output gives
        return torch.randn(B, W, C + 5, generator=g, dtype=dtype)[..., 2 : 2 + C]
    return torch.randn(B, W, C, generator=g, dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])  # depthwise conv2d / multiply-add paths
@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize(("B", "lb", "K"), [(1, 1, 1), (1, 9, 4), (2, 13, 3), (1, 20, 2)])
def test_conv_rows_matches_the_sum(dtype, strided, B, lb, K, monkeypatch):
    monkeypatch.setattr(rows, "_ROWS", 4)  # several pieces in the multiply-add path
    g = torch.Generator().manual_seed(lb * 10 + K)
    C = 6
    ext = _window(B, lb + K - 1, C, dtype, strided, g)
    wt, b = torch.randn(K, C, generator=g, dtype=dtype), torch.randn(C, generator=g, dtype=dtype)
    got = rows.conv_rows(ext, wt, b)
    assert got.shape == (B, lb, C) and got.dtype == dtype
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(got.double(), _reference_conv(ext, wt, b), **tol)
    torch.testing.assert_close(rows.conv_rows_taps(ext, wt, b).double(), _reference_conv(ext, wt, b), **tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("B", "lb", "K"), [(1, 1, 1), (1, 9, 4), (2, 13, 3)])
def test_conv_rows_backward_matches_the_sums(dtype, B, lb, K, monkeypatch):
    monkeypatch.setattr(rows, "_ROWS", 4)
    monkeypatch.setattr(rows, "_GRAD_ROWS", 4)  # several weight-gradient pieces, the last one short
    g = torch.Generator().manual_seed(lb * 10 + K + 1)
    C = 6
    dpre = torch.randn(B, lb + K - 1, C, generator=g, dtype=dtype)  # the block's rows, then the halo
    xbc = torch.randn(B, lb + K - 1, C, generator=g, dtype=dtype)
    wt = torch.randn(K, C, generator=g, dtype=dtype)
    d_w0, d_b0 = torch.randn(K, C, generator=g, dtype=dtype), torch.randn(C, generator=g, dtype=dtype)
    dxbc = torch.full((B, lb, C + 3), 7.0, dtype=dtype)[..., 1 : 1 + C]  # written through a strided view
    d_w, d_b = d_w0.clone(), d_b0.clone()
    rows.conv_rows_backward(dpre, xbc, wt, dxbc, d_w, d_b)
    dp, x, w = dpre.double(), xbc.double(), wt.double()
    want_dx = sum(w[j] * dp[:, K - 1 - j : K - 1 - j + lb] for j in range(K))
    want_dw = d_w0.double() + torch.stack([(dp[:, :lb] * x[:, j : j + lb]).sum((0, 1)) for j in range(K)])
    want_db = d_b0.double() + dp[:, :lb].sum((0, 1))
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for got, want in ((dxbc, want_dx), (d_w, want_dw), (d_b, want_db)):
        torch.testing.assert_close(got.double(), want, **tol)
