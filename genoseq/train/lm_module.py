"""Pretraining module: causal next-token or masked-LM loss; perplexity and bits per base."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genoseq.train.base_module import BaseModule
from genoseq.train.objectives import bits_per_base, causal_lm_loss, masked_lm_loss, perplexity


class LMModule(BaseModule):
    """Language-model pretraining of a model with an LM head.

    Batches: ``input_ids`` (B, L) int64, ``soft_mask`` (B, L) bool, and for ``objective="mlm"``
    ``labels`` (B, L) int64 (original id at masked positions, -100 elsewhere).
    Validation logs ``val/loss`` (nats per target base, weighted mean over the whole split),
    ``val/perplexity`` and ``val/bpb``.
    """

    def __init__(self, model: nn.Module, objective: str = "causal", exclude_n: bool = True,
                 soft_mask_weight: float = 1.0, **optim: Any) -> None:
        super().__init__(model, **optim)
        if objective not in ("causal", "mlm"):
            raise ValueError(f"objective must be causal or mlm, got {objective!r}")
        self.objective = objective
        self.exclude_n = exclude_n
        self.soft_mask_weight = soft_mask_weight
        self._val_sum = 0.0
        self._val_weight = 0.0

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids)  # (B, L, V)

    def _loss(self, batch: dict[str, torch.Tensor], soft_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["input_ids"])
        if self.objective == "causal":
            return causal_lm_loss(logits, batch["input_ids"], batch.get("soft_mask"), self.exclude_n, soft_weight)
        return masked_lm_loss(logits, batch["labels"], batch.get("soft_mask"), soft_weight)

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, Any]]:
        loss, _ = self._loss(batch, self.soft_mask_weight)
        return loss, {}

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        # unweighted by soft-masking, so validation numbers compare across recipes
        loss, weight = self._loss(batch, 1.0)
        self._val_sum += float(loss) * float(weight)
        self._val_weight += float(weight)

    def on_validation_epoch_start(self) -> None:
        self._val_sum, self._val_weight = 0.0, 0.0

    def on_validation_epoch_end(self) -> None:
        totals = torch.tensor([self._val_sum, self._val_weight], dtype=torch.float64, device=self.device)
        if self.trainer.world_size > 1:
            totals = self.trainer.strategy.reduce(totals, reduce_op="sum")
        loss = float(totals[0] / totals[1].clamp_min(1e-8))
        self.log("val/loss", loss, sync_dist=False, prog_bar=True)
        self.log("val/perplexity", perplexity(loss))
        self.log("val/bpb", bits_per_base(loss))

    test_step = validation_step

    def on_test_epoch_start(self) -> None:
        self.on_validation_epoch_start()

    def on_test_epoch_end(self) -> None:
        totals = torch.tensor([self._val_sum, self._val_weight], dtype=torch.float64, device=self.device)
        if self.trainer.world_size > 1:
            totals = self.trainer.strategy.reduce(totals, reduce_op="sum")
        loss = float(totals[0] / totals[1].clamp_min(1e-8))
        self.log("test/loss", loss)
        self.log("test/perplexity", perplexity(loss))
        self.log("test/bpb", bits_per_base(loss))
