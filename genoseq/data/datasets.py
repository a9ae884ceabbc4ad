"""PyTorch Datasets over genome windows.

>>> genome = Genome("genome.fa")
>>> windows = RandomWindows(genome, window=131_072, num_windows=10_000, seed=0, max_n_fraction=0.1)
>>> ds = GenomeWindowDataset(genome, windows, rc_prob=0.5, max_shift=16)
>>> ds[0]["input_ids"].shape      # torch.Size([131072]), int64 token ids
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from genoseq.data.genome import Genome
from genoseq.data.intervals import Interval
from genoseq.errors import ConfigError, InputError


class GenomeWindowDataset(Dataset):
    """Token ids (and labels) of genome windows.

    Args:
        genome: the :class:`Genome` to read (its token cache is used when ``use_cache``).
        windows: a sequence of :class:`Interval` (a list from ``tile``/``center``, or
            :class:`~genoseq.data.windows.RandomWindows`). A window's strand is honoured.
        rc_prob: probability of reading the reverse complement instead (augmentation).
        max_shift: shift each window by a uniform integer in ``[-max_shift, max_shift]``.
        seed: augmentation seed; item ``i`` of epoch ``e`` uses ``default_rng([seed, e, i])``,
            so augmentation is reproducible and independent of worker count.
        return_soft_mask: add ``soft_mask`` (L,) bool, True for lowercase bases.
        dtype: dtype of ``input_ids`` (``torch.long`` for embedding lookups; ``torch.uint8``
            moves 8x fewer bytes).
        label_to_id: map string labels to class ids. Default: sorted distinct string labels.

    Items: ``{"input_ids": (L,), "label": () if windows carry labels, "soft_mask": (L,) if asked,
    "strand": 1 or -1}``. Positions off the contig are PAD (0).
    """

    def __init__(
        self,
        genome: Genome,
        windows: Sequence[Interval],
        rc_prob: float = 0.0,
        max_shift: int = 0,
        seed: int = 0,
        return_soft_mask: bool = False,
        dtype: torch.dtype = torch.long,
        label_to_id: Mapping[str, int] | None = None,
    ) -> None:
        if not 0.0 <= rc_prob <= 1.0:
            raise ConfigError(f"rc_prob must be in [0, 1], got {rc_prob}")
        if max_shift < 0:
            raise ConfigError(f"max_shift must be >= 0, got {max_shift}")
        if dtype not in _NUMPY:
            raise ConfigError(f"dtype must be one of {list(_NUMPY)}, got {dtype}")
        self.genome = genome
        self.windows = windows
        self.rc_prob = float(rc_prob)
        self.max_shift = int(max_shift)
        self.seed = int(seed)
        self.epoch = 0
        self.return_soft_mask = return_soft_mask
        self.dtype = dtype
        self.label_to_id = dict(label_to_id) if label_to_id is not None else None
        if self.label_to_id is None and isinstance(windows, list):
            labels = {w.label for w in windows if isinstance(w.label, str)}
            if labels:
                self.label_to_id = {label: i for i, label in enumerate(sorted(labels))}

    def __len__(self) -> int:
        return len(self.windows)

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draw (and the windows, for RandomWindows)."""
        self.epoch = int(epoch)
        if hasattr(self.windows, "set_epoch"):
            self.windows.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        w = self.windows[index]
        start, end, strand = w.start, w.end, "-" if w.strand == "-" else "+"
        if self.rc_prob or self.max_shift:
            rng = np.random.default_rng([self.seed, self.epoch, int(index)])
            if self.max_shift:
                shift = int(rng.integers(-self.max_shift, self.max_shift + 1))
                start, end = start + shift, end + shift
            if self.rc_prob and rng.random() < self.rc_prob:
                strand = "-" if strand == "+" else "+"
        out: dict[str, Any] = {}
        if self.return_soft_mask:
            ids, soft = self.genome.tokens(w.contig, start, end, strand=strand, pad=True, return_soft_mask=True)
            out["soft_mask"] = torch.from_numpy(np.ascontiguousarray(soft))
        else:
            ids = self.genome.tokens(w.contig, start, end, strand=strand, pad=True)
        # one copy out of the memory map, converting dtype on the way
        out["input_ids"] = torch.from_numpy(np.array(ids, dtype=_NUMPY[self.dtype]))  # (L,)
        out["strand"] = 1 if strand == "+" else -1
        if w.label is not None:
            out["label"] = self._label(w)
        return out

    def _label(self, w: Interval) -> torch.Tensor:
        label = w.label
        if isinstance(label, str):
            if self.label_to_id is None or label not in self.label_to_id:
                raise InputError(
                    f"window {w.contig}:{w.start}-{w.end} has label {label!r} not in label_to_id "
                    f"{sorted(self.label_to_id or {})}"
                )
            return torch.tensor(self.label_to_id[label], dtype=torch.long)
        if isinstance(label, (bool, int, np.integer)):
            return torch.tensor(int(label), dtype=torch.long)
        return torch.tensor(label, dtype=torch.float32)


_NUMPY = {torch.long: np.int64, torch.int32: np.int32, torch.uint8: np.uint8, torch.int16: np.int16}
