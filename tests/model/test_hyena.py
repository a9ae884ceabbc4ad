"""Hyena mixer against a from-the-definition reference, filter properties and the eval-mode filter cache."""

from __future__ import annotations

import pytest
import torch

from genoseq.model.hyena import HyenaMixer
from genoseq.ops.fftconv import long_conv_direct


def _reference(mixer: HyenaMixer, x: torch.Tensor) -> torch.Tensor:
    """Hyena by its definition: explicit streams, explicit skip, direct convolutions."""
    B, L, D = x.shape
    u = mixer.in_proj(x).transpose(1, 2)
    K = mixer.short_conv_weight.shape[1]
    up = torch.nn.functional.pad(u, (K - 1, 0))
    u = sum(up[..., j : j + L] * mixer.short_conv_weight[:, j, None] for j in range(K)) + mixer.short_conv_bias[:, None]
    *xs, v = u.split(D, dim=1)
    h = mixer.filter(L, x.dtype).view(-1, D, L)
    N = mixer.order
    for o in range(N - 1):
        vg = v * xs[N - 1 - o]
        if mixer.bidirectional:
            k = torch.cat([h[2 * o + 1][:, 1:].flip(-1), h[2 * o]], dim=-1)
            conv = long_conv_direct(vg, k, bidirectional=True)
        else:
            conv = long_conv_direct(vg, h[o])
        v = conv + mixer.skip[o][:, None] * vg
    return mixer.out_proj((v * xs[0]).transpose(1, 2))


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["causal", "bidir"])
@pytest.mark.parametrize("L", [1, 8, 13])
def test_hyena_matches_reference(order, bidirectional, L):
    torch.manual_seed(order + L)
    mixer = HyenaMixer(8, 0, order=order, filter_dim=8, filter_pos_dim=5, max_len=16,
                       bidirectional=bidirectional).double()
    x = torch.randn(2, L, 8, dtype=torch.float64)
    torch.testing.assert_close(mixer(x), _reference(mixer, x), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(mixer(x[:1]), _reference(mixer, x[:1]), rtol=1e-9, atol=1e-9)  # batch-1 path


def test_filter_is_length_independent_and_decays():
    mixer = HyenaMixer(8, 0, filter_dim=8, filter_pos_dim=16, max_len=8).double()
    short, long = mixer.filter(5, torch.float64), mixer.filter(40, torch.float64)
    torch.testing.assert_close(long[:, :5], short)
    cutoff = mixer.filter.cutoff
    far = mixer.filter(cutoff + 10, torch.float64)
    assert torch.all(far[:, cutoff:] == 0) and far[:, cutoff - 1].abs().max() < 1e-9
    assert mixer.filter.features(torch.arange(3), torch.float64).shape == (3, 16)


def test_filter_cache_eval_only_and_invalidated():
    mixer = HyenaMixer(8, 0, filter_dim=8, filter_pos_dim=5, max_len=16).eval()
    x = torch.randn(1, 6, 8)
    with torch.no_grad():
        y0 = mixer(x)
        assert mixer._cache is not None
        cached = mixer._cache[1]
        mixer(x[:, :4])  # shorter L reuses the cached filter
        assert mixer._cache[1] is cached
        mixer.filter.mlp[0].weight.add_(0.5)  # parameter change -> regenerated
        y1 = mixer(x)
        assert mixer._cache[1] is not cached and not torch.allclose(y0, y1)
    mixer.train()
    assert mixer._cache is None
    y = mixer(x)
    y.sum().backward()  # training mode: the filter is regenerated with gradients
    assert mixer.filter.mlp[0].weight.grad is not None and mixer._cache is None
