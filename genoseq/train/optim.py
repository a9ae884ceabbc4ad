"""AdamW with parameter groups, and the cosine learning-rate schedule with linear warm-up.

Groups:
- ``decay``: weight matrices of linear / conv layers (weight decay applied);
- ``no_decay``: biases, norm weights, embeddings, any parameter with ``_no_weight_decay = True``
  (Mamba's A_log and D follow that convention);
- ``filter``: Hyena implicit-filter parameters (any parameter whose name contains ``filter``, or that
  sits under a module with ``_genoseq_filter = True``): no weight decay, their own learning rate.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _is_filter(name: str, module_flags: set[str]) -> bool:
    if any("filter" in part for part in name.split(".")):
        return True
    return any(name.startswith(prefix + ".") for prefix in module_flags)


def param_groups(model: nn.Module, lr: float, weight_decay: float, filter_lr: float | None = None
                 ) -> list[dict]:
    """Split ``model``'s trainable parameters into decay / no_decay / filter groups (empty ones dropped).

    Each group dict has ``params``, ``weight_decay``, ``lr``, ``name`` and ``param_names``.
    """
    no_decay_modules = (nn.Embedding, nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d)
    flagged = {n for n, m in model.named_modules() if getattr(m, "_genoseq_filter", False)}
    embed_or_norm: set[str] = set()
    for mname, module in model.named_modules():
        is_norm = isinstance(module, no_decay_modules) or type(module).__name__.lower().endswith("norm")
        if is_norm:
            for pname, _ in module.named_parameters(recurse=False):
                embed_or_norm.add(f"{mname}.{pname}" if mname else pname)
    groups: dict[str, tuple[list, list]] = {"decay": ([], []), "no_decay": ([], []), "filter": ([], [])}
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        if _is_filter(name, flagged):
            key = "filter"
        elif p.ndim < 2 or name in embed_or_norm or getattr(p, "_no_weight_decay", False) or "embed" in name:
            key = "no_decay"
        else:
            key = "decay"
        groups[key][0].append(p)
        groups[key][1].append(name)
    out = []
    for key, (params, names) in groups.items():
        if not params:
            continue
        out.append({
            "params": params,
            "param_names": names,
            "name": key,
            "weight_decay": weight_decay if key == "decay" else 0.0,
            "lr": (filter_lr if filter_lr is not None else lr) if key == "filter" else lr,
        })
    return out


def build_optimizer(model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float] = (0.9, 0.95),
                    eps: float = 1e-8, filter_lr: float | None = None) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` (``param_names`` is kept out of the optimiser state)."""
    groups = param_groups(model, lr, weight_decay, filter_lr)
    for g in groups:
        g.pop("param_names")
    if not groups:
        raise ValueError("the model has no trainable parameters")
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)


class WarmupCosine:
    """LR multiplier: linear warm-up from 0 over ``warmup_steps``, then cosine from 1 to ``min_ratio``
    at ``total_steps`` (constant ``min_ratio`` afterwards). A plain object so LambdaLR saves its state."""

    def __init__(self, warmup_steps: int, total_steps: int, min_ratio: float = 0.1) -> None:
        self.warmup_steps = int(warmup_steps)
        self.total_steps = max(int(total_steps), 1)
        self.min_ratio = float(min_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        span = max(self.total_steps - self.warmup_steps, 1)
        progress = min((step - self.warmup_steps) / span, 1.0)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int,
                    min_ratio: float = 0.1) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR applying :class:`WarmupCosine` to every parameter group (each keeps its own base lr)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupCosine(warmup_steps, total_steps, min_ratio))
