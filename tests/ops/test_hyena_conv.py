"""The fused order-2 Hyena operator against the unfused mixer (float64), its convolution oracle and threads."""

from __future__ import annotations

import pytest
import torch

from genoseq.model.hyena import HyenaMixer
from genoseq.ops import _groups, hyena_conv

TOL = {"rtol": 1e-10, "atol": 1e-12}


def _mixer(seed: int = 0) -> HyenaMixer:
    torch.manual_seed(seed)
    return HyenaMixer(8, 0, order=2, filter_dim=8, filter_pos_dim=5, max_len=16).double()


def _check(mixer: HyenaMixer, B: int, L: int, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, L, 8, dtype=torch.float64, generator=g, requires_grad=True)
    gy = torch.randn(B, L, 8, dtype=torch.float64, generator=g)
    params = [x, *mixer.parameters()]
    ref = mixer.forward_reference(x)
    want = torch.autograd.grad((ref * gy).sum(), params)
    out = mixer(x)
    got = torch.autograd.grad((out * gy).sum(), params)
    torch.testing.assert_close(out, ref, **TOL)
    names = ["x"] + [n for n, _ in mixer.named_parameters()]
    for name, a, b in zip(names, got, want, strict=True):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, name=name: f"gradient of {name}: {m}")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(("B", "L"), [(1, 1), (1, 13), (2, 33), (3, 2)])
def test_fused_matches_unfused(B, L, threads, monkeypatch):
    monkeypatch.setattr(_groups, "_threads", threads)
    monkeypatch.setattr(_groups, "PARALLEL_MIN_POSITIONS", 0)  # tiny inputs still go to the workers
    mixer = _mixer()
    assert mixer._fused(torch.zeros(1, 1, 8, dtype=torch.float64))
    _check(mixer, B, L)


@pytest.mark.parametrize(("elems", "min_group"), [(1, 1), (64 * 3, 3), (100, 1)])
def test_channel_groups_and_remainders(elems, min_group, monkeypatch):
    # 8 channels in groups of 1, of 3 (3 + 3 + 2: a remainder group) and of 2
    monkeypatch.setattr(hyena_conv, "_GROUP_ELEMS", elems)
    monkeypatch.setattr(hyena_conv, "_MIN_GROUP", min_group)
    _check(_mixer(), 2, 20)


def test_workspace_reuse_across_lengths(monkeypatch):
    # cached per-thread buffers: a shorter call must not see a longer call's data past its own length
    monkeypatch.setattr(_groups, "_threads", 1)
    mixer = _mixer(3)
    for L in (33, 20, 33, 1):
        _check(mixer, 1, L, seed=L)
    hyena_conv.clear_workspaces()
    assert not hyena_conv._workspaces


