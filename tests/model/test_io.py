"""save_pretrained -> load_model round trips and mismatch errors."""

from __future__ import annotations

import json

import pytest
import torch
from model_helpers import seeded_model, tiny_config

import genoseq
from genoseq.errors import GenoseqError


@pytest.mark.parametrize(
    "overrides",
    [
        {"layer_pattern": "HA"},
        {"layer_pattern": "MS", "bidirectional": True, "rc_equivariant": True, "head": "sequence", "n_outputs": 2},
        {"layer_pattern": "H", "tie_embeddings": False, "head": "token", "n_outputs": 3},
    ],
    ids=["lm-tied", "rc-bimamba-seq", "token"],
)
def test_save_load_identical_outputs(tmp_path, overrides, ids):
    model = seeded_model(tiny_config(**overrides)).float()
    model.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    loaded = genoseq.load_model(tmp_path / "m")
    assert loaded.config == model.config and loaded.head_type == model.head_type
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids), model(ids), rtol=0, atol=0)
    if model.config.tie_embeddings and model.head_type == "lm":
        assert loaded.head.weight is loaded.backbone.embedding.weight


def test_mismatched_weights_list_keys(tmp_path):
    seeded_model(tiny_config(layer_pattern="HA")).float().save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["layer_pattern"] = "HH"
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenoseqError, match=r"missing keys: .*blocks\.1\.mixer\.in_proj\.weight.*unexpected keys: "
                                            r".*blocks\.1\.mixer\.qkv\.weight"):
        genoseq.load_model(tmp_path / "m")
    cfg["layer_pattern"], cfg["d_model"] = "HA", 32
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenoseqError, match="shape mismatches"):
        genoseq.load_model(tmp_path / "m")


def test_missing_files(tmp_path):
    with pytest.raises(GenoseqError, match="no config.json"):
        genoseq.load_model(tmp_path)
