"""The harness end to end on hand-built local tasks (tiny model, a few steps)."""

from pathlib import Path

import numpy as np
import pytest

from genoseq.errors import ConfigError, InputError
from genoseq.eval.harness import EvalRequest, evaluate, resolve_model
from genoseq.eval.metrics import classification_metrics

TINY = ["model.config={d_model: 16, n_layer: 1, max_len: 64}", "trainer.max_steps=4", "trainer.val_every_n_steps=2",
        "trainer.checkpoint_every_n_steps=2", "data.batch_size=8", "train.warmup_steps=1"]


def _motif_task(folder: Path, seed: int, splits=("train", "dev", "test"), n=(48, 16, 16)) -> None:
    """Class 1 sequences carry TATAAA; class 0 are random (hand-built, 30 bp)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for split, size in zip(splits, n, strict=False):
        lines = ["sequence,label"]
        for i in range(size):
            seq = "".join(rng.choice(list("ACGT"), 30))
            label = i % 2
            if label:
                seq = seq[:10] + "TATAAA" + seq[16:]
            lines.append(f"{seq},{label}")
        (folder / f"{split}.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture
def tasks(tmp_path):
    _motif_task(tmp_path / "data" / "alpha", 1)
    _motif_task(tmp_path / "data" / "beta", 2, splits=("train", "test"), n=(60, 16))  # no dev split
    return tmp_path / "data"


@pytest.mark.slow
def test_local_suite_rows_metrics_and_resume(tasks, tmp_path, monkeypatch):
    out = tmp_path / "out"
    req = EvalRequest(suite="local", out=out, data_dir=tasks, modes=["finetune", "probe"], baselines=["kmer_lr"],
                      seeds=2, overrides=TINY)
    result = evaluate(req, log=lambda _: None)
    rows = result["rows"]
    # 2 tasks x (2 seeds x (finetune, random-init probe) + kmer_lr once: it does not depend on the seed)
    assert len(rows) == 10
    assert {r["seed"] for r in rows if r["model"] == "kmer_lr"} == {0}
    assert {(r["task"], r["mode"]) for r in rows} == {(t, m) for t in ("alpha", "beta")
                                                      for m in ("finetune", "probe", "baseline")}
    assert {r["model"] for r in rows} == {"hyenadna-tiny-scratch", "kmer_lr"}
    beta = [r for r in rows if r["task"] == "beta"]
    # the task without a dev split holds out a fixed 10% of train (6 of 60) for every model and seed
    assert {(r["n_train"], r["n_dev"], r["n_test"]) for r in beta} == {(54, 6, 16)}
    for name in ("results", "summary", "markdown", "plot"):
        assert Path(result["paths"][name]).is_file()
    header = (out / "results.csv").read_text().splitlines()[0].split(",")
    assert header[:8] == ["suite", "task", "model", "mode", "seed", "mcc", "accuracy", "f1"]

    # a fine-tuning row's metrics are those of the saved best model's test predictions
    from genoseq.data.tasks import read_task
    from genoseq.eval.modes import predict_outputs
    from genoseq.model.io import load_model

    ft = next(r for r in rows if r["task"] == "alpha" and r["mode"] == "finetune" and r["seed"] == 1)
    test = read_task(tasks / "alpha")["test"]
    probs = predict_outputs(load_model(out / "runs" / "alpha" / "hyenadna-tiny-scratch" / "seed1" / "model"),
                            test.sequences, "binary")
    expected = classification_metrics(test.labels, probs)
    assert ft["mcc"] == pytest.approx(expected["mcc"], abs=1e-12)
    assert ft["auroc"] == pytest.approx(expected["auroc"], abs=1e-12)

    # running again keeps every row and trains nothing
    import genoseq.train.run as run_mod

    monkeypatch.setattr(run_mod, "run_finetune", lambda *a, **k: pytest.fail("re-ran a finished row"))
    lines: list[str] = []
    again = evaluate(req, log=lines.append)
    assert len(again["rows"]) == 10 and lines[0].startswith(f"continuing {out / 'results.csv'}: 10 row(s) kept")


def test_probe_on_frozen_features_selects_on_dev(tasks, tmp_path):
    out = tmp_path / "probe"
    res = evaluate(EvalRequest(suite="local", out=out, data_dir=tasks, tasks=["alpha"], modes=["probe"], seeds=1,
                               overrides=TINY), log=lambda _: None)
    (row,) = res["rows"]
    assert row["mode"] == "probe" and row["parameters"] > 0
    assert row["details"].startswith("C=") and "dev mcc" in row["details"]
    assert 0.0 <= row["accuracy"] <= 1.0 and row["n_dev"] == 16


def test_request_errors(tasks, tmp_path):
    def run(**kw):
        base = {"suite": "local", "out": tmp_path / "o", "data_dir": tasks}
        return evaluate(EvalRequest(**{**base, **kw}), log=lambda _: None)

    with pytest.raises(ConfigError, match="no task of suite 'local' defines a zero-shot evaluation"):
        run(modes=["zero-shot"])
    with pytest.raises(ConfigError, match=r"unknown mode\(s\) \['prob'\]"):
        run(modes=["prob"])
    with pytest.raises(ConfigError, match=r"unknown baseline\(s\) \['svm'\]; choose from kmer_lr, cnn, ncd_knn"):
        run(baselines=["svm"])
    with pytest.raises(ConfigError, match="nothing to run"):
        run(modes=[])
    with pytest.raises(InputError, match="unknown task 'gamma' for suite 'local'; its tasks are: alpha, beta"):
        run(tasks=["gamma"])
    with pytest.raises(InputError, match=r"genoseq data fetch gue --dir ~/genoseq-data/gue"):
        evaluate(EvalRequest(suite="gue", out=tmp_path / "g", data_dir=tasks), log=lambda _: None)


def test_resolve_model(tmp_path):
    assert resolve_model(None, "hyenadna-tiny").kind == "recipe"
    assert resolve_model("hyenadna-tiny", None).kind == "preset"
    (tmp_path / "m").mkdir()
    with pytest.raises(ConfigError, match="not a model directory"):
        resolve_model(str(tmp_path / "m"), None)
    (tmp_path / "m" / "config.json").write_text("{}")
    spec = resolve_model(str(tmp_path / "m"), None)
    assert (spec.kind, spec.name, spec.value) == ("dir", "m", str((tmp_path / "m").resolve()))
    (tmp_path / "run" / "model").mkdir(parents=True)
    (tmp_path / "run" / "model" / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path / "run" / "model"), None).name == "run"
    with pytest.raises(ConfigError, match="neither a model directory nor a preset"):
        resolve_model("nope", None)
