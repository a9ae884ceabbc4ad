"""Nucleotide Transformer recipes (recipes/finetune/nt/*.yaml) on a hand-built copy of the NT layout:
DATA_DIR/TASK/{train,test}.fna, labels in the record ids, 10% of train held out as dev."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from genoseq.cli import app
from genoseq.data.tasks import read_task
from genoseq.train.datamodules import ensure_dev_split
from genoseq.train.paths import resolve_path
from genoseq.train.recipe import load_recipe
from genoseq.train.validate import check_recipe

ROOT = Path(__file__).resolve().parents[2]
NT_RECIPES = sorted((ROOT / "recipes" / "finetune" / "nt").glob("*.yaml"))
FIXTURE = ROOT / "tests" / "data" / "tasks" / "nt_revised" / "enhancers"  # hand-built, see PROVENANCE.md


def nt_data_dir(tmp_path: Path, tasks: list[str]) -> Path:
    """A data_dir as `genoseq data fetch nucleotide_transformer_revised` lays it out, one copy per task."""
    data_dir = tmp_path / "nt"
    for task in tasks:
        shutil.copytree(FIXTURE, data_dir / task)
    return data_dir


def test_every_nt_recipe_resolves_and_reads_its_task(tmp_path: Path) -> None:
    recipes = [load_recipe(p) for p in NT_RECIPES]
    assert len(recipes) == 5 and all(r.data.manifest == "nucleotide_transformer_revised" for r in recipes)
    data_dir = nt_data_dir(tmp_path, [r.data.task for r in recipes])
    for path in NT_RECIPES:
        recipe = load_recipe(path, [f"data.data_dir={data_dir}"])
        assert check_recipe(recipe) == []  # no "not found" notes: the task folder resolves
        d = recipe.data
        task_path = resolve_path(d.task, manifest=d.manifest, data_dir=d.data_dir, recipe_path=recipe.source)
        assert task_path == data_dir / d.task
        task = read_task(task_path)
        splits, notes = ensure_dev_split(task, seed=recipe.trainer.seed)
        assert (len(splits["train"]), len(splits["dev"]), len(splits["test"])) == (18, 2, 6)
        assert notes == [f"no dev split: 2 of 20 training sequences held out as dev (seed {recipe.trainer.seed})"]


def test_missing_nt_data_says_how_to_fetch(tmp_path: Path) -> None:
    recipe = load_recipe(NT_RECIPES[0], [f"data.data_dir={tmp_path}"])
    notes = check_recipe(recipe)
    assert len(notes) == 1 and "genoseq data fetch nucleotide_transformer_revised" in notes[0]


def test_nt_enhancers_recipe_runs(tmp_path: Path) -> None:
    data_dir = nt_data_dir(tmp_path, ["enhancers"])
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "finetune", str(ROOT / "recipes" / "finetune" / "nt" / "enhancers.yaml"), "--out", str(out),
        "--set", f"data.data_dir={data_dir}", "--set", "trainer.max_steps=2", "--set", "data.batch_size=8",
        "--set", "trainer.progress_bar=false"])
    assert result.exit_code == 0, result.output
    res = json.loads((out / "results.json").read_text())
    assert res["kind"] == "finetune" and res["task"] == "enhancers" and res["task_kind"] == "binary"
    assert (res["n_train"], res["n_dev"], res["n_test"], res["steps"]) == (18, 2, 6, 2)
    assert res["notes"] == ["no dev split: 2 of 20 training sequences held out as dev (seed 0)"]
    assert res["best"]["metric"] == "val/mcc"
    assert set(res["test"]) == {"test/loss", "test/acc", "test/mcc", "test/f1", "test/auroc", "test/auprc"}
    assert -1.0 <= res["test"]["test/mcc"] <= 1.0
    task = json.loads((out / "model" / "task.json").read_text())
    assert task["classes"] == ["0", "1"] and task["splits"] == {"train": 20, "test": 6}
