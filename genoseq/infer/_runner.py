"""Small helpers to run a model on token arrays: device, batching by length, log-probabilities."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np
import torch

from genoseq.errors import ConfigError

T = TypeVar("T")


def model_device(model: torch.nn.Module) -> torch.device:
    """Device of the model's first parameter (CPU for a parameter-free model)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def as_ids(arrays: Sequence[np.ndarray], device: torch.device) -> torch.Tensor:
    """Stack equal-length uint8 id arrays into a (B, L) LongTensor on ``device``."""
    return torch.from_numpy(np.stack(arrays).astype(np.int64)).to(device)


def buckets(items: Iterable[T], key) -> dict[Hashable, list[T]]:  # noqa: ANN001
    """Group items by ``key(item)`` keeping first-seen order."""
    out: dict[Hashable, list[T]] = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for i in range(0, len(items), max(1, size)):
        yield items[i : i + size]


def per_batch(budget: tuple[int, int], rows_per_item: int, length: int) -> int:
    """Items per forward pass so that rows <= batch_size and rows x length <= max_tokens (at least 1)."""
    batch_size, max_tokens = budget
    rows = max(1, min(batch_size, max_tokens // max(1, length)))
    return max(1, rows // max(1, rows_per_item))


def is_causal(model: torch.nn.Module) -> bool:
    """True for a causal LM (not bidirectional)."""
    cfg = getattr(model, "config", None)
    return not bool(getattr(cfg, "bidirectional", False))


def require_causal(model: torch.nn.Module, what: str) -> None:
    """ConfigError unless ``model`` is a causal LM with an LM head."""
    if not is_causal(model):
        raise ConfigError(f"{what} needs a causal language model; this model is bidirectional (use masked_llr)")
    if getattr(model, "head_type", "lm") != "lm":
        raise ConfigError(f"{what} needs a model with an LM head; this model has a {model.head_type!r} head")


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[target]: (..., V), (...) -> (...) float64."""
    lp = torch.log_softmax(logits.double(), dim=-1)
    return lp.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1)
