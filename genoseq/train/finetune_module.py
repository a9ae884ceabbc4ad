"""Fine-tuning module: sequence / token classification (binary, multi-class, multi-label) and regression."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genoseq.train.base_module import BaseModule
from genoseq.train.metrics import build_metrics, metric_inputs


def task_loss(objective: str, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Loss of a task head.

    classification: outputs (B, K), labels (B,) int; token_classification: (B, L, K) / (B, L), -100 ignored;
    multilabel: (B, K) logits / (B, K) {0,1}; regression: (B, T) / (B, T) or (B,);
    token_regression: (B, L, T) / (B, L, T), NaN targets ignored.
    """
    outputs = outputs.float()
    if objective == "classification":
        return F.cross_entropy(outputs, labels.long())
    if objective == "token_classification":
        return F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]), labels.reshape(-1).long(), ignore_index=-100)
    if objective == "multilabel":
        return F.binary_cross_entropy_with_logits(outputs, labels.float())
    if objective == "regression":
        return F.mse_loss(outputs, labels.float().reshape(outputs.shape))
    if objective == "token_regression":
        labels = labels.float().reshape(outputs.shape)
        keep = ~torch.isnan(labels)
        return F.mse_loss(outputs[keep], labels[keep])
    raise ValueError(f"unknown task objective {objective!r}")


class FinetuneModule(BaseModule):
    """Trains a model with a task head. Batches: ``input_ids`` (B, L), ``attention_mask`` (B, L) bool,
    ``labels`` (see :func:`task_loss`).

    Args:
        objective: classification | multilabel | regression | token_classification | token_regression.
        n_outputs: classes / labels / regression targets.
        freeze_backbone: train only the head (backbone ``requires_grad=False``) ...
        unfreeze_at_step: ... until this optimiser step.
        class_names: names of the per-class metrics (token classification: ``f1_<name>``).
    """

    def __init__(self, model: nn.Module, objective: str, n_outputs: int, freeze_backbone: bool = False,
                 unfreeze_at_step: int | None = None, class_names: list[str] | None = None, **optim: Any) -> None:
        super().__init__(model, **optim)
        self.objective = objective
        self.n_outputs = n_outputs
        self.unfreeze_at_step = unfreeze_at_step
        self.val_metrics = build_metrics(objective, n_outputs, class_names).clone(prefix="val/")
        self.test_metrics = build_metrics(objective, n_outputs, class_names).clone(prefix="test/")
        self._frozen = False
        if freeze_backbone:
            self.set_backbone_trainable(False)

    def set_backbone_trainable(self, trainable: bool) -> None:
        backbone = getattr(self.model, "backbone", None)
        if backbone is None:
            raise ValueError("the model has no .backbone to freeze")
        for p in backbone.parameters():
            p.requires_grad_(trainable)
        self._frozen = not trainable

    def before_step(self) -> None:
        if self._frozen and self.unfreeze_at_step is not None and self.global_step >= self.unfreeze_at_step:
            self.set_backbone_trainable(True)
            if self.trainer.is_global_zero:
                print(f"[finetune] backbone unfrozen at step {self.global_step}", flush=True)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(input_ids, attention_mask=attention_mask)

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, Any]]:
        out = self(batch["input_ids"], batch.get("attention_mask"))
        return task_loss(self.objective, out, batch["labels"]), {}

    def _eval_step(self, batch: dict[str, torch.Tensor], metrics: Any, prefix: str) -> None:
        out = self(batch["input_ids"], batch.get("attention_mask"))
        loss = task_loss(self.objective, out, batch["labels"])
        preds, target = metric_inputs(self.objective, out, batch["labels"])
        metrics.update(preds, target)
        self.log(f"{prefix}/loss", loss, on_step=False, on_epoch=True, sync_dist=True,
                 batch_size=batch["input_ids"].shape[0])

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics, "val")

    def on_validation_epoch_end(self) -> None:
        self.log_dict({k: v.float() for k, v in self.val_metrics.compute().items()}, prog_bar=False)
        self.val_metrics.reset()

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, self.test_metrics, "test")

    def on_test_epoch_end(self) -> None:
        self.log_dict({k: v.float() for k, v in self.test_metrics.compute().items()})
        self.test_metrics.reset()

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self(batch["input_ids"], batch.get("attention_mask"))
