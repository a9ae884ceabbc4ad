"""Dev-split model selection helpers shared by the baselines."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from genoseq.eval.metrics import classification_metrics


class SelectionScore:
    """``score(labels (N,), probs (N, C)) -> float``: one metric of :func:`classification_metrics`, the
    quantity every baseline maximises on the dev split. NaN (e.g. AUROC of a one-class dev split) ranks
    below every number."""

    def __init__(self, metric: str) -> None:
        self.metric = metric

    def __call__(self, labels: np.ndarray, probs: np.ndarray) -> float:
        return float(classification_metrics(labels, probs)[self.metric])


def is_better(value: float, best: float) -> bool:
    """Strictly better (ties keep the earlier candidate, i.e. the first in grid order); NaN never wins
    over a number."""
    if math.isnan(value):
        return False
    return math.isnan(best) or value > best


def fill_probs(probs: np.ndarray, classes: Sequence[int], n_classes: int) -> np.ndarray:
    """(N, len(classes)) probabilities of a model that saw only ``classes`` -> (N, n_classes) float64,
    zero for classes absent from the training split."""
    out = np.zeros((len(probs), n_classes), dtype=np.float64)
    out[:, np.asarray(classes, dtype=np.int64)] = probs
    return out


def stratified_subsample(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subsample of ``n`` rows keeping the class proportions (largest
    remainder; every class present keeps at least one row when ``n`` allows). All rows when n >= N."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n / len(labels)
    take = np.floor(quota).astype(np.int64)
    if n >= len(classes):
        take = np.maximum(take, 1)
    order = np.argsort(-(quota - np.floor(quota)), kind="stable")
    i = 0
    while take.sum() < n:  # hand the remaining rows to the largest remainders
        c = order[i % len(order)]
        if take[c] < counts[c]:
            take[c] += 1
        i += 1
    while take.sum() > n:  # the at-least-one rule overshot: trim the biggest classes
        take[np.argmax(take)] -= 1
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:t] for c, t in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(chosen))
