"""MambaMixer (Mamba-1) and Mamba2Mixer (SSD): recurrent step and chunked prefill equal the parallel
forward (float64, relative error <= 1e-10), causality, initialisation and configuration errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genoseq.errors import ConfigError
from genoseq.model.mamba import MambaMixer
from genoseq.model.mamba2 import Mamba2Mixer

F64 = torch.float64
TOL = 1e-10
D_MODEL = 16


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def make_mixer(kind: str, **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "mamba":
        mixer = MambaMixer(D_MODEL, 0, **{"d_state": 4, "chunk_size": 8, **kw})
    else:
        mixer = Mamba2Mixer(D_MODEL, 0, **{"d_state": 4, "head_dim": 8, "chunk_size": 8, **kw})
    mixer = mixer.double()
    with torch.no_grad():  # larger step sizes than the init, so the state decay actually matters
        if kind == "mamba":
            mixer.dt_proj.bias.add_(2.0)
        else:
            mixer.dt_bias.add_(2.0)
    return mixer


MIXERS = [("mamba", {}), ("mamba2", {}), ("mamba2", {"n_groups": 2}), ("mamba", {"d_conv": 2})]
MIXER_IDS = ["mamba1", "mamba2", "mamba2-G2", "mamba1-K2"]


def inputs(batch: int, length: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, length, D_MODEL, generator=torch.Generator().manual_seed(seed), dtype=F64)


@pytest.mark.parametrize("kind,kw", MIXERS, ids=MIXER_IDS)
def test_step_by_step_equals_forward(kind, kw):
    mixer = make_mixer(kind, **kw)
    x = inputs(2, 21)
    y = mixer(x)
    assert y.shape == x.shape and y.dtype == F64
    state = mixer.allocate_state(2)
    steps = torch.stack([mixer.step(x[:, t], state) for t in range(x.shape[1])], dim=1)
    assert rel_err(steps, y) < TOL


@pytest.mark.parametrize("kind,kw", MIXERS, ids=MIXER_IDS)
def test_forward_chunk_over_chunks_equals_forward(kind, kw):
    mixer = make_mixer(kind, **kw)
    x = inputs(2, 41, seed=2)
    y = mixer(x)
    state = mixer.allocate_state(2)
    pieces, start = [], 0
    for size in (7, 1, 13, 20):
        pieces.append(mixer.forward_chunk(x[:, start : start + size], state))
        start += size
    assert rel_err(torch.cat(pieces, 1), y) < TOL
    # the state after the chunks continues exactly like the one-shot forward would
    nxt = inputs(2, 5, seed=3)
    y_all = mixer(torch.cat([x, nxt], 1))[:, -5:]
    assert rel_err(mixer.forward_chunk(nxt, state), y_all) < TOL


@pytest.mark.parametrize("kind,kw", MIXERS[:2], ids=MIXER_IDS[:2])
def test_step_after_prefill(kind, kw):
    mixer = make_mixer(kind, **kw)
    x = inputs(1, 30, seed=4)
    y = mixer(x)
    state = mixer.allocate_state(1)
    mixer.forward_chunk(x[:, :25], state)
    tail = torch.stack([mixer.step(x[:, t], state) for t in range(25, 30)], 1)
    assert rel_err(tail, y[:, 25:]) < TOL


@pytest.mark.parametrize("kind,kw", MIXERS[:2], ids=MIXER_IDS[:2])
def test_causal(kind, kw):
    mixer = make_mixer(kind, **kw)
    x = inputs(1, 24, seed=5).requires_grad_(True)
    t = 10
    mixer(x)[0, t].sum().backward()
    assert x.grad[0, t + 1 :].abs().max().item() == 0.0
    assert x.grad[0, : t + 1].abs().sum().item() > 0.0


@pytest.mark.parametrize("kind", ["mamba", "mamba2"])
def test_gradients_reach_every_parameter(kind):
    mixer = make_mixer(kind)
    mixer(inputs(2, 20, seed=6)).square().mean().backward()
    for name, p in mixer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_mamba1_initialisation():
    torch.manual_seed(0)
    m = MambaMixer(40, 3, d_state=5, dt_min=0.002, dt_max=0.05, dt_init_floor=1e-4)
    assert m.dt_rank == math.ceil(40 / 16) == 3 and m.layer_idx == 3 and m.d_inner == 80
    dt = F.softplus(m.dt_proj.bias.detach())
    assert dt.min() >= 0.002 * (1 - 1e-5) and dt.max() <= 0.05 * (1 + 1e-5)
    assert torch.equal(-torch.exp(m.A_log.detach()), -torch.arange(1, 6.0).repeat(80, 1))
    assert torch.equal(m.D.detach(), torch.ones(80))
    state = m.allocate_state(3)
    assert state["conv_state"].shape == (3, 80, 3) and state["ssm_state"].shape == (3, 80, 5)
    assert MambaMixer(40, 0, dt_rank=7).x_proj.out_features == 7 + 2 * 16


def test_mamba2_initialisation_and_state_shapes():
    torch.manual_seed(0)
    m = Mamba2Mixer(32, 1, d_state=8, head_dim=16, n_groups=2, dt_min=0.01, dt_max=0.1)
    assert (m.n_heads, m.d_inner, m.conv_dim) == (4, 64, 64 + 2 * 2 * 8)
    dt = F.softplus(m.dt_bias.detach())
    assert dt.min() >= 0.01 * (1 - 1e-5) and dt.max() <= 0.1 * (1 + 1e-5)
    A = torch.exp(m.A_log.detach())
    assert A.min() >= 1.0 and A.max() <= 16.0
    state = m.allocate_state(2, dtype=torch.bfloat16)
    assert state["conv_state"].shape == (2, 96, 3) and state["conv_state"].dtype == torch.bfloat16
    assert state["ssm_state"].shape == (2, 4, 16, 8) and state["ssm_state"].dtype == torch.float32


def test_config_errors():
    with pytest.raises(ConfigError, match="must be a multiple of head_dim = 48"):
        Mamba2Mixer(32, 0, head_dim=48)
    with pytest.raises(ConfigError, match=r"number of heads \(4\) must be a multiple of n_groups \(3\)"):
        Mamba2Mixer(32, 0, head_dim=16, n_groups=3)
    with pytest.raises(ConfigError, match="d_conv must be an integer in 2..4"):
        MambaMixer(32, 0, d_conv=5)
    with pytest.raises(ConfigError, match="dt_rank"):
        MambaMixer(32, 0, dt_rank="big")
    with pytest.raises(ConfigError, match="dt_min"):
        MambaMixer(32, 0, dt_min=0.5, dt_max=0.1)
    with pytest.raises(ConfigError, match="d_state must be > 0"):
        Mamba2Mixer(32, 0, d_state=0)


@pytest.mark.parametrize("kind", ["mamba", "mamba2"])
def test_float32_and_bf16_forward_close_to_float64(kind):
    mixer = make_mixer(kind)
    x = inputs(1, 50, seed=7)
    ref = mixer(x)
    y32 = mixer.float()(x.float())
    assert y32.dtype == torch.float32 and rel_err(y32.double(), ref) < 1e-5
    y16 = mixer.bfloat16()(x.bfloat16())
    assert y16.dtype == torch.bfloat16 and rel_err(y16.double(), ref) < 5e-2
