"""The model modes of the harness: full fine-tuning and the frozen-embedding linear probe.

Both select on the dev split and predict the test split exactly once; metrics come from
:mod:`genoseq.eval.metrics`, the same code that scores the baselines.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genoseq.errors import ConfigError
from genoseq.eval.metrics import classification_metrics, regression_metrics

PROBE_C = (1e-3, 1e-2, 1e-1, 1.0, 10.0)  # inverse L2 strengths tried on dev (logistic regression)
PROBE_ALPHA = (1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)  # ridge strengths tried on dev (regression)


@dataclass
class ModeResult:
    """Test metrics of one (task, model, mode, seed) run."""

    metrics: dict[str, float]
    train_seconds: float
    parameters: int
    details: str


def test_metrics(kind: str, labels: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
    """Metrics of (N, C) class probabilities (classification) or (N,) predictions (regression)."""
    if kind in ("binary", "multiclass"):
        return classification_metrics(labels, outputs)
    if kind == "regression":
        return regression_metrics(labels, outputs)
    raise ConfigError(f"the harness scores binary, multiclass and regression tasks; this task is {kind}")


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (shared tensors once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


@torch.inference_mode()
def predict_outputs(model: torch.nn.Module, sequences: list[str], kind: str, max_len: int | None = None,
                    batch_size: int = 64) -> np.ndarray:
    """A fine-tuned sequence head's test outputs: (N, C) softmax probabilities, or (N,) regression values."""
    from genoseq.train.datasets import TaskSequences, collate

    model.eval()
    data = TaskSequences(sequences, None, max_len=max_len)
    order = sorted(range(len(data)), key=lambda i: len(data.ids[i]))  # similar lengths share a batch
    out: list[np.ndarray | None] = [None] * len(data)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = collate([data[i] for i in idx])
        logits = model(batch["input_ids"], attention_mask=batch["attention_mask"]).float()  # (B, C)
        values = torch.softmax(logits, dim=-1) if kind != "regression" else logits[:, 0]
        for i, v in zip(idx, values.numpy().astype(np.float64), strict=True):
            out[i] = v
    return np.stack(out)


def run_finetune_mode(recipe: Any, run_dir: Path, kind: str, test_split: Any, max_len: int | None) -> ModeResult:
    """Fine-tune with ``recipe`` into ``run_dir`` (reused when it finished before, resumed when it was
    interrupted), then score the best-on-dev model's test predictions."""
    from genoseq.model.io import load_model
    from genoseq.train.run import run_finetune

    done = run_dir / "results.json"
    if not done.is_file():
        resume = (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").glob("*.ckpt"))
        run_finetune(recipe, run_dir, resume=resume)
    results = json.loads(done.read_text())
    model = load_model(run_dir / "model")
    outputs = predict_outputs(model, test_split.sequences, kind, max_len=max_len)
    best = results.get("best") or {}
    details = (f"{results.get('steps')} steps, best dev {best.get('metric')} {best.get('value')}, "
               f"run {run_dir}")
    return ModeResult(test_metrics(kind, test_split.labels, outputs), float(results.get("wall_seconds", 0.0)),
                      count_parameters(model), details)


def embed_splits(model: torch.nn.Module, splits: dict[str, Any], batch_size: int = 64
                 ) -> tuple[dict[str, np.ndarray], float]:
    """Mean-pooled final-layer embeddings, averaged over both strands, of train/dev/test: {split: (N, D)}."""
    from genoseq.infer.embed import embed

    t0 = time.perf_counter()
    out = {name: embed(model, list(splits[name].sequences), pooling="mean", rc_average=True,
                       batch_size=batch_size).array.astype(np.float64)
           for name in ("train", "dev", "test")}
    return out, time.perf_counter() - t0


def run_probe_mode(features: dict[str, np.ndarray], splits: dict[str, Any], kind: str, n_classes: int,
                   select_metric: str, parameters: int, embed_seconds: float) -> ModeResult:
    """Linear probe on frozen embeddings: standardised features, L2 logistic regression (ridge for
    regression) with its strength chosen on dev by ``select_metric``; the test split is predicted once."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    t0 = time.perf_counter()
    ytr, ydev = splits["train"].labels, splits["dev"].labels
    regression = kind == "regression"
    if regression:
        ytr, ydev = ytr.reshape(len(ytr), -1)[:, 0], ydev.reshape(len(ydev), -1)[:, 0]
    best: tuple[float, float, Any] | None = None
    for strength in PROBE_ALPHA if regression else PROBE_C:
        est = Ridge(alpha=strength) if regression else LogisticRegression(C=strength, max_iter=3000)
        pipe = make_pipeline(StandardScaler(), est).fit(features["train"], ytr)
        dev_out = pipe.predict(features["dev"]) if regression else _class_probs(pipe, features["dev"], n_classes)
        score = test_metrics(kind, ydev, dev_out)[select_metric]
        if best is None or (np.isfinite(score) and (not np.isfinite(best[0]) or score > best[0])):
            best = (score, strength, pipe)
    score, strength, pipe = best
    test_out = pipe.predict(features["test"]) if regression else _class_probs(pipe, features["test"], n_classes)
    ytest = splits["test"].labels.reshape(len(splits["test"]), -1)[:, 0] if regression else splits["test"].labels
    fit_seconds = time.perf_counter() - t0
    name = "alpha" if regression else "C"
    details = (f"{name}={strength:g} (dev {select_metric} {score:.4f}); embeddings {embed_seconds:.1f} s, "
               f"probe fit {fit_seconds:.1f} s; frozen backbone, mean-pooled, both strands averaged")
    return ModeResult(test_metrics(kind, ytest, test_out), embed_seconds + fit_seconds, parameters, details)


def _class_probs(pipe: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    """(N, C) probabilities over all classes of the task (a class absent from train gets 0)."""
    probs = np.zeros((len(X), n_classes))
    probs[:, pipe.classes_] = pipe.predict_proba(X)
    return probs
