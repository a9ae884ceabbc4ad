"""ModelConfig validation, (de)serialisation, presets and parameter counts."""

from __future__ import annotations

import json

import pytest

from genoseq.errors import ConfigError
from genoseq.model.build import build_model
from genoseq.model.config import ModelConfig
from genoseq.model.presets import PRESETS, get_preset


def test_misspelled_keys_suggest_the_right_name():
    with pytest.raises(ConfigError, match=r"unknown ModelConfig field 'd_modle' \(did you mean 'd_model'\?\)"):
        ModelConfig.from_dict({"d_modle": 64})
    with pytest.raises(ConfigError, match=r"unknown HyenaConfig field 'filter_dims' \(did you mean 'filter_dim'\?\)"):
        ModelConfig.from_dict({"hyena": {"filter_dims": 8}})
    with pytest.raises(ConfigError, match=r"did you mean 'rmsnorm'"):
        ModelConfig(norm="rmsnrom")
    with pytest.raises(ConfigError, match=r"unknown model preset 'hyenadna-tiyn' \(did you mean 'hyenadna-tiny'\?\)"):
        build_model("hyenadna-tiyn")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"layer_pattern": "HX"}, "unknown letter 'X'"),
        ({"n_layer": 0}, "n_layer must be an integer >= 1"),
        ({"head": "sequence"}, "n_outputs is required"),
        ({"head": "lm", "n_outputs": 3}, "n_outputs must be None"),
        ({"rc_equivariant": True}, "rc_equivariant needs bidirectional=True"),
        ({"rc_equivariant": True, "bidirectional": True, "d_model": 15}, "d_model must be even"),
        ({"layer_pattern": "A", "d_model": 12, "attention": {"n_heads": 5}}, "attention.n_heads=5"),
        ({"attention": {"n_heads": 4, "n_kv_heads": 3}}, "multiple of attention.n_kv_heads"),
        ({"layer_pattern": "S", "d_model": 48, "mamba2": {"head_dim": 40}}, "mamba2.head_dim=40"),
        ({"hyena": {"short_conv": 5}}, "hyena.short_conv must be 2..4"),
        ({"dropout": 1.5}, "dropout must be in"),
        ({"pooling": "avg"}, "pooling='avg'"),
    ],
)
def test_inconsistent_fields_raise(fields, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig.from_dict(fields)


def test_round_trip_is_json_safe():
    cfg = ModelConfig(layer_pattern="HSA", n_layer=3, attention={"n_heads": 2, "window": 8}, head="sequence",
                      n_outputs=3, pooling="max")
    text = json.dumps(cfg.to_dict())
    back = ModelConfig.from_dict(json.loads(text))
    assert back == cfg
    assert back.attention.window == 8 and back.layer_types == ["H", "S", "A"]
    assert cfg.replace(hyena={"order": 3}).hyena.order == 3
    assert cfg.padded_vocab_size == 16


def test_hyenadna_tiny_parameter_count():
    # HyenaDNA tiny: d_model 128, 2 layers, MLP 512, filter MLP width 64, 5 positional features -> ~0.44M
    n = build_model("hyenadna-tiny").num_parameters()
    assert abs(n - 440_000) / 440_000 < 0.05, n
    assert n == 436_096  # embedding 16x128 + 2 x 216,896 per layer + final norm


def test_every_preset_is_valid_and_small_ones_build():
    for name, cfg in PRESETS.items():
        assert get_preset(name) == cfg
    for name in ("hyenadna-tiny", "mamba-tiny", "mamba2-tiny", "hybrid-tiny"):
        model = build_model(name)
        assert model.config.layer_types == list((cfg := get_preset(name)).layer_types)
        assert model.head_type == "lm" and model.config.d_model == cfg.d_model
    hybrid = get_preset("hybrid-small")
    assert hybrid.layer_types.count("A") * 8 == hybrid.n_layer
    cad = get_preset("caduceus-like")
    assert cad.bidirectional and cad.rc_equivariant and set(cad.layer_pattern) == {"M"}
