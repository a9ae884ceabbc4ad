"""Layer-wise long embedding (Backbone.embed_layerwise: in-place whole-sequence Hyena + MLP blocks) equals the
parallel forward, in float64 with several channel phases and groups, and in float32 / bf16 autocast."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_helpers import seeded_model, tiny_config

from genoseq.errors import ConfigError
from genoseq.infer.embed import embed
from genoseq.ops import _groups, hyena_inplace
from genoseq.ops.mlp import mlp, mlp_residual_
from genoseq.ops.prenorm import Norm
from genoseq.tokenizer import Tokenizer


def _ids(B: int, L: int, seed: int = 3) -> torch.Tensor:
    return torch.randint(5, 10, (B, L), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("mlp_type", ["glu", "gelu"])
def test_layerwise_equals_forward_float64(mlp_type, threads, monkeypatch):
    # phases of 4 channels (16 channels: 4 phases) in groups of 2: every piece of the phase/group loop runs
    monkeypatch.setattr(hyena_inplace, "PHASE_BYTES", 4 * 100 * (8 + 3 * 2 * 8))
    monkeypatch.setattr(hyena_inplace, "_GROUP_ELEMS", 2 * 2 * 256)
    monkeypatch.setattr(_groups, "_threads", threads)
    monkeypatch.setattr(_groups, "PARALLEL_MIN_POSITIONS", 0)
    model = seeded_model(tiny_config(layer_pattern="H", max_len=64, mlp_type=mlp_type))
    x = _ids(2, 100)
    assert hyena_inplace._group_size(16, 2, 256) == 2
    assert hyena_inplace._phase_size(16, 2, 100, 2, torch.float64, torch.float64) == 4
    with torch.no_grad():
        full = model.backbone(x)  # (2, 100, 16)
        torch.testing.assert_close(model.backbone.embed_layerwise(x), full, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(model.backbone.embed_layerwise(x, "mean"), full.mean(1), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(model.backbone.embed_layerwise(x, "max"), full.amax(1), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(model.backbone.embed_layerwise(x, "last"), full[:, -1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("autocast", [False, True])
def test_layerwise_equals_forward_float32(autocast):
    torch.manual_seed(0)
    from genoseq.model.build import build_model

    model = build_model(tiny_config(layer_pattern="H", max_len=512)).eval()
    x = _ids(1, 700)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        full = model.backbone(x).float()
        got = model.backbone.embed_layerwise(x).float()
    # same arithmetic per channel; the tolerance covers BLAS blocking of the per-phase in-projection
    torch.testing.assert_close(got, full, rtol=1e-5, atol=1e-5)


def test_auto_strategy_and_preference():
    long_filters = seeded_model(tiny_config(layer_pattern="H", max_len=4096))  # support ~9 x 4096 lags
    short_filters = seeded_model(tiny_config(layer_pattern="H", max_len=4))  # support ~36 lags
    x = _ids(1, 300)
    assert long_filters.backbone.layerwise_preferred(x, chunk_size=64)
    assert not long_filters.backbone.layerwise_preferred(x[:, :64], chunk_size=64)  # fits one chunk
    assert not short_filters.backbone.layerwise_preferred(x, chunk_size=64)
    with torch.no_grad():
        full = long_filters.backbone(x)
        for strategy in ("auto", "layerwise", "chunked"):
            got = long_filters.embed_long(x, chunk_size=64, pooling="mean", strategy=strategy)
            torch.testing.assert_close(got, full.mean(1), rtol=1e-10, atol=1e-10)
    with pytest.raises(ConfigError, match="strategy must be"):
        long_filters.embed_long(x, chunk_size=64, strategy="fast")
    with pytest.raises(ConfigError, match="pooling must be"):
        long_filters.embed_long(x, chunk_size=64, pooling="median")


def test_layerwise_refuses_unsupported_blocks():
    model = seeded_model(tiny_config(layer_pattern="HM", max_len=4096))
    x = _ids(1, 300)
    assert not model.backbone.layerwise_preferred(x, chunk_size=64)  # a Mamba block: chunked prefill
    with pytest.raises(ConfigError, match="cannot run in place"):
        model.backbone.embed_layerwise(x)
    rms = seeded_model(tiny_config(layer_pattern="H", max_len=4096, norm="rmsnorm"))
    assert not rms.backbone.layerwise_preferred(x, chunk_size=64)


def test_genoseq_embed_takes_layerwise_path(monkeypatch):
    model = seeded_model(tiny_config(layer_pattern="H", max_len=4096))
    calls = []
    original = type(model.backbone).embed_layerwise
    monkeypatch.setattr(type(model.backbone), "embed_layerwise",
                        lambda self, ids, pooling=None: calls.append(pooling) or original(self, ids, pooling))
    seq = "".join(np.random.default_rng(1).choice(list("ACGT"), 300))
    got = embed(model, [seq], chunk_size=64, pooling="mean").array  # (1, D)
    with torch.no_grad():
        ids = torch.as_tensor(Tokenizer().encode(seq), dtype=torch.long)[None]
        ref = model.backbone(ids).mean(1).float().numpy()
    assert calls == ["mean"]
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_mlp_residual_in_place_equals_mlp():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(2, 3000, 8, generator=g, dtype=torch.float64)
    w1, b1 = torch.randn(32, 8, generator=g, dtype=torch.float64), torch.randn(32, generator=g, dtype=torch.float64)
    w2, b2 = torch.randn(8, 16, generator=g, dtype=torch.float64), torch.randn(8, generator=g, dtype=torch.float64)
    norm = Norm(torch.rand(8, generator=g, dtype=torch.float64), torch.randn(8, generator=g, dtype=torch.float64), 1e-5)
    with torch.no_grad():
        ref = mlp(h, w1, b1, w2, b2, "glu", norm=norm, residual=True)
        mlp_residual_(h, w1, b1, w2, b2, "glu", norm)
    torch.testing.assert_close(h, ref, rtol=0, atol=0)


def test_filter_rows_equal_forward_rows():
    model = seeded_model(tiny_config(layer_pattern="H", max_len=16))
    f = model.backbone.blocks[0].mixer.filter
    with torch.no_grad():
        full = f(500, torch.float64)  # (16, 500): zero past the support (~9 x 16 lags)
        rows = f.rows(f.hidden(500, torch.float64), slice(3, 11), 500, torch.float64)
    assert full[:, f.cutoff :].abs().max() == 0
    torch.testing.assert_close(rows, full[3:11], rtol=0, atol=0)
