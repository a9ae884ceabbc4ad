"""Named architectures: ``build_model("hyenadna-tiny")``.

=================  =======  =======  ==========  ==============================================
name               d_model  n_layer  pattern     notes
=================  =======  =======  ==========  ==============================================
hyenadna-tiny      128      2        H           HyenaDNA tiny-1k shape (~0.44M parameters)
hyenadna-small     256      4        H           HyenaDNA small-32k shape
mamba-tiny         64       2        M           Mamba-1, test-sized
mamba2-tiny        64       2        S           Mamba-2 (SSD), test-sized
hybrid-tiny        64       4        SSSA        Mamba-2 with one attention layer in four
caduceus-like      256      16       M           bidirectional, RC-equivariant Mamba (Caduceus-PS shape)
hybrid-small       256      8        SSSSSSSA    Mamba-2 with one attention layer in eight
=================  =======  =======  ==========  ==============================================
"""

from __future__ import annotations

from genoseq.errors import ConfigError
from genoseq.model.config import ModelConfig, _suggest

_HYENA_TINY = {"order": 2, "filter_dim": 64, "filter_pos_dim": 5, "short_conv": 3}

PRESETS: dict[str, ModelConfig] = {
    "hyenadna-tiny": ModelConfig(
        d_model=128, n_layer=2, layer_pattern="H", mlp_type="gelu", mlp_ratio=4.0, norm="layernorm",
        max_len=1024, hyena=dict(_HYENA_TINY),
    ),
    "hyenadna-small": ModelConfig(
        d_model=256, n_layer=4, layer_pattern="H", mlp_type="gelu", mlp_ratio=4.0, norm="layernorm",
        max_len=32768, hyena=dict(_HYENA_TINY),
    ),
    "mamba-tiny": ModelConfig(
        d_model=64, n_layer=2, layer_pattern="M", mlp_type="none", norm="rmsnorm", max_len=4096,
        mamba={"d_state": 16, "d_conv": 4, "expand": 2},
    ),
    "mamba2-tiny": ModelConfig(
        d_model=64, n_layer=2, layer_pattern="S", mlp_type="none", norm="rmsnorm", max_len=4096,
        mamba2={"d_state": 16, "head_dim": 32, "n_groups": 1},
    ),
    "hybrid-tiny": ModelConfig(
        d_model=64, n_layer=4, layer_pattern="SSSA", mlp_type="none", norm="rmsnorm", max_len=4096,
        mamba2={"d_state": 16, "head_dim": 32}, attention={"n_heads": 4},
    ),
    "caduceus-like": ModelConfig(
        d_model=256, n_layer=16, layer_pattern="M", mlp_type="none", norm="rmsnorm", max_len=131072,
        bidirectional=True, bidirectional_combine="add", bidirectional_tie=True, rc_equivariant=True,
        head="lm", mamba={"d_state": 16, "d_conv": 4, "expand": 2},
    ),
    "hybrid-small": ModelConfig(
        d_model=256, n_layer=8, layer_pattern="SSSSSSSA", mlp_type="none", norm="rmsnorm", max_len=32768,
        mamba2={"d_state": 64, "head_dim": 64}, attention={"n_heads": 4},
    ),
}


def get_preset(name: str) -> ModelConfig:
    """A fresh copy of a named preset; an unknown name raises ConfigError with the closest name."""
    if name not in PRESETS:
        raise ConfigError(f"unknown model preset {name!r}{_suggest(name, sorted(PRESETS))}")
    return ModelConfig.from_dict(PRESETS[name].to_dict())
