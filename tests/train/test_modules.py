"""Module-level pieces with real models: gradient checkpointing, metrics inputs, plotting, collate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genoseq.tokenizer import A_ID, C_ID, PAD_ID
from genoseq.train.datasets import TaskSequences, collate, collate_lm
from genoseq.train.finetune_module import task_loss
from genoseq.train.metrics import build_metrics, metric_inputs, monitor_for


@pytest.mark.slow
def test_gradient_checkpointing_gives_same_gradients():
    from genoseq.model.build import build_model
    from genoseq.model.presets import get_preset
    from genoseq.train.run import enable_gradient_checkpointing

    torch.manual_seed(0)
    cfg = get_preset("hyenadna-tiny").replace(d_model=32, max_len=64)
    a = build_model(cfg).double()
    b = build_model(cfg).double()
    b.load_state_dict(a.state_dict())
    assert enable_gradient_checkpointing(b) == 2
    ids = torch.randint(5, 9, (2, 48))
    for m in (a, b):
        m.train()
        m(ids).sum().backward()
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-10, atol=1e-12, msg=name)


def test_binary_metrics_known_values():
    m = build_metrics("classification", 2)
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 1.0], [1.0, 0.0]])
    labels = torch.tensor([0, 1, 0, 0])
    m.update(*metric_inputs("classification", logits, labels))
    out = {k: float(v) for k, v in m.compute().items()}
    # predictions 0,1,1,0 vs 0,1,0,0: TP 1, TN 2, FP 1, FN 0
    mcc = (1 * 2 - 1 * 0) / np.sqrt((1 + 1) * (1 + 0) * (2 + 1) * (2 + 0))
    assert out["acc"] == pytest.approx(0.75) and out["mcc"] == pytest.approx(mcc)
    assert out["f1"] == pytest.approx(2 / 3) and out["auroc"] == pytest.approx(1.0)
    assert monitor_for("classification") == ("val/mcc", "max")
    assert monitor_for("causal") == ("val/loss", "min")
    assert monitor_for("regression", "mse") == ("val/mse", "min")


@pytest.mark.filterwarnings("ignore:Metric `SpearmanCorrcoef` will save")
def test_regression_and_token_losses():
    r = build_metrics("regression", 1)
    preds = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    target = torch.tensor([2.0, 4.0, 6.0, 8.5])
    r.update(*metric_inputs("regression", preds, target))
    out = {k: float(v) for k, v in r.compute().items()}
    assert out["spearman"] == pytest.approx(1.0) and out["pearson"] > 0.99
    assert out["mse"] == pytest.approx(float(((preds.squeeze() - target) ** 2).mean()))
    logits = torch.randn(2, 3, 4)
    labels = torch.tensor([[1, -100, 2], [0, 3, -100]])
    expected = torch.nn.functional.cross_entropy(logits[labels >= 0], labels[labels >= 0])
    assert task_loss("token_classification", logits, labels).item() == pytest.approx(expected.item(), rel=1e-6)
    out = torch.randn(1, 3, 1)
    lab = torch.tensor([[[1.0], [float("nan")], [0.0]]])
    want = ((out[0, 0, 0] - 1) ** 2 + (out[0, 2, 0]) ** 2) / 2
    assert task_loss("token_regression", out, lab).item() == pytest.approx(want.item(), rel=1e-6)
    ml = build_metrics("multilabel", 3)
    ml.update(*metric_inputs("multilabel", torch.randn(4, 3), torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])))
    assert set(ml.compute()) == {"acc", "mcc", "f1", "auroc", "auprc"}


def test_collate_pads_and_rc_augment_is_per_position():
    ds = TaskSequences(["ACGTA", "AC"], np.array([1, 0]), rc_augment=True, seed=0)
    batch = collate([ds[(0, 0, 0)], ds[(1, 1, 0)]])
    assert batch["input_ids"].shape == (2, 5)
    assert batch["attention_mask"].tolist() == [[True] * 5, [True, True, False, False, False]]
    assert batch["labels"].tolist() == [1, 0]
    assert batch["input_ids"][1, 2:].tolist() == [PAD_ID] * 3
    # the same position always gives the same strand; over many positions both strands appear
    strands = {tuple(ds[(1, p, 0)]["input_ids"].tolist()) for p in range(40)}
    assert strands == {(A_ID, C_ID), (7, 8)}  # AC and its reverse complement GT
    assert ds[(1, 5, 0)]["input_ids"].tolist() == ds[(1, 5, 0)]["input_ids"].tolist()
    lm = TaskSequences(["ACGTACGTAC", "ACG"], None, objective="mlm", mask_prob=0.5, seed=1)
    b = collate_lm([lm[(0, 0, 0)], lm[(1, 1, 0)]])
    assert b["labels"].shape == (2, 10) and (b["labels"][1, 3:] == -100).all()


def test_plot_curves(tmp_path):
    from genoseq.train.plotting import plot_curves, read_metrics

    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,step,train/loss,val/loss,val/mcc\n0,0,1.5,,\n0,1,1.2,,\n0,1,,1.3,0.2\n0,2,1.1,,\n")
    series = read_metrics(csv)
    assert series["train/loss"] == [(0, 1.5), (1, 1.2), (2, 1.1)] and series["val/mcc"] == [(1, 0.2)]
    png = plot_curves(csv, tmp_path / "c.png", title="t", monitor="val/mcc")
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_token_level_finetune_python_api(tmp_path):
    """Per-position targets (token head) through FinetuneData + FinetuneModule with a real Trainer."""
    from types import SimpleNamespace

    import lightning as L

    from genoseq.model.build import build_model
    from genoseq.model.presets import get_preset
    from genoseq.train.datamodules import FinetuneData
    from genoseq.train.finetune_module import FinetuneModule

    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), size=int(n))) for n in rng.integers(12, 20, size=24)]
    labels = np.empty(len(seqs), dtype=object)
    labels[:] = [np.array([1 if b in "GC" else 0 for b in s], dtype=np.int64) for s in seqs]
    split = SimpleNamespace(sequences=seqs, labels=labels)
    cfg = get_preset("hyenadna-tiny").replace(d_model=32, n_layer=1, max_len=32, head="token", n_outputs=2)
    torch.manual_seed(0)
    module = FinetuneModule(build_model(cfg), "token_classification", 2, lr=3e-3, warmup_steps=0, total_steps=30)
    data = FinetuneData({"train": split, "dev": split, "test": split}, batch_size=8, label_pad=-100)
    trainer = L.Trainer(accelerator="cpu", max_steps=30, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
                        val_check_interval=30, check_val_every_n_epoch=None, num_sanity_val_steps=0,
                        default_root_dir=str(tmp_path))
    trainer.fit(module, datamodule=data)
    out = trainer.test(module, datamodule=data, verbose=False)[0]
    assert out["test/acc"] > 0.9  # G/C vs A/T is readable from each position's own embedding
