"""The fused streaming chunk path of the Hyena mixer (hyena_order2_chunk) equals the full forward (float64)."""

from __future__ import annotations

import pytest
import torch
from model_helpers import seeded_model, tiny_config

from genoseq.model import hyena
from genoseq.ops import _groups
from genoseq.ops.hyena_conv import chunk_fft_size

TOL = {"rtol": 1e-9, "atol": 1e-9}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("fused_min", [1, 20])
@pytest.mark.parametrize("cuts", [(25, 50, 75), (1, 8, 9, 40, 89), (3, 45)])
def test_fused_chunks_equal_forward(cuts, fused_min, threads, monkeypatch):
    # max_len 4: the filter support (~36 lags) is crossed; fused_min 20 mixes fused chunks and unfused ones
    monkeypatch.setattr(hyena, "_FUSED_CHUNK", fused_min)
    monkeypatch.setattr(_groups, "_threads", threads)
    monkeypatch.setattr(_groups, "PARALLEL_MIN_POSITIONS", 0)  # tiny inputs still go to the workers
    model = seeded_model(tiny_config(layer_pattern="H", max_len=4))
    g = torch.Generator().manual_seed(2)
    x = torch.randint(5, 10, (2, 90), generator=g)
    bounds = [0, *cuts, 90]
    with torch.no_grad():
        full = model(x)
        state = model.allocate_state(2)
        parts = [model.prefill(x[:, lo:hi], state) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        cutoff = model.backbone.blocks[0].mixer.filter.cutoff
        assert state[0]["hist0"].shape[-1] == cutoff - 1
        assert state[0]["conv"].shape == (2, 3 * 16, 2)
    torch.testing.assert_close(torch.cat(parts, 1), full, **TOL)


def test_embed_long_fused_chunks(monkeypatch):
    monkeypatch.setattr(hyena, "_FUSED_CHUNK", 8)
    model = seeded_model(tiny_config(layer_pattern="H", max_len=4))
    x = torch.randint(5, 10, (1, 100), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(model.embed_long(x, chunk_size=16), model.backbone(x), **TOL)


def test_chunk_fft_size():
    # first chunk: no wrap at all (n >= 2 Lc - 1); steady state: n >= T = support - 1 + Lc suffices
    assert chunk_fft_size(100, 100, 1000) >= 199
    assert chunk_fft_size(9209 + 16384, 16384, 9210) == 25600
    assert chunk_fft_size(9209 + 16384, 16384, 9210) < 9209 + 2 * 16384 - 1
