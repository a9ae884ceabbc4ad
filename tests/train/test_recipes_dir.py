"""Every shipped recipe validates; data-dependent recipes say how to fetch their data."""

from __future__ import annotations

from pathlib import Path

import pytest

from genoseq.errors import GenoseqError
from genoseq.train.recipe import load_recipe
from genoseq.train.validate import check_recipe

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
ALL = sorted(RECIPES.rglob("*.yaml"))


def test_recipe_set_is_complete():
    names = {str(p.relative_to(RECIPES)) for p in ALL}
    expected = {"demo.yaml", "pretrain/hyenadna_tiny_hg38_1k.yaml", "pretrain/hyenadna_small_hg38_32k_warmup.yaml",
                "pretrain/hybrid_hg38_131k.yaml", "pretrain/caduceus_like_mlm_131k.yaml"}
    expected |= {f"finetune/gue/{t}.yaml" for t in ("prom_core_tata", "prom_300_tata", "mouse_2", "mouse_3", "tf_2")}
    assert expected <= names
    assert len([n for n in names if n.startswith("finetune/genomic_benchmarks/")]) == 8
    assert len([n for n in names if n.startswith("finetune/nt/")]) >= 3


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(RECIPES)))
def test_recipe_validates_and_names_its_command(path: Path):
    recipe = load_recipe(path)
    check_recipe(recipe)  # model config builds, manifest exists
    first = path.read_text().splitlines()[0]
    assert first.startswith("# genoseq "), first
    if path.name != "demo.yaml":
        assert f"recipes/{path.relative_to(RECIPES)}" in first
    bundled = any((v or "").startswith("bundled:") for v in (recipe.data.task, recipe.data.fasta))
    if path.name != "demo.yaml" and not bundled:
        assert recipe.data.manifest, "recipes that need downloaded data name their manifest"


def test_missing_data_gives_fetch_command(tmp_path, monkeypatch):
    from genoseq.train.run import run_recipe

    monkeypatch.chdir(tmp_path)
    recipe = load_recipe(RECIPES / "finetune/genomic_benchmarks/human_nontata_promoters.yaml",
                         [f"data.data_dir={tmp_path / 'gb'}"])
    with pytest.raises(GenoseqError) as err:
        run_recipe(recipe, tmp_path / "out")
    msg = str(err.value)
    assert "task 'human_nontata_promoters' not found" in msg
    assert f"genoseq data fetch genomic_benchmarks --dir {tmp_path / 'gb'}" in msg
    notes = check_recipe(load_recipe(RECIPES / "pretrain/hyenadna_tiny_hg38_1k.yaml",
                                     [f"data.data_dir={tmp_path}"]))
    assert any("genoseq data fetch hg38_hyenadna" in n for n in notes)
