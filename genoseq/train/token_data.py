"""Token-level fine-tuning data: genome windows with per-base targets from :class:`TokenLabels`.

Training windows are either random (:class:`~genoseq.data.windows.RandomWindows` over the training
regions; the window at stream position ``p`` is window ``p mod N`` of epoch ``p // N``, with ``N`` the
number of tiles of the training regions) or the tiles of the training regions (shuffled per epoch by
the stream sampler). Evaluation windows tile the held-out regions (:func:`~genoseq.data.windows.tile`,
the last one cut at the region end, so every held-out base is scored exactly once); validation uses up
to ``val_windows`` of them, evenly spaced, and test uses all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from genoseq.data.intervals import Interval
from genoseq.data.token_tasks import TokenLabels
from genoseq.data.windows import RandomWindows
from genoseq.tokenizer import N_ID, PAD_ID, Tokenizer
from genoseq.train.datamodules import SplitsData, _loader, _world
from genoseq.train.datasets import Region, _rng, collate
from genoseq.train.sampling import SeqLenSchedule, StreamBatchSampler


class RegionTiles(Sequence[Interval]):
    """Non-overlapping windows of ``seq_len`` covering every region, the last window of a region cut at the
    region end (so it may be shorter): the tiles of :func:`genoseq.data.windows.tile` (``partial="pad"``),
    computed on demand (memory O(regions), so a whole human genome's tiles cost nothing)."""

    def __init__(self, regions: Sequence[Region], seq_len: int) -> None:
        self.regions = [r for r in regions if r.end > r.start]
        self.seq_len = int(seq_len)
        counts = np.array([-(-(r.end - r.start) // self.seq_len) for r in self.regions], dtype=np.int64)
        self._first = np.concatenate([[0], np.cumsum(counts)])  # (R + 1,) index of each region's first tile

    def __len__(self) -> int:
        return int(self._first[-1])

    def __getitem__(self, index: int) -> Interval:  # type: ignore[override]
        if not -len(self) <= index < len(self):
            raise IndexError(f"tile {index} out of range for {len(self)} tiles")
        index %= len(self)
        r = int(np.searchsorted(self._first, index, side="right")) - 1
        region = self.regions[r]
        start = region.start + (index - int(self._first[r])) * self.seq_len
        return Interval(region.contig, start, min(start + self.seq_len, region.end))


def region_tiles(regions: Sequence[Region], seq_len: int) -> RegionTiles:
    """The :class:`RegionTiles` of ``regions``."""
    return RegionTiles(regions, seq_len)


def evenly_spaced(windows: Sequence[Interval], n: int) -> list[Interval]:
    """Up to ``n`` of ``windows``, evenly spaced (all of them when there are at most ``n``)."""
    if len(windows) <= n:
        return list(windows)
    return [windows[int(i)] for i in np.linspace(0, len(windows) - 1, n).round().astype(np.int64)]


class TokenWindows(Dataset):
    """Genome windows with per-base targets. Keys ``(index, position, seq_len)`` (see
    :mod:`genoseq.train.sampling`): ``index >= 0`` reads ``fixed[index]``; ``index == -1`` reads the random
    window of stream ``position`` from ``random``.

    Items: ``input_ids`` (L,) int64 and ``labels`` (L,) int64 class ids (-100: not scored) or float32
    values (NaN: not scored). N bases (``exclude_n``) and positions outside the contig are never scored.
    With ``rc_augment`` a coin seeded by ``(seed, position)`` reverse-complements the bases and reverses
    the targets (so do not use it with strand-specific classes).
    """

    def __init__(self, genome: Any, labels: TokenLabels, fixed: Sequence[Interval] = (),
                 random: RandomWindows | None = None, rc_augment: bool = False, exclude_n: bool = True,
                 seed: int = 0) -> None:
        self.genome, self.labels, self.fixed, self.random = genome, labels, fixed, random
        self.rc_augment, self.exclude_n, self.seed = rc_augment, exclude_n, seed

    def __len__(self) -> int:
        return len(self.fixed) if self.random is None else len(self.random)

    def window(self, index: int, position: int) -> Interval:
        if index >= 0:
            return self.fixed[index]
        if self.random is None:
            raise IndexError("random windows requested from a dataset of fixed windows")
        epoch, i = divmod(position, len(self.random))
        if self.random.epoch != epoch:
            self.random.set_epoch(epoch)
        return self.random[i]

    def __getitem__(self, key: tuple[int, int, int]) -> dict[str, np.ndarray]:
        index, position, _ = key
        w = self.window(index, position)
        ids = np.asarray(self.genome.tokens(w.contig, w.start, w.end, pad=True)).astype(np.int64)
        target = self.labels.labels(w.contig, w.start, w.end)
        drop = ids == PAD_ID
        if self.exclude_n:
            drop |= ids == N_ID
        if drop.any():
            target[drop] = self.labels.ignore
        if self.rc_augment and index < 0 and _rng(self.seed, position, 5).random() < 0.5:
            ids = Tokenizer.reverse_complement(ids)
            target = target[::-1].copy()
        return {"input_ids": ids, "labels": target}


class TokenData(SplitsData):
    """Train / valid / test token windows of a genome split (see the module docstring).

    Args:
        genome: a :class:`genoseq.Genome`.
        labels: the per-base targets.
        splits: ``{"train", "valid", "test"}`` -> regions (:func:`genoseq.train.datamodules.genome_splits`).
        seq_len: window length.
        batch_size: global training batch; ``eval_batch_size`` per device for evaluation.
        train_windows: "random" or "tile".
        val_windows: at most this many validation windows (evenly spaced tiles).
    """

    def __init__(self, genome: Any, labels: TokenLabels, splits: dict[str, list[Region]], *, seq_len: int,
                 batch_size: int, accumulate: int = 1, seed: int = 0, train_windows: str = "random",
                 val_windows: int = 256, rc_augment: bool = False, exclude_n: bool = True,
                 eval_batch_size: int | None = None, num_workers: int = 0,
                 start_batch: Callable[[], int] = lambda: 0) -> None:
        super().__init__()
        self.seq_len, self.batch_size, self.accumulate, self.seed = seq_len, batch_size, accumulate, seed
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers, self.start_batch = num_workers, start_batch
        self.label_pad = labels.ignore
        train_tiles: Sequence[Interval] = region_tiles(splits["train"], seq_len)
        if not train_tiles:
            raise ValueError("the training split has no bases")
        random = None
        if train_windows == "random":  # an epoch: as many windows as there are tiles
            regions = [Interval(r.contig, r.start, r.end) for r in splits["train"]]
            random = RandomWindows(genome, seq_len, len(train_tiles), seed=seed, regions=regions,
                                   max_n_fraction=0.5, max_tries=8)
            train_tiles = ()
        common = {"exclude_n": exclude_n, "seed": seed}
        self.sets = {
            "train": TokenWindows(genome, labels, train_tiles, random, rc_augment=rc_augment, **common),
            "valid": TokenWindows(genome, labels, evenly_spaced(region_tiles(splits["valid"], seq_len), val_windows),
                                  **common),
            "test": TokenWindows(genome, labels, region_tiles(splits.get("test") or [], seq_len), **common),
        }
        if not self.sets["test"].fixed:  # no test regions: test metrics on the whole validation split
            self.sets["test"] = TokenWindows(genome, labels, region_tiles(splits["valid"], seq_len), **common)
        self.test_on_valid = not splits.get("test")

    def _collate(self, items: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
        return collate(items, self.label_pad)

    def train_dataloader(self) -> DataLoader:
        rank, world = _world(self.trainer)
        ds = self.sets["train"]
        n_items = None if ds.random is not None else len(ds)
        sampler = StreamBatchSampler(SeqLenSchedule.constant(self.seq_len, self.batch_size), self.accumulate,
                                     self.seed, n_items, rank, world, self.start_batch)
        return _loader(ds, sampler, self._collate, self.num_workers)

    @property
    def eval_seq_len(self) -> int:
        return self.seq_len
