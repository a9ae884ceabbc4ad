"""step == forward and chunked prefill == forward (float64), for every mixer type; causality; ModelState."""

from __future__ import annotations

import pytest
import torch
from model_helpers import CAUSAL, seeded_model, tiny_config

from genoseq.errors import ConfigError
from genoseq.model import hyena
from genoseq.ops import hyena_conv
from genoseq.ops.fftconv import long_conv_direct

TOL = {"rtol": 1e-9, "atol": 1e-9}


@pytest.mark.parametrize("name", list(CAUSAL))
def test_prefill_chunks_and_step_equal_forward(name, ids):
    model = seeded_model(tiny_config(**CAUSAL[name]))
    with torch.no_grad():
        full = model(ids)  # (B, L, V)
        state = model.allocate_state(2)
        parts = [model.prefill(ids[:, lo:hi], state) for lo, hi in ((0, 5), (5, 6), (6, 14), (14, 19))]
        torch.testing.assert_close(torch.cat(parts, 1), full, **TOL)
        state = model.allocate_state(2)
        steps = torch.stack([model.step(ids[:, t], state) for t in range(ids.shape[1])], 1)
        torch.testing.assert_close(steps, full, **TOL)


@pytest.mark.parametrize("name", list(CAUSAL))
def test_causality_gradient_is_exactly_zero(name, ids, monkeypatch):
    # the FFT's own causality is checked against the direct oracle in tests/ops; here the direct
    # convolution makes "exactly zero" exact, so the test sees the model's wiring only
    monkeypatch.setattr(hyena, "long_conv", long_conv_direct)
    monkeypatch.setattr(hyena_conv, "CONV_IMPL", "direct")  # the fused order-2 operator's convolution
    model = seeded_model(tiny_config(**CAUSAL[name]))
    bb = model.backbone
    h0 = bb.embedding(ids).detach().requires_grad_()
    h = h0
    for block in bb.blocks:
        h = block(h)
    out = bb.norm_f(h)
    L = ids.shape[1]
    w = torch.randn(out.shape[-1], dtype=out.dtype, generator=torch.Generator().manual_seed(0))
    for t in (0, 7, L - 2):
        (g,) = torch.autograd.grad((out[:, t] * w).sum(), h0, retain_graph=True)
        assert torch.all(g[:, t + 1 :] == 0), f"output {t} depends on later inputs"
        assert g[:, : t + 1].abs().sum() > 0


def test_hyena_chunked_prefill_past_the_filter_support():
    # max_len 4 -> the decay window ends after ~36 lags; L=90 streams past it with a bounded history
    model = seeded_model(tiny_config(layer_pattern="H", max_len=4))
    mixer = model.backbone.blocks[0].mixer
    cutoff = mixer.filter.cutoff  # 1.5 / ln(100) * ln(1e12) * max_len ~ 9 * max_len
    assert cutoff in (36, 37)
    g = torch.Generator().manual_seed(1)
    x = torch.randint(5, 10, (1, 90), generator=g)
    with torch.no_grad():
        full = model(x)
        state = model.allocate_state(1)
        parts = [model.prefill(x[:, lo : lo + 25], state) for lo in range(0, 90, 25)]
        assert state[0]["hist0"].shape[-1] == cutoff - 1
    torch.testing.assert_close(torch.cat(parts, 1), full, **TOL)


def test_state_clone_repeat_select(ids):
    model = seeded_model(tiny_config(layer_pattern="HA"))
    with torch.no_grad():
        state = model.allocate_state(2)
        model.prefill(ids[:, :10], state)
        copy = state.clone()
        rep = state.repeat_interleave(3)
        nxt = ids[:, 10]
        a = model.step(nxt, state)
        b = model.step(nxt, copy)
        torch.testing.assert_close(a, b)
        assert rep.batch_size == 6
        out = model.step(nxt.repeat_interleave(3), rep)
        torch.testing.assert_close(out[0::3], b)  # row i*n continues row i
        torch.testing.assert_close(out[0], out[2])
        torch.testing.assert_close(out[3], out[5])
        one = state.select([1])  # state has consumed ids[:, 10]; continue row 1 alone
        nxt2 = ids[:, 11]
        both = model.step(nxt2, state)
        torch.testing.assert_close(model.step(nxt2[1:], one), both[1:], **TOL)


def test_bidirectional_model_has_no_incremental_state():
    model = seeded_model(tiny_config(layer_pattern="H", bidirectional=True))
    with pytest.raises(ConfigError, match="causal"):
        model.allocate_state(1)


def test_embed_long_matches_forward(ids):
    model = seeded_model(tiny_config(layer_pattern="HS"))
    with torch.no_grad():
        hidden = model.backbone(ids)
        torch.testing.assert_close(model.embed_long(ids, chunk_size=4), hidden, **TOL)
        torch.testing.assert_close(model.embed_long(ids, chunk_size=6, pooling="mean"), hidden.mean(1), **TOL)
        torch.testing.assert_close(model.embed_long(ids, chunk_size=6, pooling="last"), hidden[:, -1], **TOL)
