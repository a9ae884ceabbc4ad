"""Baselines every benchmark table is compared against: ``kmer_lr``, ``cnn`` and ``ncd_knn``.

:func:`run_baseline` fits one baseline on the train split, selects its hyperparameters on the dev split
(the score is one metric of :func:`genoseq.eval.metrics.classification_metrics`, ``select_metric``) and
predicts the test split once with the selected model. Test labels are never read. Classification only.

- ``kmer_lr`` (:mod:`genoseq.eval._kmer`): overlapping k-mer frequencies (k-mers holding a non-ACGT base
  skipped and counted in ``details``), unit-variance scaling, L2 logistic regression; grid over k and C.
  Options: ``ks`` (default 3, 4, 5, 6), ``Cs`` (0.001, 0.01, 0.1, 1), ``max_iter`` (1000).
- ``cnn`` (:mod:`genoseq.eval._cnn`): 3 conv layers x 64 channels on one-hot input (max-pool 2 between),
  global max + mean pool, Adam, early stopping on dev. Options: ``max_epochs`` (30), ``max_seconds`` (90:
  training wall-time budget; when it is what stops training, the epoch count depends on the machine, so
  results are reproducible only with ``max_seconds=None``), ``patience`` (4), ``batch_size`` (128), ``lr``
  (1e-3), ``channels`` (64), ``kernels`` ((9, 7, 5), odd), ``dropout`` (0.2), ``threads`` (1 torch thread;
  None keeps the caller's setting).
- ``ncd_knn`` (:mod:`genoseq.eval._ncd`): k nearest neighbours under the normalised compression distance.
  Options: ``compressor`` (``gzip`` = zlib level 9, ``lzma``, ``bz2``), ``neighbours`` (1, 3, 5, 7, 9),
  ``max_train`` (3000) and ``max_dev`` (2000) stratified seeded subsamples (``None``: all rows). Its cost is
  (dev + test rows) x ``max_train`` compressions: about 8 microseconds each for 100 bp with gzip.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from genoseq.data.tasks import Split
from genoseq.errors import ConfigError
from genoseq.eval._select import SelectionScore
from genoseq.eval.metrics import CLASSIFICATION_METRICS

__all__ = ["BASELINES", "BaselineFit", "run_baseline"]

BASELINES = ("kmer_lr", "cnn", "ncd_knn")


@dataclass
class BaselineFit:
    """What one baseline run returns.

    Attributes:
        probs: (N_test, C) float64 class probabilities for the test split (``ncd_knn``: neighbour vote
            fractions).
        train_seconds: wall time of fitting and dev model selection (test prediction excluded).
        parameters: fitted parameters (``kmer_lr``: coefficients + intercepts of the selected model;
            ``cnn``: network weights; ``ncd_knn``: the number of stored training sequences).
        details: selected hyperparameters, the dev score, and any subsampling.
    """

    probs: np.ndarray
    train_seconds: float
    parameters: int
    details: str


def _fitter(name: str) -> Callable[..., tuple[np.ndarray, float, int, str]]:
    if name == "kmer_lr":
        from genoseq.eval._kmer import fit_kmer_lr

        return fit_kmer_lr
    if name == "cnn":
        from genoseq.eval._cnn import fit_cnn

        return fit_cnn
    from genoseq.eval._ncd import fit_ncd_knn

    return fit_ncd_knn


def _task_kind(name: str, train: Split, n_classes: int, kind: str | None) -> None:
    """ConfigError unless the task is binary or multiclass classification."""
    labels = np.asarray(train.labels)
    if kind is None:
        if labels.ndim != 1:
            kind = f"multilabel or multi-target (labels of shape {labels.shape})"
        elif not np.issubdtype(labels.dtype, np.integer) or n_classes < 2:
            kind = "regression"
    if kind is not None and kind not in ("binary", "multiclass"):
        raise ConfigError(
            f"baseline {name!r} supports classification tasks only (binary or multiclass); "
            f"this task is {kind}"
        )


def _check_labels(split: Split, n_classes: int, name: str) -> np.ndarray:
    labels = np.asarray(split.labels)
    if len(split.sequences) != len(labels):
        raise ConfigError(f"{name} split: {len(split.sequences)} sequences but {len(labels)} labels")
    if len(labels) == 0:
        raise ConfigError(f"{name} split is empty")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ConfigError(f"{name} split: labels must lie in 0..{n_classes - 1}, got {labels.min()}..{labels.max()}")
    return labels.astype(np.int64)


def run_baseline(
    name: str, train: Split, dev: Split, test: Split, n_classes: int, seed: int = 0,
    select_metric: str = "mcc", *, kind: str | None = None, **options: Any,
) -> BaselineFit:
    """Fit baseline ``name`` on ``train``, select it on ``dev``, predict ``test`` once.

    Args:
        name: one of :data:`BASELINES`.
        train, dev, test: splits with (N,) int class ids (test labels are not read).
        n_classes: number of classes C (>= 2); ``probs`` has C columns.
        seed: seeds subsampling, weight init and batch order.
        select_metric: dev metric to maximise (a key of ``classification_metrics``).
        kind: the task kind (``Task.kind``); inferred from the labels when None (2-D -> multilabel,
            float -> regression).
        options: per-baseline options (module docstring); an unknown option is a ConfigError.

    Raises:
        ConfigError: unknown baseline, option or metric; a task that is not classification; labels out
            of range; a train split with a single class.
    """
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")
    _task_kind(name, train, n_classes, kind)
    if select_metric not in CLASSIFICATION_METRICS:
        raise ConfigError(
            f"select_metric must be one of {', '.join(CLASSIFICATION_METRICS)}, got {select_metric!r}"
        )
    train_y = _check_labels(train, n_classes, "train")
    dev_y = _check_labels(dev, n_classes, "dev")
    if len(np.unique(train_y)) < 2:
        raise ConfigError(f"baseline {name!r}: the train split holds a single class")
    fit = _fitter(name)
    accepted = [p for p in inspect.signature(fit).parameters][8:]  # after the common positional ones
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for baseline {name!r}; it accepts {', '.join(accepted)}"
        )
    probs, seconds, parameters, details = fit(
        train.sequences, train_y, dev.sequences, dev_y, test.sequences, n_classes, seed,
        SelectionScore(select_metric), **options,
    )
    return BaselineFit(np.asarray(probs, dtype=np.float64), float(seconds), int(parameters), details)
