"""Test metrics for the evaluation harness, computed the same way for every mode and baseline (scikit-learn).

Metric names are lowercase and become ``results.csv`` columns: ``mcc``, ``accuracy``, ``f1`` (macro),
``auroc`` (binary: of the positive class; multiclass: one-vs-rest macro), ``auprc`` (binary only),
``pearson``/``spearman``/``r2`` for regression.
"""

from __future__ import annotations

import math

import numpy as np

from genoseq.errors import ConfigError

CLASSIFICATION_METRICS = ("mcc", "accuracy", "f1", "auroc", "auprc")
REGRESSION_METRICS = ("pearson", "spearman", "r2")
ALL_METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS


def classification_metrics(labels: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Metrics of class probabilities against integer labels.

    Args:
        labels: (N,) class ids in ``0..C-1``.
        probs: (N, C) class probabilities (rows need not sum to 1: any score that ranks works for AUROC;
            the predicted class is the arg-max).

    Returns:
        ``{"mcc", "accuracy", "f1", "auroc", "auprc"}``; ``auprc`` is NaN for more than two classes, and
        AUROC/AUPRC are NaN when the labels hold a single class.
    """
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        f1_score,
        matthews_corrcoef,
        roc_auc_score,
    )

    y = np.asarray(labels)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or y.ndim != 1 or len(y) != len(p):
        raise ConfigError(f"need (N,) labels and (N, C) probabilities; got {y.shape} and {p.shape}")
    if len(y) == 0:
        raise ConfigError("cannot compute metrics on an empty split")
    n_classes = p.shape[1]
    if y.min() < 0 or y.max() >= n_classes:
        raise ConfigError(f"labels must lie in 0..{n_classes - 1} for {n_classes} probability columns")
    pred = p.argmax(axis=1)
    out = {
        "mcc": float(matthews_corrcoef(y, pred)),
        "accuracy": float(accuracy_score(y, pred)),
        "f1": float(f1_score(y, pred, average="macro", labels=list(range(n_classes)), zero_division=0)),
        "auroc": math.nan,
        "auprc": math.nan,
    }
    present = np.unique(y)
    if len(present) < 2:
        return out
    if n_classes == 2:
        out["auroc"] = float(roc_auc_score(y, p[:, 1]))
        out["auprc"] = float(average_precision_score(y, p[:, 1]))
    elif len(present) == n_classes:
        scores = p / np.clip(p.sum(axis=1, keepdims=True), 1e-300, None)
        out["auroc"] = float(roc_auc_score(y, scores, multi_class="ovr", average="macro"))
    return out


def regression_metrics(targets: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Pearson r, Spearman rho and R² of (N,) predictions against (N,) targets."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import r2_score

    t = np.asarray(targets, dtype=np.float64).reshape(-1)
    q = np.asarray(predictions, dtype=np.float64).reshape(-1)
    if len(t) != len(q) or len(t) < 2:
        raise ConfigError(f"need two or more (target, prediction) pairs of equal length; got {len(t)} and {len(q)}")
    constant = np.ptp(t) == 0 or np.ptp(q) == 0
    return {
        "pearson": math.nan if constant else float(pearsonr(t, q)[0]),
        "spearman": math.nan if constant else float(spearmanr(t, q)[0]),
        "r2": float(r2_score(t, q)),
    }
