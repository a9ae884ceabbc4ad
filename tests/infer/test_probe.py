"""Linear probe metrics on synthetic embeddings with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from genoseq.errors import ConfigError
from genoseq.infer.embed import Embeddings
from genoseq.infer.probe import linear_probe


def test_separable_classification_with_test_split():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 60)
    X = rng.normal(size=(120, 5))
    X[:, 0] += 6 * y  # linearly separable on the first axis
    splits = ["train"] * 40 + ["test"] * 20 + ["train"] * 40 + ["test"] * 20
    emb = Embeddings([str(i) for i in range(120)], X.astype(np.float32), np.ones(120, int), labels=y, splits=splits)
    res = linear_probe(emb)
    assert res["task"] == "classification" and res["n_test"] == 40 and res["n_train"] == 80
    assert res["mcc"] == 1.0 and res["accuracy"] == 1.0 and res["auroc"] == 1.0


def test_random_labels_give_chance():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(150, 4)), rng.integers(0, 3, 150)
    res = linear_probe(X, y, cv=3)
    assert res["n_test"] == 150 and abs(res["mcc"]) < 0.2 and 0.35 < res["auroc"] < 0.65


def test_regression_cv():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.normal(size=150)
    res = linear_probe(X, y)
    assert res["task"] == "regression"
    assert res["pearson"] > 0.999 and res["r2"] > 0.999


def test_shape_errors():
    with pytest.raises(ConfigError, match="labels"):
        linear_probe(np.zeros((3, 2)), np.zeros(4))
