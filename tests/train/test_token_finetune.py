"""Token-level fine-tuning: windows with per-base targets, recipe checks, and the bundled recipe end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genoseq.data.genome import Genome
from genoseq.data.intervals import Interval
from genoseq.data.token_tasks import IGNORE, read_token_labels
from genoseq.data.windows import tile
from genoseq.errors import ConfigError
from genoseq.tokenizer import Tokenizer
from genoseq.train.datasets import Region
from genoseq.train.recipe import load_recipe, recipe_from_dict
from genoseq.train.token_data import TokenData, TokenWindows, evenly_spaced, region_tiles

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "finetune" / "token" / "ecoli_cds.yaml"
X = IGNORE


@pytest.fixture
def toy(tmp_path: Path):
    fa = tmp_path / "g.fa"
    fa.write_text(">c1\nACGTNACGTACGTACGTACG\n>c2\nAAAAACCCCA\n")  # 20 bp (N at 4), 10 bp (no T or G)
    (tmp_path / "l.bed").write_text("c1\t2\t9\tgene\nc2\t0\t3\tgene\n")
    genome = Genome(fa, use_cache=False)
    return genome, read_token_labels(tmp_path / "l.bed", genome, background="other")


def test_region_tiles_cover_every_base_once():
    tiles = region_tiles([Region("c1", 0, 20), Region("c2", 3, 5), Region("c3", 4, 4)], 8)
    assert [(t.contig, t.start, t.end) for t in tiles] == [("c1", 0, 8), ("c1", 8, 16), ("c1", 16, 20), ("c2", 3, 5)]
    assert tiles[-1] == tiles[3] and len(tiles) == 4
    with pytest.raises(IndexError):
        tiles[4]
    # the same windows as genoseq.data.windows.tile(partial="pad"), cut at the region end
    rng = np.random.default_rng(0)
    for _ in range(20):
        start, length, seq_len = (int(x) for x in rng.integers(1, 50, size=3))
        want = [(w.start, min(w.end, start + length)) for w in tile([Interval("c", start, start + length)], seq_len,
                                                                    partial="pad")]
        assert [(w.start, w.end) for w in region_tiles([Region("c", start, start + length)], seq_len)] == want
    wins = [Interval("c", i, i + 1) for i in range(10)]
    assert [w.start for w in evenly_spaced(wins, 4)] == [0, 3, 6, 9]
    assert evenly_spaced(wins, 20) == wins


def test_windows_give_exact_ids_and_labels(toy):
    genome, labels = toy
    ds = TokenWindows(genome, labels, [Interval("c1", 0, 8), Interval("c1", 16, 20)], exclude_n=True)
    item = ds[(0, 0, 8)]
    assert item["input_ids"].tolist() == Tokenizer().encode("ACGTNACG").tolist()
    assert item["labels"].tolist() == [0, 0, 1, 1, X, 1, 1, 1]  # the N base is not scored
    assert ds[(1, 1, 8)]["labels"].tolist() == [0, 0, 0, 0]
    keep_n = TokenWindows(genome, labels, [Interval("c1", 0, 8)], exclude_n=False)
    assert keep_n[(0, 0, 8)]["labels"].tolist() == [0, 0, 1, 1, 1, 1, 1, 1]


def test_random_training_windows_and_reverse_complement(toy):
    genome, labels = toy
    data = TokenData(genome, labels, {"train": [Region("c2", 0, 10)], "valid": [Region("c1", 0, 20)], "test": []},
                     seq_len=6, batch_size=2, seed=3, rc_augment=True, val_windows=2)
    train = data.sets["train"]
    assert len(train) == 2  # one epoch = the tiles of the training regions (6 + 4 bases)
    seen = set()
    for pos in range(40):
        item = train[(-1, pos, 6)]
        ids, lab = item["input_ids"], item["labels"]
        seq = Tokenizer().decode(ids)
        start = "AAAAACCCCA".find(seq)
        if start >= 0:  # + strand: labels of c2[start:start+6]
            assert lab.tolist() == labels.labels("c2", start, start + 6).tolist()
            seen.add("+")
        else:  # reverse complement: the same window read backwards
            start = "AAAAACCCCA".find(Tokenizer().decode(Tokenizer.reverse_complement(ids)))
            assert start >= 0
            assert lab.tolist() == labels.labels("c2", start, start + 6)[::-1].tolist()
            seen.add("-")
        assert train[(-1, pos, 6)]["labels"].tolist() == lab.tolist()  # a pure function of the position
    assert seen == {"+", "-"}
    # validation: evenly spaced tiles; no test regions -> test on all validation tiles
    assert [(w.start, w.end) for w in data.sets["valid"].fixed] == [(0, 6), (18, 20)]
    assert [(w.start, w.end) for w in data.sets["test"].fixed] == [(0, 6), (6, 12), (12, 18), (18, 20)]
    assert data.test_on_valid
    batch = next(iter(data.test_dataloader()))
    assert batch["labels"].shape == (2, 6) and batch["labels"].dtype.is_floating_point is False


def _raw(**data):
    return {"kind": "finetune", "model": {"preset": "hyenadna-tiny"},
            "data": {"fasta": "g.fa", "labels_bed": "l.bed", "val_fraction": 0.1, **data},
            "trainer": {"max_steps": 10}}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_raw(fasta=None), "'data.labels_bed' needs 'data.fasta'"),
        (_raw(task="t"), "set 'data.task' (sequence-level task) or 'data.labels_bed' (token-level task), not both"),
        (_raw(val_fraction=0.0), "a token-level task needs one genome split"),
        (_raw(max_len=100), "'data.max_len' applies to task sequences"),
        ({**_raw(), "train": {"objective": "classification"}}, "must be token_classification, token_regression or auto"),
        ({**_raw(), "train": {"objective": "token_regression"}}, "token_regression: 'data.background' must be"),
        ({**_raw(), "kind": "pretrain"}, "'data.labels_bed' applies to finetune recipes"),
        ({"kind": "finetune", "data": {"task": "t"}, "train": {"objective": "token_classification"}},
         "needs per-base targets: 'data.fasta' + 'data.labels_bed'"),
        (_raw(label_column=3), "'data.label_column' must be >= 4"),
        (_raw(train_windows="all"), "'data.train_windows' must be 'random' | 'tile'"),
    ],
)
def test_recipe_checks(raw, expected):
    with pytest.raises(ConfigError) as err:
        recipe_from_dict(raw)
    assert expected in str(err.value)


def test_recipe_accepts_numeric_or_null_background():
    r = recipe_from_dict({**_raw(background=0), "train": {"objective": "token_regression"}})
    assert r.data.background == 0.0
    assert recipe_from_dict(_raw(background=None)).data.background is None


def test_bundled_recipe_runs_two_steps(tmp_path):
    from genoseq.train.run import run_recipe

    recipe = load_recipe(RECIPE, ["trainer.max_steps=2", "trainer.val_every_n_steps=1", "trainer.progress_bar=false",
                                  "data.seq_len=64", "data.batch_size=4", "data.val_windows=4",
                                  "data.val_fraction=0.002", "model.config={d_model: 16, n_layer: 1, max_len: 64}"])
    out = tmp_path / "run"
    res = run_recipe(recipe, out).results
    saved = json.loads((out / "results.json").read_text())
    assert saved["task"] == "ecoli_k12_cds" and saved["objective"] == "token_classification"
    assert saved["classes"] == ["other", "cds"] and saved["background"] == "other" and saved["steps"] == 2
    assert set(saved["test"]) == {"test/loss", "test/acc", "test/mcc", "test/f1", "test/f1_other", "test/f1_cds",
                                  "test/auroc", "test/auprc"}
    assert saved["best"]["metric"] == "val/mcc"
    # 0.2% of 4,641,652 bp per held-out split; every base in exactly one split
    bases = {k: sum(v.values()) for k, v in saved["bases"].items()}
    assert bases == {"train": 4_623_085, "valid": 9284, "test": 9283}
    assert saved["n_test"] == -(-9283 // 64) and saved["n_dev"] == 4
    task = json.loads((out / "model" / "task.json").read_text())
    assert task["kind"] == "token_classification" and task["classes"] == ["other", "cds"]
    assert res["test"] == saved["test"]
    import genoseq

    model = genoseq.load_model(out / "model")
    assert model.config.head == "token" and model.config.n_outputs == 2
    assert np.isfinite(saved["test"]["test/loss"])


def test_token_metrics_match_sklearn_over_scored_positions():
    import torch
    from sklearn.metrics import f1_score, matthews_corrcoef

    from genoseq.train.metrics import build_metrics, metric_inputs

    torch.manual_seed(0)
    m = build_metrics("token_classification", 3, ["bg", "a", "b"]).clone(prefix="val/")
    preds, targets = [], []
    for _ in range(3):
        out, lab = torch.randn(2, 50, 3), torch.randint(-1, 3, (2, 50))
        lab[lab < 0] = IGNORE
        p, t = metric_inputs("token_classification", out, lab)
        assert p.shape == (int((lab >= 0).sum()), 3)
        m.update(p, t)
        preds.append(p.argmax(-1))
        targets.append(t)
    got = {k: float(v) for k, v in m.compute().items()}
    pred, target = torch.cat(preds).numpy(), torch.cat(targets).numpy()
    assert got["val/acc"] == pytest.approx(float((pred == target).mean()), abs=1e-6)
    assert got["val/mcc"] == pytest.approx(matthews_corrcoef(target, pred), abs=1e-5)
    assert got["val/f1"] == pytest.approx(f1_score(target, pred, average="macro"), abs=1e-5)
    per_class = f1_score(target, pred, average=None)
    assert [got["val/f1_bg"], got["val/f1_a"], got["val/f1_b"]] == pytest.approx(per_class.tolist(), abs=1e-5)


def test_token_regression_metric_inputs_drop_unscored_positions():
    import torch

    from genoseq.train.metrics import metric_inputs

    out = torch.tensor([[[1.0], [2.0], [3.0]], [[4.0], [5.0], [6.0]]])  # (B=2, L=3, T=1)
    lab = torch.tensor([[0.5, float("nan"), 1.5], [float("nan"), 2.5, 3.5]])  # (B, L)
    preds, target = metric_inputs("token_regression", out, lab)
    assert preds.tolist() == [1.0, 3.0, 5.0, 6.0] and target.tolist() == [0.5, 1.5, 2.5, 3.5]


def test_token_regression_run_on_a_bedgraph(tmp_path):
    from genoseq.train.run import run_recipe

    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), size=2000))
    (tmp_path / "g.fa").write_text(f">c1\n{seq}\n")
    (tmp_path / "s.bedgraph").write_text("".join(f"c1\t{i}\t{i + 50}\t{(i // 50) % 3}\n" for i in range(0, 2000, 100)))
    raw = {"kind": "finetune", "model": {"preset": "hyenadna-tiny", "config": {"d_model": 16, "n_layer": 1}},
           "data": {"fasta": str(tmp_path / "g.fa"), "labels_bed": str(tmp_path / "s.bedgraph"), "background": 0,
                    "val_fraction": 0.1, "seq_len": 64, "batch_size": 4, "val_windows": 2},
           "train": {"objective": "token_regression", "warmup_steps": 1},
           "trainer": {"max_steps": 2, "val_every_n_steps": 2, "progress_bar": False}}
    res = run_recipe(recipe_from_dict(raw), tmp_path / "run").results
    assert res["objective"] == "token_regression" and res["classes"] is None and res["background"] == 0.0
    assert set(res["test"]) == {"test/loss", "test/pearson", "test/spearman", "test/mse"}
    assert res["best"]["metric"] == "val/pearson" and res["n_test"] == 4  # 200 bases of tiles of 64
    assert res["bases"]["test"] == {"scored": 200}


def test_pretraining_stage_uses_the_training_regions_of_the_same_genome(tmp_path):
    import yaml

    from genoseq.train.run import run_recipe

    rng = np.random.default_rng(1)
    (tmp_path / "g.fa").write_text(">c1\n" + "".join(rng.choice(list("ACGT"), size=3000)) + "\n")
    (tmp_path / "l.bed").write_text("c1\t100\t900\tgene\nc1\t1500\t2900\tgene\n")
    raw = {"kind": "finetune", "model": {"preset": "hyenadna-tiny", "config": {"d_model": 16, "n_layer": 1}},
           "data": {"fasta": str(tmp_path / "g.fa"), "labels_bed": str(tmp_path / "l.bed"), "val_fraction": 0.1,
                    "seq_len": 64, "batch_size": 4, "val_windows": 2, "train_windows": "tile"},
           "train": {"warmup_steps": 1, "pretrain_stage": {"corpus": "task", "steps": 2, "seq_len": 64,
                                                          "batch_size": 4, "val_every_n_steps": 2}},
           "trainer": {"max_steps": 2, "val_every_n_steps": 2, "progress_bar": False}}
    out = tmp_path / "run"
    res = run_recipe(recipe_from_dict(raw), out).results
    stage = yaml.safe_load((out / "pretrain" / "recipe.yaml").read_text())
    assert stage["kind"] == "pretrain" and stage["data"]["fasta"] == str(tmp_path / "g.fa")
    assert stage["data"]["labels_bed"] is None and stage["data"]["val_fraction"] == 0.1  # same held-out tail
    assert res["init_from"] == str(out / "pretrain" / "model") and res["steps"] == 2
    assert res["bases"]["train"] == {"background": 2400 - 800 - 900, "gene": 800 + 900}  # the default name
    assert res["n_train"] == -(-2400 // 64)
