"""Resumable, schedule-aware batch sampling.

Training draws one endless stream of examples: the example at stream position ``p`` is a pure
function of ``(seed, p)`` (a random genome window, or item ``perm_e[p mod N]`` of a task split with a
fresh permutation per data epoch ``e = p // N``). A run therefore resumes exactly from the number of
batches it had consumed, and every rank of a distributed run reads a disjoint slice of the same
global batch, so a 2-process run sees the same global batches as a 1-process run.

Batch keys are tuples ``(index, position, seq_len)``: ``index`` is the dataset item (or -1 for a
random genome window), ``position`` seeds the per-example randomness (window, strand, masks).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Stage:
    """``steps`` optimiser steps with ``batch_size`` examples (global) of ``seq_len`` bases."""

    seq_len: int
    batch_size: int
    steps: int | None  # None: until the end


class SeqLenSchedule:
    """Piecewise-constant (seq_len, global batch) schedule over *data steps* (``accumulate`` batches each).

    HyenaDNA's warm-up doubles the length and halves the batch at every stage, so the number of
    tokens per optimiser step stays constant; validation always runs at the final length.
    """

    def __init__(self, stages: list[Stage]) -> None:
        if not stages:
            raise ValueError("a schedule needs at least one stage")
        self.stages = list(stages)

    @classmethod
    def constant(cls, seq_len: int, batch_size: int) -> SeqLenSchedule:
        return cls([Stage(seq_len, batch_size, None)])

    @property
    def final_seq_len(self) -> int:
        return self.stages[-1].seq_len

    def stage_index(self, data_step: int) -> int:
        """Index of the stage that data step ``data_step`` (0-based) belongs to."""
        start = 0
        for i, st in enumerate(self.stages):
            if st.steps is None or i == len(self.stages) - 1 or data_step < start + st.steps:
                return i
            start += st.steps
        return len(self.stages) - 1

    def at(self, data_step: int) -> Stage:
        return self.stages[self.stage_index(data_step)]

    def positions(self, batch: int, accumulate: int) -> int:
        """Stream position of the first example of batch number ``batch`` (sum of earlier batch sizes)."""
        pos, b, start_step = 0, 0, 0
        for i, st in enumerate(self.stages):
            last = st.steps is None or i == len(self.stages) - 1
            n_batches = None if last else st.steps * accumulate
            take = batch - b if n_batches is None else min(n_batches, batch - b)
            pos += take * st.batch_size
            b += take
            if b >= batch:
                return pos
            start_step += st.steps
        return pos


@functools.lru_cache(maxsize=8)
def _epoch_permutation(seed: int, epoch: int, n_items: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch, 7]).permutation(n_items)


def task_index(seed: int, position: int, n_items: int) -> int:
    """Item of a finite split at stream ``position``: a fresh permutation per data epoch position // n_items."""
    epoch, offset = divmod(position, n_items)
    return int(_epoch_permutation(seed, epoch, n_items)[offset])


class StreamBatchSampler:
    """Endless batch sampler over a :class:`SeqLenSchedule`; yields lists of (index, position, seq_len).

    Args:
        schedule: global batch size and length per data step.
        accumulate: batches per data step (optimiser step).
        seed: stream seed.
        n_items: size of a finite split (keys carry a permuted item index), or None for genome windows.
        rank, world_size: this process' slice of every global batch (batch sizes must divide).
        start_batch: callable giving the number of batches already consumed (read when iteration starts,
            i.e. after a checkpoint was restored).
    """

    def __init__(self, schedule: SeqLenSchedule, accumulate: int = 1, seed: int = 0, n_items: int | None = None,
                 rank: int = 0, world_size: int = 1, start_batch: Callable[[], int] = lambda: 0) -> None:
        for st in schedule.stages:
            if st.batch_size % world_size:
                raise ValueError(f"global batch size {st.batch_size} is not divisible by {world_size} processes")
        self.schedule = schedule
        self.accumulate = accumulate
        self.seed = seed
        self.n_items = n_items
        self.rank = rank
        self.world_size = world_size
        self.start_batch = start_batch

    def batch_keys(self, batch: int) -> list[tuple[int, int, int]]:
        """Keys of this rank's share of global batch number ``batch``."""
        stage = self.schedule.at(batch // self.accumulate)
        first = self.schedule.positions(batch, self.accumulate)
        local = stage.batch_size // self.world_size
        lo = first + self.rank * local
        keys = []
        for pos in range(lo, lo + local):
            idx = -1 if self.n_items is None else task_index(self.seed, pos, self.n_items)
            keys.append((idx, pos, stage.seq_len))
        return keys

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        start = int(self.start_batch())
        return self._gen(start)

    def _gen(self, start: int) -> Iterator[list[tuple[int, int, int]]]:
        batch = start
        while True:
            yield self.batch_keys(batch)
            batch += 1


class FixedBatchSampler:
    """Evaluation batches over items ``0..n-1`` in order; rank ``r`` of ``w`` takes every w-th batch."""

    def __init__(self, n_items: int, batch_size: int, seq_len: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.n_items, self.batch_size, self.seq_len = n_items, batch_size, seq_len
        self.rank, self.world_size = rank, world_size

    def _batches(self) -> list[list[tuple[int, int, int]]]:
        out = []
        for lo in range(0, self.n_items, self.batch_size):
            out.append([(i, i, self.seq_len) for i in range(lo, min(lo + self.batch_size, self.n_items))])
        return out[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())
