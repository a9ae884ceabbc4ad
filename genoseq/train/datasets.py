"""Map-style datasets keyed by ``(index, position, seq_len)`` (see :mod:`genoseq.train.sampling`).

Every random choice of an example (window, strand, masked positions) comes from a numpy generator
seeded with ``(seed, position)``, so the example at a stream position never depends on worker
processes, on earlier examples or on whether the run was resumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from genoseq.tokenizer import N_ID, PAD_ID, Tokenizer
from genoseq.train.objectives import IGNORE, mask_tokens

Key = tuple[int, int, int]


@dataclass(frozen=True)
class Region:
    """A 0-based half-open genome region windows are drawn from."""

    contig: str
    start: int
    end: int


def _rng(seed: int, position: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, position, salt])


def _lm_item(ids: np.ndarray, soft: np.ndarray | None, objective: str, rng: np.random.Generator,
             mask_prob: float, exclude_n: bool) -> dict[str, np.ndarray]:
    item: dict[str, np.ndarray] = {"input_ids": ids.astype(np.int64)}
    if soft is not None:
        item["soft_mask"] = soft.astype(bool)
    if objective == "mlm":
        item["input_ids"], item["labels"] = mask_tokens(ids, rng, mask_prob, exclude_n)
    return item


class GenomeWindows(Dataset):
    """Windows of a genome for pretraining.

    Training keys (index -1) draw a random window of ``seq_len`` from ``regions`` (probability
    proportional to the region's length; windows that are more than half N/pad are redrawn up to 8
    times) on a random strand when ``rc_augment``. Evaluation keys (index >= 0) read the fixed window
    ``fixed[index]`` on the + strand.

    Args:
        genome: a :class:`genoseq.Genome` (pickled without file handles into workers).
        regions: where training windows come from.
        fixed: evaluation windows (contig, start, end).
        objective: "causal" or "mlm" (adds ``labels``).
    """

    def __init__(self, genome: Any, regions: Sequence[Region], fixed: Sequence[Region] = (), seed: int = 0,
                 rc_augment: bool = True, objective: str = "causal", mask_prob: float = 0.15,
                 exclude_n: bool = True) -> None:
        self.genome = genome
        self.regions = list(regions)
        self.fixed = list(fixed)
        self.seed = seed
        self.rc_augment = rc_augment
        self.objective = objective
        self.mask_prob = mask_prob
        self.exclude_n = exclude_n
        lengths = np.array([max(r.end - r.start, 1) for r in self.regions], dtype=np.float64)
        self._cum = np.cumsum(lengths) / lengths.sum() if len(lengths) else np.zeros(0)

    def __len__(self) -> int:
        return len(self.fixed)

    def _window(self, rng: np.random.Generator, seq_len: int) -> tuple[Region, str]:
        r = self.regions[min(int(np.searchsorted(self._cum, rng.random(), side="right")), len(self.regions) - 1)]
        span = max(r.end - r.start - seq_len, 0)
        start = r.start + int(rng.integers(0, span + 1))
        strand = "-" if self.rc_augment and rng.random() < 0.5 else "+"
        return Region(r.contig, start, start + seq_len), strand

    def __getitem__(self, key: Key) -> dict[str, np.ndarray]:
        index, position, seq_len = key
        if index >= 0:
            w, strand = self.fixed[index], "+"
            rng = _rng(self.seed + 1, index, 2)
        else:
            rng = _rng(self.seed, position, 1)
            for _ in range(8):
                w, strand = self._window(rng, seq_len)
                ids = self.genome.tokens(w.contig, w.start, w.end, strand=strand, pad=True)
                if np.count_nonzero((ids == N_ID) | (ids == PAD_ID)) <= len(ids) // 2:
                    break
        ids, soft = self.genome.tokens(w.contig, w.start, w.end, strand=strand, pad=True, return_soft_mask=True)
        return _lm_item(np.asarray(ids), np.asarray(soft), self.objective, rng, self.mask_prob, self.exclude_n)


class TaskSequences(Dataset):
    """Labelled sequences of one task split (fine-tuning), or unlabelled ones for self-pretraining.

    Keys: ``(index, position, seq_len)``; ``index`` picks the sequence, ``position`` seeds the
    reverse-complement coin (``rc_augment``, training only) and the masks (``objective="mlm"``).

    Args:
        sequences: DNA strings.
        labels: (N,) or (N, K) array, or None for language-model objectives.
        max_len: truncate longer sequences (keep the first ``max_len`` bases).
        objective: "task", "causal" or "mlm".
    """

    def __init__(self, sequences: Sequence[str], labels: np.ndarray | None, max_len: int | None = None,
                 rc_augment: bool = False, seed: int = 0, objective: str = "task", mask_prob: float = 0.15,
                 exclude_n: bool = True) -> None:
        tok = Tokenizer()
        self.ids = [tok.encode(s[:max_len] if max_len else s, unknown_to_n=True) for s in sequences]
        self.labels = labels
        self.rc_augment = rc_augment
        self.seed = seed
        self.objective = objective
        self.mask_prob = mask_prob
        self.exclude_n = exclude_n

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key: Key | int) -> dict[str, np.ndarray]:
        index, position, _ = key if isinstance(key, tuple) else (key, key, 0)
        ids = self.ids[index]
        rng = _rng(self.seed, position, 3)
        if self.rc_augment and rng.random() < 0.5:
            ids = Tokenizer.reverse_complement(ids)
        if self.objective != "task":
            return _lm_item(np.asarray(ids), None, self.objective, rng, self.mask_prob, self.exclude_n)
        item = {"input_ids": np.asarray(ids, dtype=np.int64)}
        if self.labels is not None:
            item["labels"] = np.asarray(self.labels[index])
        return item


def collate(items: list[dict[str, np.ndarray]], label_pad: float | None = None) -> dict[str, torch.Tensor]:
    """Right-pad to the longest item: ``input_ids`` with PAD (0), ``soft_mask`` with False; adds
    ``attention_mask`` (B, L) bool. ``labels`` are stacked (sequence-level, ``label_pad=None``) or
    right-padded per position with ``label_pad`` (-100 for LM / token classes, NaN for token regression).
    """
    length = max(len(it["input_ids"]) for it in items)
    batch = len(items)
    ids = np.full((batch, length), PAD_ID, dtype=np.int64)
    attn = np.zeros((batch, length), dtype=bool)
    for i, it in enumerate(items):
        n = len(it["input_ids"])
        ids[i, :n] = it["input_ids"]
        attn[i, :n] = True
    out = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(attn)}
    if "soft_mask" in items[0]:
        soft = np.zeros((batch, length), dtype=bool)
        for i, it in enumerate(items):
            soft[i, : len(it["soft_mask"])] = it["soft_mask"]
        out["soft_mask"] = torch.from_numpy(soft)
    if "labels" in items[0]:
        if label_pad is None:
            out["labels"] = torch.from_numpy(np.stack([np.asarray(it["labels"]) for it in items]))
        else:
            first = np.asarray(items[0]["labels"])
            lab = np.full((batch, length, *first.shape[1:]), label_pad, dtype=first.dtype)
            for i, it in enumerate(items):
                lab[i, : len(it["labels"])] = it["labels"]
            out["labels"] = torch.from_numpy(lab)
    return out


def collate_lm(items: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """:func:`collate` for language-model items (MLM labels padded with -100)."""
    return collate(items, label_pad=IGNORE)
