"""Pretraining objectives: causal next-token and masked-LM targets and the weighted loss.

Targets follow three rules: PAD and special tokens are never targets; N positions are excluded
by default (``exclude_n``); soft-masked (lowercase, usually repeat) positions can be down-weighted
(``soft_mask_weight`` in [0, 1]). Masking for the masked-LM objective is done in numpy inside the
datasets with a generator seeded per example, so a resumed run draws exactly the same masks.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from genoseq.tokenizer import A_ID, MASK_ID, N_ID, T_ID

IGNORE = -100
BASE_IDS = np.arange(A_ID, T_ID + 1)  # A C G T


def target_weights(ids: torch.Tensor, soft_mask: torch.Tensor | None, exclude_n: bool,
                   soft_mask_weight: float) -> torch.Tensor:
    """Per-position loss weight of ``ids`` as targets. (B, L) -> (B, L) float.

    1 for A/C/G/T, ``soft_mask_weight`` for soft-masked bases, 0 for PAD/specials (and N if excluded).
    """
    upper = N_ID if not exclude_n else T_ID
    w = ((ids >= A_ID) & (ids <= upper)).float()
    if soft_mask is not None and soft_mask_weight != 1.0:
        w = torch.where(soft_mask.bool(), w * soft_mask_weight, w)
    return w


def causal_lm_loss(logits: torch.Tensor, ids: torch.Tensor, soft_mask: torch.Tensor | None = None,
                   exclude_n: bool = True, soft_mask_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token loss: logits at t predict ids at t+1.

    Args:
        logits: (B, L, V) float.
        ids: (B, L) int64 input ids (also the targets, shifted by one).
        soft_mask: (B, L) bool, True where the base was lowercase, or None.
    Returns:
        (mean loss in nats over the weighted targets, total weight) — the weight is 0 when no position
        is a target, in which case the loss is 0 (with a graph).
    """
    tgt = ids[:, 1:]  # (B, L-1)
    sm = soft_mask[:, 1:] if soft_mask is not None else None
    w = target_weights(tgt, sm, exclude_n, soft_mask_weight)
    return weighted_ce(logits[:, :-1], tgt, w)


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor, soft_mask: torch.Tensor | None = None,
                   soft_mask_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked-LM loss over positions where ``labels != IGNORE``. logits (B, L, V), labels (B, L)."""
    w = (labels != IGNORE).float()
    if soft_mask is not None and soft_mask_weight != 1.0:
        w = torch.where(soft_mask.bool(), w * soft_mask_weight, w)
    return weighted_ce(logits, labels.clamp_min(0), w)


def weighted_ce(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sum(w * CE) / sum(w), computed in float32. logits (..., V), targets/weights (...)."""
    ce = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    w = weights.reshape(-1).to(ce.dtype)
    total = w.sum()
    loss = (ce * w).sum() / total.clamp_min(1e-8)
    return loss, total.detach()


def mask_tokens(ids: np.ndarray, rng: np.random.Generator, mask_prob: float = 0.15,
                exclude_n: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """BERT masking on bases only: select ``mask_prob`` of the A/C/G/T positions (and N if not
    ``exclude_n``); of those 80% become [MASK], 10% a random base, 10% stay. (L,) -> inputs, labels.

    Labels hold the original id at selected positions and ``IGNORE`` (-100) elsewhere.
    """
    ids = np.asarray(ids)
    upper = T_ID if exclude_n else N_ID
    eligible = (ids >= A_ID) & (ids <= upper)
    u = rng.random(ids.shape)
    selected = eligible & (u < mask_prob)
    labels = np.where(selected, ids.astype(np.int64), IGNORE)
    action = rng.random(ids.shape)
    random_base = rng.integers(A_ID, T_ID + 1, size=ids.shape)
    inputs = ids.astype(np.int64).copy()
    inputs[selected & (action < 0.8)] = MASK_ID
    swap = selected & (action >= 0.8) & (action < 0.9)
    inputs[swap] = random_base[swap]
    return inputs, labels


def bits_per_base(loss_nats: float) -> float:
    """Convert a mean cross-entropy in nats to bits per base."""
    return loss_nats / math.log(2.0)


def perplexity(loss_nats: float) -> float:
    """exp(mean cross-entropy), capped to avoid overflow."""
    return math.exp(min(loss_nats, 50.0))
