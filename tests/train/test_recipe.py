"""Recipe loading, validation messages and --set overrides."""

from pathlib import Path

import pytest

from genoseq.errors import ConfigError
from genoseq.train.recipe import apply_overrides, dump_recipe, load_recipe, parse_override, recipe_from_dict

PRE = {"kind": "pretrain", "data": {"fasta": "bundled:phage_lambda", "val_fraction": 0.05}}


def test_defaults_and_yaml_float_strings():
    r = recipe_from_dict({**PRE, "train": {"lr": "3e-4", "betas": [0.9, 0.98]}})
    assert r.train.lr == pytest.approx(3e-4)  # YAML 1.1 reads 3e-4 as a string; floats accept it
    assert r.train.betas == [0.9, 0.98]
    assert r.trainer.max_steps == 1000 and r.model.preset == "hyenadna-tiny"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"trian": {}}, "unknown key 'trian' at the top level (did you mean 'train'?)"),
        ({"train": {"lrr": 1e-3}}, "unknown key 'lrr' in section 'train' (did you mean 'lr'?)"),
        ({"trainer": {"max_step": 5}}, "unknown key 'max_step' in section 'trainer' (did you mean 'max_steps'?)"),
        ({"train": {"pretrain_stage": {"stepz": 1}}},
         "unknown key 'stepz' in section 'train.pretrain_stage' (did you mean 'steps'?)"),
        ({"train": {"lr": -1.0}}, "'train.lr' must be > 0.0, got -1.0"),
        ({"train": {"mask_prob": 1.5}}, "'train.mask_prob' must be <= 1.0, got 1.5"),
        ({"data": {"seq_len": "long"}}, "'data.seq_len' must be int, got 'long'"),
        ({"trainer": {"deterministic": "yes"}}, "'trainer.deterministic' must be bool, got 'yes'"),
        ({"train": {"objective": "clasification"}}, "'train.objective' must be 'auto' | 'causal'"),
        ({"train": {"betas": [0.9]}}, "'train.betas' must be two numbers"),
        ({"trainer": {"precision": "16-mixed"}}, "float16 loss scaling is not supported: use bf16-mixed"),
        ({"train": {"seq_len_warmup": [{"seq_len": 512, "batch_size": 4, "steps": 2},
                                       {"seq_len": 1024, "batch_size": 4}]}},
         "tokens per step) constant, got 512x4, 1024x4"),
    ],
)
def test_validation_errors_name_key_and_section(raw, message):
    merged = {**PRE, **raw}
    if "data" in raw:
        merged["data"] = {**PRE["data"], **raw["data"]}
    with pytest.raises(ConfigError) as err:
        recipe_from_dict(merged)
    assert message in str(err.value)


def test_kind_specific_rules():
    with pytest.raises(ConfigError, match="needs 'data.fasta'"):
        recipe_from_dict({"kind": "pretrain"})
    with pytest.raises(ConfigError, match="needs 'data.task'"):
        recipe_from_dict({"kind": "finetune"})
    with pytest.raises(ConfigError, match="use train.pretrain_stage"):
        recipe_from_dict({"kind": "finetune", "data": {"task": "x"}, "train": {"objective": "causal"}})


def test_overrides_are_yaml_parsed_and_checked():
    assert parse_override("train.lr=3e-4") == (["train", "lr"], "3e-4")
    assert parse_override("data.val_contigs=[chr20, chr21]") == (["data", "val_contigs"], ["chr20", "chr21"])
    raw = apply_overrides(PRE, ["train.lr=3e-4", "trainer.max_steps=100", "train.pretrain_stage.steps=5"])
    r = recipe_from_dict(raw)
    assert r.train.lr == pytest.approx(3e-4) and r.trainer.max_steps == 100 and r.train.pretrain_stage.steps == 5
    assert PRE["data"] == {"fasta": "bundled:phage_lambda", "val_fraction": 0.05}  # not mutated
    with pytest.raises(ConfigError, match="unknown key 'lrr' in section 'train' \\(did you mean 'lr'\\?\\)"):
        apply_overrides(PRE, ["train.lrr=1"])
    with pytest.raises(ConfigError, match="must look like section.key=value"):
        apply_overrides(PRE, ["train.lr"])


def test_load_file_errors_and_roundtrip(tmp_path: Path):
    with pytest.raises(ConfigError, match="recipe file not found"):
        load_recipe(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: pretrain\ndata: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(bad)
    good = tmp_path / "good.yaml"
    good.write_text("kind: pretrain\ndata:\n  fasta: bundled:phage_lambda\n  val_fraction: 0.05\ntrain:\n  lr: 1e-3\n")
    r = load_recipe(good, ["trainer.max_steps=7"])
    assert r.trainer.max_steps == 7 and r.source == str(good)
    text = dump_recipe(r, "genoseq pretrain good.yaml")
    assert text.startswith("# resolved recipe")
    resolved = tmp_path / "resolved.yaml"
    resolved.write_text(text)
    assert load_recipe(resolved).to_dict() == r.to_dict()
    typo = tmp_path / "typo.yaml"
    typo.write_text("kind: pretrain\ndata:\n  fasta: x\n  seqlen: 5\n")
    with pytest.raises(ConfigError, match=r"typo.yaml: unknown key 'seqlen' in section 'data' \(did you mean 'seq_len'\?\)"):
        load_recipe(typo)
