"""Linear probes: turn embeddings of a labelled task into a test metric (scikit-learn).

Example::

    emb = genoseq.embed(model, "tasks/gue_mouse_2")     # labels and splits kept
    linear_probe(emb)  # {'task': 'classification', 'mcc': ..., 'accuracy': ..., 'auroc': ..., ...}

Classification uses L2 logistic regression on standardised features (C chosen by stratified k-fold
CV on the training rows, log-loss) and reports MCC, accuracy and AUROC (one-vs-rest macro for more than two classes);
regression uses ``RidgeCV`` and reports Pearson r and R². With ``train``/``test`` splits the probe is
fitted on train (+ valid) and scored on test; without splits the metrics are computed on
out-of-fold predictions of a k-fold cross-validation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genoseq.errors import ConfigError


def linear_probe(
    embeddings: Any,
    labels: np.ndarray | None = None,
    splits: list[str] | None = None,
    task: str | None = None,
    cv: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit a cross-validated linear model on embeddings and report test metrics.

    Args:
        embeddings: an :class:`~genoseq.infer.embed.Embeddings` (labels and splits taken from it) or an
            (N, D) array.
        labels: (N,) labels (class ids or floats) when ``embeddings`` is an array.
        splits: per-row split names; rows in ``test`` are held out, the rest train the probe.
        task: ``classification`` or ``regression`` (default: integer labels -> classification).
        cv: folds for choosing the regularisation (and for out-of-fold metrics without a test split).
        seed: random seed for fold assignment.

    Returns:
        ``{"task", "n_train", "n_test", <metrics>}``.
    """
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(getattr(embeddings, "array", embeddings), dtype=np.float64)
    y = np.asarray(labels if labels is not None else getattr(embeddings, "labels", None))
    if splits is None:
        splits = getattr(embeddings, "splits", None)
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        raise ConfigError(f"need (N, D) embeddings and (N,) labels; got {X.shape} and {y.shape}")
    if task is None:
        task = "classification" if np.issubdtype(y.dtype, np.integer) else "regression"
    if task not in ("classification", "regression"):
        raise ConfigError(f"task must be classification or regression, got {task!r}")
    classify = task == "classification"
    if classify:
        folds = StratifiedKFold(cv, shuffle=True, random_state=seed)
        pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        model = GridSearchCV(pipe, {"logisticregression__C": np.logspace(-3, 2, 6)}, cv=folds, scoring="neg_log_loss")
    else:
        folds = KFold(cv, shuffle=True, random_state=seed)
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 4, 15)))
    test = np.array([s == "test" for s in splits]) if splits is not None else np.zeros(len(y), bool)
    if test.any() and (~test).any():
        model.fit(X[~test], y[~test])
        y_true = y[test]
        pred = model.predict_proba(X[test]) if classify else model.predict(X[test])
        n_train, n_test = int((~test).sum()), int(test.sum())
    else:
        method = "predict_proba" if classify else "predict"
        pred = cross_val_predict(model, X, y, cv=folds, method=method)
        y_true, n_train, n_test = y, len(y), len(y)
    metrics = _classification_metrics(y_true, pred, model) if classify else _regression_metrics(y_true, pred)
    return {"task": task, "n_train": n_train, "n_test": n_test, **metrics}


def _classification_metrics(y: np.ndarray, proba: np.ndarray, model: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, matthews_corrcoef, roc_auc_score

    classes = getattr(model, "classes_", None)
    classes = np.unique(y) if classes is None or len(classes) != proba.shape[1] else classes
    pred = np.asarray(classes)[proba.argmax(1)]
    out = {"mcc": float(matthews_corrcoef(y, pred)), "accuracy": float(accuracy_score(y, pred))}
    try:
        if proba.shape[1] == 2:
            out["auroc"] = float(roc_auc_score(y == classes[1], proba[:, 1]))
        else:
            out["auroc"] = float(roc_auc_score(y, proba, multi_class="ovr", labels=classes))
    except ValueError:  # a class absent from the test rows
        out["auroc"] = float("nan")
    return out


def _regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import r2_score

    y, pred = y.astype(np.float64), np.asarray(pred, dtype=np.float64)
    r = float(np.corrcoef(y, pred)[0, 1]) if y.std() > 0 and pred.std() > 0 else float("nan")
    return {"pearson": r, "r2": float(r2_score(y, pred))}
