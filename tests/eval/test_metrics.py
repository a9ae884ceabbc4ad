import math

import numpy as np
import pytest

from genoseq.errors import ConfigError
from genoseq.eval.metrics import classification_metrics, regression_metrics


def test_binary_metrics_hand_built():
    # predictions: [1, 0, 1, 1] vs labels [1, 0, 0, 1] -> TP 2, TN 1, FP 1, FN 0
    y = np.array([1, 0, 0, 1])
    p1 = np.array([0.9, 0.2, 0.6, 0.7])
    m = classification_metrics(y, np.stack([1 - p1, p1], axis=1))
    assert m["accuracy"] == 0.75
    assert m["mcc"] == pytest.approx((2 * 1 - 1 * 0) / math.sqrt(3 * 2 * 1 * 2))
    # ranking: positives 0.9, 0.7; negatives 0.2, 0.6 -> all 4 pairs ordered right
    assert m["auroc"] == 1.0 and m["auprc"] == 1.0
    # macro F1: class 1 F1 = 2*2/(2*2+1) = 0.8, class 0 F1 = 2*1/(2*1+1) = 2/3
    assert m["f1"] == pytest.approx((0.8 + 2 / 3) / 2)


def test_multiclass_auroc_and_single_class():
    y = np.array([0, 1, 2, 2])
    p = np.eye(3)[[0, 1, 2, 1]]
    m = classification_metrics(y, p)
    assert m["accuracy"] == 0.75 and math.isnan(m["auprc"])
    assert 0.5 < m["auroc"] <= 1.0
    one = classification_metrics(np.array([1, 1]), np.array([[0.2, 0.8], [0.6, 0.4]]))
    assert one["accuracy"] == 0.5 and math.isnan(one["auroc"])


def test_bad_shapes_and_labels():
    with pytest.raises(ConfigError, match="labels must lie in 0..1"):
        classification_metrics(np.array([0, 2]), np.ones((2, 2)))
    with pytest.raises(ConfigError, match=r"\(N, C\)"):
        classification_metrics(np.array([0, 1]), np.ones(2))


def test_regression_metrics():
    m = regression_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 6.0, 8.0]))
    assert m["pearson"] == pytest.approx(1.0) and m["spearman"] == pytest.approx(1.0)
    assert m["r2"] == pytest.approx(1 - (1 + 4 + 9 + 16) / 5.0)