def test_direct_convolution_matches_fft(monkeypatch):
    mixer = _mixer(2)
    x = torch.randn(2, 17, 8, dtype=torch.float64, requires_grad=True)
    gy = torch.randn(2, 17, 8, dtype=torch.float64)
    outs = []
    for impl in ("fft", "direct"):
        monkeypatch.setattr(hyena_conv, "CONV_IMPL", impl)
        y = mixer(x)
        outs.append((y, *torch.autograd.grad((y * gy).sum(), [x, *mixer.parameters()])))
    for a, b in zip(*outs, strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_bf16_autocast_close_to_float32():
    torch.manual_seed(0)
    mixer = HyenaMixer(16, 0, order=2, filter_dim=8, filter_pos_dim=5, max_len=64)
    x = torch.randn(1, 64, 16)
    ref = mixer.forward_reference(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = mixer(x)
    assert y.dtype == torch.bfloat16
    assert (y.float() - ref).norm() / ref.norm() < 2e-2


def test_other_shapes_take_the_unfused_path():
    x = torch.zeros(1, 4, 8)
    assert not HyenaMixer(8, 0, order=3, filter_dim=8, max_len=16)._fused(x)
    assert not HyenaMixer(8, 0, filter_dim=8, max_len=16, bidirectional=True)._fused(x)
    mixer = HyenaMixer(8, 0, filter_dim=8, max_len=16)
    mixer.use_fused = False
    assert not mixer._fused(x)


@pytest.mark.parametrize(("use_norm", "residual"), [(True, False), (False, True), (True, True)])
def test_prenorm_and_residual_options(use_norm, residual, monkeypatch):
    from genoseq.ops import prenorm
    from genoseq.ops.hyena_conv import hyena_order2
    from genoseq.ops.prenorm import Norm

    monkeypatch.setattr(prenorm, "BLOCK", 3)
    mixer = _mixer(4)
    ln = torch.nn.LayerNorm(8).double()
    ln.weight.data.normal_()
    ln.bias.data.normal_()
    x = torch.randn(2, 11, 8, dtype=torch.float64, requires_grad=True)
    k = mixer.raw_filter(11, torch.float64)[0]
    norm = Norm(ln.weight, ln.bias, ln.eps) if use_norm else None
    y = hyena_order2(x, mixer.in_proj.weight, mixer.in_proj.bias, mixer.short_conv_weight, mixer.short_conv_bias,
                     k, mixer.skip[0], mixer.out_proj.weight, mixer.out_proj.bias, norm=norm, residual=residual)
    ref = mixer.forward_reference(ln(x) if use_norm else x) + (x if residual else 0)
    torch.testing.assert_close(y, ref, **TOL)
    params = [x, *mixer.parameters(), *ln.parameters()]
    gy = torch.randn_like(y)
    got = torch.autograd.grad((y * gy).sum(), params, allow_unused=True)
    want = torch.autograd.grad((ref * gy).sum(), params, allow_unused=True)
    for a, b in zip(got, want, strict=True):
        if b is not None:
            torch.testing.assert_close(a, b, **TOL)


def test_inference_mode_then_training(monkeypatch):
    # workspaces made under torch.inference_mode must not be reused (read-only) by a later training call
    monkeypatch.setattr(_groups, "_threads", 1)
    mixer = _mixer(5)
    x = torch.randn(1, 21, 8, dtype=torch.float64)
    with torch.inference_mode():
        mixer(x)
    _check(mixer, 1, 21)


@pytest.mark.parametrize("windowed_min_len", [1, 2048])  # windowed accumulator / one product per tap
@pytest.mark.parametrize("piece", [7, 2048])  # accumulator pieces: several (the last one short) / one
@pytest.mark.parametrize("K", [1, 2, 3, 4])
@pytest.mark.parametrize(("B", "L"), [(1, 1), (1, 3), (2, 5), (2, 40)])
def test_short_conv_weight_grad_matches_sums(K, B, L, windowed_min_len, piece, monkeypatch):
    monkeypatch.setattr(hyena_conv, "_WINDOWED_MIN_LEN", windowed_min_len)
    monkeypatch.setattr(hyena_conv, "_WGRAD_PIECE", piece)
    g = torch.Generator().manual_seed(K * 100 + L)
    dC = torch.randn(B, 3, 2, L, dtype=torch.float64, generator=g)
    U = torch.randn(B, 3, 2, L, dtype=torch.float64, generator=g)
    want = torch.zeros(3, 2, K, dtype=torch.float64)
    for j in range(K):
        s = K - 1 - j
        for t in range(L - s):
            want[..., j] += (dC[..., t + s] * U[..., t]).sum(0)
    torch.testing.assert_close(hyena_conv._short_conv_weight_grad(dC, U, K), want, **TOL)


def test_kept_in_projection_gives_the_recomputed_gradients_and_survives_a_second_backward():
    mixer = _mixer(4)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(1, 21, 8, dtype=torch.float64, generator=g, requires_grad=True)
    gy = torch.randn(1, 21, 8, dtype=torch.float64, generator=g)
    params = [x, *mixer.parameters()]
    runs = []
    for keep in (False, True):
        mixer.keep_in_proj = keep
        y = mixer(x)
        first = torch.autograd.grad((y * gy).sum(), params, retain_graph=True)
        second = torch.autograd.grad((y * gy).sum(), params)  # the kept u was spent by the first: recomputed
        runs.append((y, *first, *second))
    for a, b in zip(*runs, strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_backbone_keeps_the_in_projection_of_its_last_block_only():
    from genoseq.model.backbone import Backbone
    from genoseq.model.presets import get_preset

    for pattern, want in (("HH", [False, True]), ("HHS", [False, False, False])):
        backbone = Backbone(get_preset("hyenadna-tiny").replace(layer_pattern=pattern, n_layer=len(pattern)))
        assert [getattr(b.mixer, "keep_in_proj", False) for b in backbone.blocks] == want


@pytest.mark.parametrize("spectrum", [True, False])
def test_backward_from_the_kept_filter_or_its_spectrum(spectrum, monkeypatch):
    monkeypatch.setattr(hyena_conv, "keeps_filter_spectrum", lambda mdt, cdt: spectrum)
    monkeypatch.setattr(hyena_conv, "_GROUP_ELEMS", 64 * 3)  # groups of 3 channels: a remainder group too
    mixer = _mixer(6)
    _check(mixer, 1, 23)
    _check(mixer, 2, 9)
    y = mixer(torch.randn(1, 23, 8, dtype=torch.float64, requires_grad=True))
    saved = [t for t in y.grad_fn.saved_tensors if t is not None]
    assert any(t.is_complex() for t in saved) == spectrum


def test_filter_spectrum_is_kept_under_bf16_autocast_only():
    assert hyena_conv.keeps_filter_spectrum(torch.bfloat16, torch.float32)
    assert not hyena_conv.keeps_filter_spectrum(torch.float32, torch.float32)
    assert not hyena_conv.keeps_filter_spectrum(torch.float64, torch.float64)
