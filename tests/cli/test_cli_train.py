"""`genoseq validate | pretrain | finetune | demo` command-line behaviour."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genoseq.cli import app
from genoseq.errors import ConfigError

runner = CliRunner()
RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_validate_ok_and_notes():
    result = runner.invoke(app, ["validate", str(RECIPES / "finetune/gue/prom_core_tata.yaml")])
    assert result.exit_code == 0, result.output
    assert "valid finetune recipe" in result.output
    result = runner.invoke(app, ["validate", str(RECIPES / "pretrain/hyenadna_tiny_hg38_1k.yaml"),
                                 "--set", "data.data_dir=/nonexistent"])
    assert result.exit_code == 0
    assert "genoseq data fetch hg38_hyenadna --dir /nonexistent" in result.output


def test_validate_reports_misspelled_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: finetune\ndata:\n  task: x\ntrain:\n  learning_rate: 1e-3\n")
    result = runner.invoke(app, ["validate", str(bad)])
    assert isinstance(result.exception, ConfigError)
    assert "unknown key 'learning_rate' in section 'train'" in str(result.exception)
    result = runner.invoke(app, ["validate", str(RECIPES / "demo.yaml"), "--set", "trainer.max_stepz=3"])
    assert "did you mean 'max_steps'?" in str(result.exception)


def test_main_turns_errors_into_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: pretrain\ndata:\n  fasta: x\n  seq_len: -5\n")
    proc = subprocess.run([sys.executable, "-c", "from genoseq.cli import main; main()", "validate", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {bad}: 'data.seq_len' must be >= 8, got -5"


def test_wrong_command_for_recipe_kind():
    result = runner.invoke(app, ["pretrain", str(RECIPES / "demo.yaml")])
    assert isinstance(result.exception, ConfigError)
    assert "is a finetune recipe; run it with `genoseq finetune`" in str(result.exception)


def test_cli_train_module_is_lazy():
    code = ("import sys, genoseq.cli.train; "
            "print([m for m in ('torch', 'lightning', 'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_demo_command_runs_bundled_recipe(tmp_path):
    import torch

    import genoseq

    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out), "--set", "trainer.max_steps=2",
                                 "--set", "train.pretrain_stage.steps=2", "--set", "trainer.limit_val_batches=1",
                                 "--set", "trainer.progress_bar=false", "--set", "data.val_windows=2"])
    assert result.exit_code == 0, result.output
    assert f"model:   {out / 'model'}" in result.output
    assert "Test MCC on GUE prom_core_tata" in result.output
    res = json.loads((out / "results.json").read_text())
    assert res["task"] == "gue_prom_core_tata" and res["objective"] == "classification"
    assert res["steps"] == 2 and res["n_test"] == 613
    assert set(res["test"]) == {"test/loss", "test/acc", "test/mcc", "test/f1", "test/auroc", "test/auprc"}
    assert -1.0 <= res["test"]["test/mcc"] <= 1.0 and 0.0 <= res["test"]["test/acc"] <= 1.0
    assert res["best"]["metric"] == "val/mcc" and res["init_from"] == str(out / "pretrain" / "model")
    assert (out / "recipe.yaml").read_text().startswith("# resolved recipe")
    model = genoseq.load_model(out / "model")
    assert model.head_type == "sequence"
    best = torch.load(out / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    for name, value in model.state_dict().items():
        assert torch.equal(value, best[f"model.{name}"]), name  # the exported model is the best checkpoint
    assert json.loads((out / "model" / "task.json").read_text())["classes"] == ["0", "1"]
    pre = json.loads((out / "pretrain" / "results.json").read_text())
    assert pre["kind"] == "pretrain" and pre["steps"] == 2
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG" and (out / "pretrain" / "model" / "config.json").is_file()
