"""long_conv (FFT) against the direct O(L^2) oracle, float64, causal and bidirectional."""

from __future__ import annotations

import pytest
import torch

from genoseq.ops import long_conv
from genoseq.ops.fftconv import fast_fft_len, long_conv_direct


def _inputs(B, H, L, bidirectional, seed=0):
    g = torch.Generator().manual_seed(seed)
    kl = 2 * L - 1 if bidirectional else L
    mk = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    return mk(B, H, L), mk(H, kl), mk(H), mk(B, H, L), mk(B, H, L)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("L", [1, 2, 7, 16, 33])
def test_long_conv_matches_direct(L, bidirectional):
    u, k, skip, pre, post = _inputs(2, 3, L, bidirectional)
    for kwargs in ({}, {"skip": skip}, {"skip": skip, "pre_gate": pre, "post_gate": post}):
        y = long_conv(u, k, bidirectional=bidirectional, **kwargs)
        ref = long_conv_direct(u, k, bidirectional=bidirectional, **kwargs)
        assert y.dtype == torch.float64 and y.shape == (2, 3, L)
        torch.testing.assert_close(y, ref, rtol=1e-10, atol=1e-10)


def test_long_conv_direct_hand_case():
    # k = [1, 2, 3], v = [1, 0, 1]: causal conv = [1, 2, 4]; skip 10 * u adds [10, 0, 10]
    u = torch.tensor([[[1.0, 0.0, 1.0]]], dtype=torch.float64)
    k = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    skip = torch.tensor([10.0], dtype=torch.float64)
    expect = torch.tensor([[[11.0, 2.0, 14.0]]], dtype=torch.float64)
    torch.testing.assert_close(long_conv_direct(u, k, skip), expect)
    torch.testing.assert_close(long_conv(u, k, skip), expect)
    # bidirectional, L=2, offsets -1, 0, +1 -> k = [a, b, c]: y[0] = b v0 + a v1, y[1] = c v0 + b v1
    u2 = torch.tensor([[[1.0, 2.0]]], dtype=torch.float64)
    k2 = torch.tensor([[5.0, 7.0, 11.0]], dtype=torch.float64)
    expect2 = torch.tensor([[[7.0 + 10.0, 11.0 + 14.0]]], dtype=torch.float64)
    torch.testing.assert_close(long_conv(u2, k2, bidirectional=True), expect2)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("L", [1, 6, 9])
def test_long_conv_gradients_match_direct(L, bidirectional):
    tensors = [t.requires_grad_() for t in _inputs(2, 2, L, bidirectional, seed=1)]
    u, k, skip, pre, post = tensors
    gy = torch.randn(2, 2, L, dtype=torch.float64)
    got = torch.autograd.grad((long_conv(u, k, skip, pre, post, bidirectional) * gy).sum(), tensors)
    ref = torch.autograd.grad((long_conv_direct(u, k, skip, pre, post, bidirectional) * gy).sum(), tensors)
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_long_conv_float32_and_bf16_keep_dtype():
    u, k, *_ = _inputs(1, 4, 64, False)
    ref = long_conv_direct(u, k)
    y32 = long_conv(u.float(), k.float())
    assert y32.dtype == torch.float32
    rel = (y32.double() - ref).norm() / ref.norm()
    assert rel < 1e-5
    y16 = long_conv(u.bfloat16(), k.float())
    assert y16.dtype == torch.bfloat16
    assert (y16.double() - ref).norm() / ref.norm() < 2e-2


def test_long_conv_rejects_bad_filter_shape():
    u = torch.zeros(1, 2, 5)
    with pytest.raises(ValueError, match=r"k must be \(2, 9\)"):
        long_conv(u, torch.zeros(2, 5), bidirectional=True)


def test_fast_fft_len():
    assert [fast_fft_len(n) for n in (1, 2, 7, 11, 13, 17, 97, 1025)] == [1, 2, 8, 12, 15, 18, 100, 1080]
    for n in range(1, 300):
        m = fast_fft_len(n)
        assert m >= n
        while m % 2 == 0:
            m //= 2
        while m % 3 == 0:
            m //= 3
        while m % 5 == 0:
            m //= 5
        assert m == 1


@pytest.mark.parametrize(("T", "n_out"), [(5, 1), (40, 3), (300, 40), (301, 301)])
def test_causal_conv_tail_matches_direct(T, n_out):
    from genoseq.ops.fftconv import causal_conv_tail, tail_fft_size

    g = torch.Generator().manual_seed(T)
    hist = torch.randn(2, 5, T, generator=g, dtype=torch.float64)
    k = torch.randn(5, T, generator=g, dtype=torch.float64)
    ref = long_conv_direct(hist, k)[..., T - n_out :]
    torch.testing.assert_close(causal_conv_tail(hist, k, n_out, group=2), ref, rtol=1e-10, atol=1e-10)
    n = tail_fft_size(T, n_out)
    if n:  # the FFT path, with a precomputed filter spectrum
        spec = torch.fft.rfft(k, n=n)
        torch.testing.assert_close(causal_conv_tail(hist, k, n_out, k_spectrum=spec), ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
def test_long_conv_channel_groups(bidirectional, monkeypatch):
    from genoseq.ops import fftconv

    monkeypatch.setattr(fftconv, "_GROUP_ELEMS", 40)  # forces several channel groups (of 1-2 channels)
    tensors = [t.requires_grad_() for t in _inputs(1, 5, 11, bidirectional, seed=2)]
    u, k, skip, pre, post = tensors
    gy = torch.randn(1, 5, 11, dtype=torch.float64)
    y = long_conv(u, k, skip, pre, post, bidirectional)
    ref = long_conv_direct(u, k, skip, pre, post, bidirectional)
    torch.testing.assert_close(y, ref, rtol=1e-10, atol=1e-10)
    got = torch.autograd.grad((y * gy).sum(), tensors)
    want = torch.autograd.grad((ref * gy).sum(), tensors)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
