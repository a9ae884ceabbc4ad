"""Fine-tuning with self-pretraining and a frozen backbone; non-finite guard; objective checks.

The plain fine-tune end to end (results.json, exported best model, plot) is covered by the demo test in
tests/cli/test_cli_train.py."""

from __future__ import annotations

import json

import pytest
import torch

from genoseq.train.recipe import load_recipe
from genoseq.train.run import run_recipe

from .conftest import write_recipe


def _finetune(tmp_path, **over):
    raw = {
        "kind": "finetune",
        "model": {"preset": "hyenadna-tiny", "config": {"d_model": 32, "n_layer": 1}},
        "data": {"task": "bundled:gue_prom_core_tata", "batch_size": 16},
        "train": {"lr": 1e-3, "warmup_steps": 1},
        "trainer": {"max_steps": 4, "val_every_n_steps": 2, "checkpoint_every_n_steps": 2, "log_every_n_steps": 1,
                    "limit_val_batches": 2, "progress_bar": False},
    }
    for key, value in over.items():
        raw[key] = {**raw[key], **value}
    return load_recipe(write_recipe(tmp_path / "ft.yaml", raw))


@pytest.mark.slow
def test_self_pretraining_then_frozen_finetune(tmp_path):
    recipe = _finetune(
        tmp_path,
        model={"freeze_backbone": True, "unfreeze_at_step": 2},
        train={"pretrain_stage": {"corpus": "task", "objective": "causal", "steps": 3, "batch_size": 8,
                                  "val_every_n_steps": 3}},
    )
    out = tmp_path / "run"
    res = run_recipe(recipe, out).results
    stage = json.loads((out / "pretrain" / "results.json").read_text())
    assert stage["kind"] == "self-pretrain" and stage["steps"] == 3 and stage["best"]["metric"] == "val/loss"
    assert res["init_from"] == str(out / "pretrain" / "model")
    import genoseq

    pre = genoseq.load_model(out / "pretrain" / "model")
    fin = genoseq.load_model(out / "model")
    # the backbone started from the self-pretrained weights, was frozen for 2 steps, then trained
    first = torch.load(out / "checkpoints" / "best.ckpt", weights_only=True)
    assert first["global_step"] in (2, 4)
    emb_pre = pre.backbone.embedding.weight
    emb_fin = fin.backbone.embedding.weight
    if first["global_step"] == 2:
        assert torch.equal(emb_pre, emb_fin)
    else:
        assert not torch.equal(emb_pre, emb_fin)


@pytest.mark.slow
def test_nonfinite_losses_stop_with_checkpoint(tiny_pretrain, tmp_path, monkeypatch):
    import genoseq.train.run as run_mod
    from genoseq.errors import GenoseqError

    original = run_mod.build_lm

    def poisoned(recipe, seq_len):
        model = original(recipe, seq_len)
        with torch.no_grad():
            model.backbone.embedding.weight.fill_(float("nan"))
        return model

    monkeypatch.setattr(run_mod, "build_lm", poisoned)
    recipe = load_recipe(tiny_pretrain(train={"max_nonfinite": 2}))
    out = tmp_path / "run"
    with pytest.raises(GenoseqError) as err:
        run_recipe(recipe, out)
    msg = str(err.value)
    assert "training stopped at step 0: more than 2 non-finite losses in a row (3 skipped in all)" in msg
    ckpt = out / "checkpoints" / "nonfinite-stop.ckpt"
    assert str(ckpt) in msg and ckpt.is_file()
    state = torch.load(ckpt, weights_only=True)
    assert state["global_step"] == 0 and state["genoseq"]["batches_seen"] == 3


def test_mlm_objective_needs_bidirectional_model(tiny_pretrain):
    from genoseq.errors import ConfigError

    recipe = load_recipe(tiny_pretrain(train={"objective": "mlm"}))
    with pytest.raises(ConfigError, match="objective 'mlm' needs a bidirectional model"):
        run_recipe(recipe, "/nonexistent/never-created")


