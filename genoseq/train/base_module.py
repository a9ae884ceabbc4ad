"""The optimisation loop shared by pretraining and fine-tuning (Lightning manual optimisation).

Manual optimisation lets one place own accumulation, clipping, skipping of non-finite steps and the
scheduler, so a skipped step never touches the optimiser or the schedule, and the count of consumed
batches (the data stream position) is saved with every checkpoint together with the RNG state.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn

from genoseq.train.optim import build_optimizer, build_scheduler


class BaseModule(L.LightningModule):
    """Wraps a genoseq model; subclasses implement ``compute_loss(batch) -> (loss, extras)``.

    Args:
        model: a ``GenoseqModel`` (or any nn.Module with the same call signature).
        lr, filter_lr, weight_decay, betas, eps: AdamW settings (see :mod:`genoseq.train.optim`).
        warmup_steps, total_steps, min_lr_ratio: cosine schedule.
        grad_clip: max global gradient norm (None: no clipping).
        accumulate: batches per optimiser step.
    """

    def __init__(self, model: nn.Module, *, lr: float, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.95),
                 eps: float = 1e-8, filter_lr: float | None = None, warmup_steps: int = 0, total_steps: int = 1000,
                 min_lr_ratio: float = 0.1, grad_clip: float | None = 1.0, accumulate: int = 1) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.model = model
        self.opt_cfg = {"lr": lr, "weight_decay": weight_decay, "betas": tuple(betas), "eps": eps,
                        "filter_lr": filter_lr}
        self.sched_cfg = {"warmup_steps": warmup_steps, "total_steps": total_steps, "min_ratio": min_lr_ratio}
        self.grad_clip = grad_clip
        self.accumulate = accumulate
        self.batches_seen = 0  # data stream position in batches (saved in checkpoints)
        self._accum = 0
        self._loss_sum = 0.0
        self._pending_rng: torch.Tensor | None = None
        self.guard: Any = None  # NonFiniteGuard, set by run.py
        self.last_val_step: int | None = None  # global step of the latest validation

    # ------------------------------------------------------------------ hooks for subclasses
    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, Any]]:
        raise NotImplementedError

    def before_step(self) -> None:
        """Called before every training batch (e.g. to unfreeze the backbone)."""

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self) -> Any:
        opt = build_optimizer(self.model, **self.opt_cfg)
        sched = build_scheduler(opt, self.sched_cfg["warmup_steps"], self.sched_cfg["total_steps"],
                                self.sched_cfg["min_ratio"])
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def _all_finite(self, ok: bool) -> bool:
        if self.trainer.world_size > 1:
            return bool(self.trainer.strategy.reduce_boolean_decision(ok, all=True))
        return ok

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.batches_seen += 1
        self.before_step()
        opt = self.optimizers()
        sched = self.lr_schedulers()
        loss, extras = self.compute_loss(batch)
        finite = self._all_finite(bool(torch.isfinite(loss.detach()).item()))
        if not finite:
            self._skip(opt)
            return
        self.manual_backward(loss / self.accumulate)
        self._accum += 1
        self._loss_sum += float(loss.detach())
        if self._accum < self.accumulate:
            return
        mean_loss = self._loss_sum / self.accumulate
        self._accum, self._loss_sum = 0, 0.0
        params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
        max_norm = self.grad_clip if self.grad_clip is not None else float("inf")
        wrapped = getattr(self.trainer.strategy, "model", None)
        if hasattr(wrapped, "clip_grad_norm_"):  # FSDP: the norm over all shards
            norm = wrapped.clip_grad_norm_(max_norm)
        else:
            norm = torch.nn.utils.clip_grad_norm_(params, max_norm) if params else torch.zeros(())
        if not self._all_finite(bool(torch.isfinite(norm).item())):
            self._skip(opt)
            return
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if self.guard is not None:
            self.guard.report(self.trainer, True)
        self.log("train/loss", mean_loss, on_step=True, on_epoch=False, prog_bar=True, sync_dist=True)
        self.log("train/lr", sched.get_last_lr()[0], on_step=True, on_epoch=False)
        self.log("train/grad_norm", norm.detach().float(), on_step=True, on_epoch=False)
        for key, value in extras.items():
            self.log(f"train/{key}", value, on_step=True, on_epoch=False, sync_dist=True)

    def _skip(self, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        self._accum, self._loss_sum = 0, 0.0
        if self.guard is not None:
            self.guard.report(self.trainer, False)

    def on_validation_end(self) -> None:
        self.last_val_step = int(self.trainer.global_step)

    # ------------------------------------------------------------------ exact resume
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["genoseq"] = {"batches_seen": self.batches_seen, "torch_rng": torch.get_rng_state()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("genoseq", {})
        self.batches_seen = int(state.get("batches_seen", 0))
        self._pending_rng = state.get("torch_rng")

    def on_train_start(self) -> None:
        if self._pending_rng is not None:
            torch.set_rng_state(self._pending_rng)
            self._pending_rng = None
