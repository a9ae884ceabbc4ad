"""Tiny configurations shared by the model tests (imported by name; see conftest.py)."""

from __future__ import annotations

import torch

from genoseq.model.config import ModelConfig

TINY = {"d_model": 16, "n_layer": 2, "mlp_type": "glu", "mlp_ratio": 2.0, "max_len": 64,
        "hyena": {"filter_dim": 8, "filter_pos_dim": 5},
        "mamba": {"d_state": 4, "expand": 2, "chunk_size": 4},
        "mamba2": {"d_state": 4, "head_dim": 8, "chunk_size": 4},
        "attention": {"n_heads": 2}}

# causal configurations covering every mixer type, a sliding window and a hybrid
CAUSAL = {
    "H": {"layer_pattern": "H"},
    "H-order3": {"layer_pattern": "H", "hyena": {"order": 3, "filter_dim": 8, "filter_pos_dim": 5}},
    "A": {"layer_pattern": "A"},
    "A-gqa-window": {"layer_pattern": "A", "attention": {"n_heads": 2, "n_kv_heads": 1, "window": 3}},
    "M": {"layer_pattern": "M", "mlp_type": "none", "norm": "rmsnorm"},
    "S": {"layer_pattern": "S", "mlp_type": "none", "norm": "rmsnorm"},
    "hybrid-HMSA": {"layer_pattern": "HMSA", "n_layer": 4},
}


def tiny_config(**overrides) -> ModelConfig:
    data = {**TINY}
    for key, value in overrides.items():
        data[key] = value
    return ModelConfig.from_dict(data)


def seeded_model(config, seed: int = 0):
    from genoseq.model.build import build_model

    torch.manual_seed(seed)
    return build_model(config).double().eval()


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative error |a - b| / |b| (Frobenius norms)."""
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def mixer_grads(mixer: torch.nn.Module, x: torch.Tensor, w: torch.Tensor, forward) -> tuple:
    """(y, d x, {parameter name: gradient}) of the loss sum(forward(x) * w)."""
    mixer.zero_grad()
    x = x.clone().requires_grad_(True)
    y = forward(x)
    (y.float() * w).sum().backward()
    return y.detach(), x.grad, {k: p.grad.clone() for k, p in mixer.named_parameters()}


def assert_grads_close(got: tuple, want: tuple, tol: float) -> None:
    """Every part of two mixer_grads results agrees to relative error < tol."""
    (y_g, dx_g, dp_g), (y_w, dx_w, dp_w) = got, want
    assert rel_err(y_g.float(), y_w.float()) < tol
    assert rel_err(dx_g, dx_w) < tol
    for name in dp_w:
        assert rel_err(dp_g[name], dp_w[name]) < tol, name
