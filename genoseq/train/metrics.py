"""Evaluation metrics (torchmetrics) per objective, and which one picks the best checkpoint.

- classification (2 classes): accuracy, MCC, F1, AUROC, AUPRC (of the positive class);
- classification (> 2 classes): accuracy, MCC, macro F1, macro AUROC, macro AUPRC;
- token classification (per base, any K >= 2): accuracy, MCC, macro F1, per-class F1, binned macro AUROC/AUPRC;
- multilabel: the same, macro over labels;
- regression: Pearson, Spearman (mean over outputs), MSE;
- causal / mlm: perplexity and bits per base are derived from the mean loss in the modules.
"""

from __future__ import annotations

import torch
import torchmetrics
from torchmetrics import classification as C
from torchmetrics import regression as R
from torchmetrics.wrappers import ClasswiseWrapper

# objective -> (default monitor metric, mode)
MONITOR = {
    "causal": ("val/loss", "min"),
    "mlm": ("val/loss", "min"),
    "classification": ("val/mcc", "max"),
    "token_classification": ("val/mcc", "max"),
    "multilabel": ("val/auroc", "max"),
    "regression": ("val/pearson", "max"),
    "token_regression": ("val/pearson", "max"),
}


def monitor_for(objective: str, requested: str = "auto") -> tuple[str, str]:
    """The metric (with its ``val/`` prefix) and mode used to keep the best checkpoint."""
    if requested == "auto":
        return MONITOR[objective]
    name = requested if requested.startswith("val/") else f"val/{requested}"
    mode = "min" if name.split("/")[-1] in ("loss", "mse", "bpb", "perplexity") else "max"
    return name, mode


class _MeanOverOutputs(torchmetrics.Metric):
    """Wrap a per-output regression metric (num_outputs > 1) and report the mean over outputs."""

    def __init__(self, metric: torchmetrics.Metric) -> None:
        super().__init__()
        self.metric = metric

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        self.metric.update(preds, target)

    def compute(self) -> torch.Tensor:
        return self.metric.compute().float().mean()

    def reset(self) -> None:
        self.metric.reset()
        super().reset()


def _token_class_metrics(k: int, class_names: list[str] | None) -> dict[str, torchmetrics.Metric]:
    """Per-base metrics over K >= 2 classes: accuracy, MCC, macro F1, per-class F1 (``f1_<class>``), macro
    AUROC / AUPRC (binned at 200 thresholds: constant memory over millions of bases)."""
    names = list(class_names) if class_names else [str(i) for i in range(k)]
    return {
        "acc": C.MulticlassAccuracy(num_classes=k, average="micro"),
        "mcc": C.MulticlassMatthewsCorrCoef(num_classes=k),
        "f1": C.MulticlassF1Score(num_classes=k, average="macro"),
        "f1_class": ClasswiseWrapper(C.MulticlassF1Score(num_classes=k, average=None), labels=names, prefix="f1_"),
        "auroc": C.MulticlassAUROC(num_classes=k, average="macro", thresholds=200),
        "auprc": C.MulticlassAveragePrecision(num_classes=k, average="macro", thresholds=200),
    }


def build_metrics(objective: str, n_outputs: int, class_names: list[str] | None = None
                  ) -> torchmetrics.MetricCollection:
    """Metrics for a task objective. Update them with :func:`metric_inputs` output. ``class_names`` name the
    per-class F1 of token classification."""
    if objective == "token_classification":
        # no compute groups: the wrapped per-class F1 would share states without being updated itself
        return torchmetrics.MetricCollection(_token_class_metrics(n_outputs, class_names), compute_groups=False)
    if objective == "classification":
        if n_outputs == 2:
            metrics = {
                "acc": C.BinaryAccuracy(),
                "mcc": C.BinaryMatthewsCorrCoef(),
                "f1": C.BinaryF1Score(),
                "auroc": C.BinaryAUROC(),
                "auprc": C.BinaryAveragePrecision(),
            }
        else:
            k = n_outputs
            metrics = {
                "acc": C.MulticlassAccuracy(num_classes=k, average="micro"),
                "mcc": C.MulticlassMatthewsCorrCoef(num_classes=k),
                "f1": C.MulticlassF1Score(num_classes=k, average="macro"),
                "auroc": C.MulticlassAUROC(num_classes=k, average="macro"),
                "auprc": C.MulticlassAveragePrecision(num_classes=k, average="macro"),
            }
    elif objective == "multilabel":
        k = n_outputs
        metrics = {
            "acc": C.MultilabelAccuracy(num_labels=k),
            "mcc": C.MultilabelMatthewsCorrCoef(num_labels=k),
            "f1": C.MultilabelF1Score(num_labels=k, average="macro"),
            "auroc": C.MultilabelAUROC(num_labels=k, average="macro"),
            "auprc": C.MultilabelAveragePrecision(num_labels=k, average="macro"),
        }
    elif objective in ("regression", "token_regression"):
        if n_outputs == 1:
            metrics = {"pearson": R.PearsonCorrCoef(), "spearman": R.SpearmanCorrCoef()}
        else:
            metrics = {
                "pearson": _MeanOverOutputs(R.PearsonCorrCoef(num_outputs=n_outputs)),
                "spearman": _MeanOverOutputs(R.SpearmanCorrCoef(num_outputs=n_outputs)),
            }
        metrics["mse"] = R.MeanSquaredError()
    else:
        raise ValueError(f"no task metrics for objective {objective!r}")
    return torchmetrics.MetricCollection(metrics)


def metric_inputs(objective: str, outputs: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn model outputs and labels into (preds, target) for :func:`build_metrics`.

    classification: outputs (N, K) logits, labels (N,) -> probabilities of class 1 (K == 2) or (N, K);
    token_classification: outputs (B, L, K), labels (B, L) with -100 ignored -> flattened valid positions;
    multilabel: outputs (N, K) logits, labels (N, K) in {0, 1} -> sigmoid probabilities, int labels;
    regression: outputs (N, T), labels (N, T) -> squeezed when T == 1; token_regression flattens (B, L).
    """
    outputs = outputs.detach().float()
    if objective == "token_classification":  # (B, L, K) -> (N, K) probabilities of the scored positions
        keep = labels.reshape(-1) >= 0
        outputs = outputs.reshape(-1, outputs.shape[-1])[keep]
        return outputs.softmax(-1), labels.reshape(-1)[keep].long()
    if objective == "classification":
        probs = outputs.softmax(-1)
        return (probs[:, 1] if probs.shape[-1] == 2 else probs), labels.long()
    if objective == "multilabel":
        return outputs.sigmoid(), labels.long()
    if objective == "token_regression":
        labels = labels.float().reshape(outputs.shape)  # (B, L) or (B, L, T) -> (B, L, T)
        outputs = outputs.reshape(-1, outputs.shape[-1])
        labels = labels.reshape(-1, labels.shape[-1])
        keep = ~torch.isnan(labels).any(-1)
        outputs, labels = outputs[keep], labels[keep]
    labels = labels.float()
    if outputs.shape[-1] == 1:
        return outputs.reshape(-1), labels.reshape(-1)
    return outputs, labels
