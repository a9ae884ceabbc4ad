"""Genome windows for training: tiling, seeded random windows, N filtering, hold-out splits.

Windows are :class:`~genoseq.data.intervals.Interval` objects (0-based half-open; ``label``,
``split``, ``name`` and ``strand`` are carried over from the region they came from).

- :func:`tile` cuts regions (a genome's contigs, a ``{contig: length}`` mapping or BED
  intervals) into windows of ``window`` bases every ``stride`` bases.
- :func:`center` makes one fixed-size window around the midpoint of each interval.
- :class:`RandomWindows` is a sized, indexable set of random windows: window ``i`` of epoch
  ``e`` is a pure function of ``(seed, e, i)``, so it is reproducible, needs no state to
  resume, and works unchanged in DataLoader workers.
- :class:`EpochSampler` yields dataset indices (shuffled per ``(seed, epoch)`` or in order)
  and saves/restores its position mid-epoch with ``state_dict``/``load_state_dict``.
- :func:`filter_by_n` drops windows with too many N (or off-contig) positions and says how many.
- :func:`split_by_contig` (chromosome hold-out) and :func:`split_by_column` (BED split column)
  divide windows into train / valid / test.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from genoseq.data.intervals import Interval
from genoseq.errors import ConfigError, InputError
from genoseq.tokenizer import N_ID, PAD_ID

if TYPE_CHECKING:
    from genoseq.data.genome import Genome

PARTIAL_MODES = ("drop", "shift", "pad")


def as_regions(regions: Genome | Mapping[str, int] | Iterable[Interval]) -> list[Interval]:
    """Whole contigs of a Genome or a ``{contig: length}`` mapping, or the given intervals."""
    contigs = getattr(regions, "contigs", None)
    if isinstance(contigs, Mapping):
        regions = contigs
    if isinstance(regions, Mapping):
        return [Interval(name, 0, int(length), strand="+") for name, length in regions.items()]
    return list(regions)


def tile(
    regions: Genome | Mapping[str, int] | Iterable[Interval],
    window: int,
    stride: int | None = None,
    partial: str = "drop",
) -> list[Interval]:
    """Windows of ``window`` bases every ``stride`` bases (default: non-overlapping) over each region.

    Args:
        partial: what to do with the remainder at a region's end that is shorter than a window:
            "drop" it; "shift" adds one last window ending exactly at the region end (regions
            shorter than ``window`` are dropped); "pad" adds one last window starting at the next
            stride step, reaching past the region end (read it with ``pad=True``; a region
            shorter than ``window`` gives one such window).

    Windows keep the region's name, strand, label and split; windows of whole contigs are "+".
    """
    if window <= 0:
        raise ConfigError(f"window must be a positive number of bases, got {window}")
    stride = window if stride is None else stride
    if stride <= 0:
        raise ConfigError(f"stride must be positive, got {stride}")
    if partial not in PARTIAL_MODES:
        raise ConfigError(f"partial must be one of {PARTIAL_MODES}, got {partial!r}")
    out: list[Interval] = []
    for region in as_regions(regions):
        starts = list(range(region.start, region.end - window + 1, stride))
        nxt = starts[-1] + stride if starts else region.start
        if partial == "shift" and region.end - region.start >= window and (not starts or starts[-1] + window < region.end):
            starts.append(region.end - window)
        elif partial == "pad" and nxt < region.end and (not starts or starts[-1] + window < region.end):
            starts.append(nxt)
        out.extend(region.with_(start=s, end=s + window) for s in starts)
    return out


def center(intervals: Iterable[Interval], window: int) -> list[Interval]:
    """One window of ``window`` bases centred on each interval's midpoint (may reach off-contig)."""
    if window <= 0:
        raise ConfigError(f"window must be a positive number of bases, got {window}")
    out = []
    for iv in intervals:
        start = (iv.start + iv.end) // 2 - window // 2
        out.append(iv.with_(start=start, end=start + window))
    return out


def missing_fraction(genome: Genome, window: Interval) -> float:
    """Fraction of the window that is N or lies outside its contig."""
    ids = genome.tokens(window.contig, window.start, window.end, pad=True)
    if ids.size == 0:
        return 0.0
    return float(np.count_nonzero((ids == N_ID) | (ids == PAD_ID))) / ids.size


@dataclass(frozen=True)
class FilterResult:
    """Windows kept by :func:`filter_by_n` and how many were dropped."""

    kept: list[Interval]
    n_filtered: int

    @property
    def n_total(self) -> int:
        return len(self.kept) + self.n_filtered


def filter_by_n(genome: Genome, windows: Iterable[Interval], max_n_fraction: float) -> FilterResult:
    """Keep windows whose N (or off-contig) fraction is at most ``max_n_fraction``."""
    if not 0.0 <= max_n_fraction <= 1.0:
        raise ConfigError(f"max_n_fraction must be in [0, 1], got {max_n_fraction}")
    kept, dropped = [], 0
    for w in windows:
        if missing_fraction(genome, w) <= max_n_fraction:
            kept.append(w)
        else:
            dropped += 1
    return FilterResult(kept, dropped)


class RandomWindows(Sequence[Interval]):
    """``num_windows`` random windows per epoch, uniform over all window positions in ``regions``.

    Window ``i`` of epoch ``e`` depends only on ``(seed, e, i)`` (and ``num_windows``): first
    draws come from ``default_rng([seed, e])`` for the whole epoch at once, redraws after N
    rejection from ``default_rng([seed, e, i])``. So any window can be recomputed, resuming
    mid-epoch needs only the index, and DataLoader workers agree without coordination.

    Args:
        genome: the Genome windows are drawn from (contig lengths; N filtering reads tokens).
        window: window length in bases.
        num_windows: windows per epoch (``len(self)``).
        seed: base seed.
        regions: restrict to these intervals (default: whole contigs).
        contigs: restrict to these contigs (alias-aware), e.g. the training chromosomes.
        max_n_fraction: redraw a window whose N fraction is above this (up to ``max_tries``
            draws; after that the window with the fewest N is used and ``n_exhausted`` grows).
            ``n_rejected`` counts redraws in this process.
    """

    def __init__(
        self,
        genome: Genome,
        window: int,
        num_windows: int,
        seed: int = 0,
        regions: Iterable[Interval] | None = None,
        contigs: Iterable[str] | None = None,
        max_n_fraction: float | None = None,
        max_tries: int = 100,
    ) -> None:
        if window <= 0 or num_windows < 0:
            raise ConfigError(f"window must be > 0 and num_windows >= 0, got {window}, {num_windows}")
        self.genome = genome
        self.window = int(window)
        self.num_windows = int(num_windows)
        self.seed = int(seed)
        self.epoch = 0
        self.max_n_fraction = max_n_fraction
        self.max_tries = max_tries
        self.n_rejected = 0
        self.n_exhausted = 0
        self.position = 0  # windows already yielded by iteration this epoch
        spans = as_regions(genome) if regions is None else [r.with_(contig=genome.resolve(r.contig)) for r in regions]
        if contigs is not None:
            keep = {genome.resolve(c) for c in contigs}
            spans = [r for r in spans if r.contig in keep]
        self._spans = [r for r in spans if r.end - r.start >= self.window]
        if not self._spans:
            raise ConfigError(f"no region is at least {self.window} bases long; use a smaller window")
        counts = np.array([r.end - r.start - self.window + 1 for r in self._spans], dtype=np.int64)
        self._cum = np.cumsum(counts)  # (R,) number of window starts up to and including region r
        self._draws_epoch: int | None = None
        self._draws = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return self.num_windows

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self.position = 0

    def _window(self, u: int) -> Interval:
        """The window with global start index ``u`` in ``[0, total starts)``."""
        r = int(np.searchsorted(self._cum, u, side="right"))
        offset = u - (int(self._cum[r - 1]) if r else 0)
        span = self._spans[r]
        start = span.start + offset
        return span.with_(start=start, end=start + self.window)

    def _first_draws(self) -> np.ndarray:
        """(num_windows,) int64: every window's first draw this epoch, drawn at once (vectorised)."""
        if self._draws_epoch != self.epoch:
            rng = np.random.default_rng([self.seed, self.epoch])
            self._draws = rng.integers(int(self._cum[-1]), size=self.num_windows, dtype=np.int64)
            self._draws_epoch = self.epoch
        return self._draws

    def __getitem__(self, index: int) -> Interval:  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]  # type: ignore[return-value]
        if index < 0:
            index += self.num_windows
        if not 0 <= index < self.num_windows:
            raise IndexError(f"window index {index} out of range for {self.num_windows} windows")
        w = self._window(int(self._first_draws()[index]))
        if self.max_n_fraction is None:
            return w
        rng = None  # redraws of window i come from its own stream default_rng([seed, epoch, i])
        best, best_frac = w, 2.0
        for attempt in range(self.max_tries):
            if attempt:
                if rng is None:
                    rng = np.random.default_rng([self.seed, self.epoch, index])
                w = self._window(int(rng.integers(int(self._cum[-1]))))
            frac = missing_fraction(self.genome, w)
            if frac <= self.max_n_fraction:
                return w
            self.n_rejected += 1
            if frac < best_frac:
                best, best_frac = w, frac
        self.n_exhausted += 1
        return best

    def __iter__(self) -> Iterator[Interval]:
        """Windows ``position..num_windows-1`` of this epoch; then the epoch advances, position resets."""
        while self.position < self.num_windows:
            w = self[self.position]
            self.position += 1
            yield w
        self.position = 0
        self.set_epoch(self.epoch + 1)

    def state_dict(self) -> dict:
        """Where iteration stands: ``{"seed", "epoch", "position", "n_rejected"}``."""
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position, "n_rejected": self.n_rejected}

    def load_state_dict(self, state: dict) -> None:
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])
        self.position = int(state.get("position", 0))
        self.n_rejected = int(state.get("n_rejected", 0))


class EpochSampler:
    """Dataset indices ``0..n-1`` for one epoch, shuffled per ``(seed, epoch)`` or in order; resumable.

    ``position`` counts indices already yielded this epoch. ``state_dict()`` saved after ``k``
    samples and loaded into a fresh sampler makes it yield exactly the remaining indices.
    (A DataLoader prefetches, so save the number of samples your loop consumed:
    ``sampler.load_state_dict({... "position": consumed})``.) When an epoch is exhausted the
    position resets to 0 and the epoch advances by one.
    """

    def __init__(self, n: int, seed: int = 0, shuffle: bool = True) -> None:
        self.n, self.seed, self.shuffle = int(n), int(seed), shuffle
        self.epoch = 0
        self.position = 0

    def __len__(self) -> int:
        return self.n

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.position = int(epoch), 0

    def order(self) -> np.ndarray:
        """(n,) int64: this epoch's full index order."""
        if not self.shuffle:
            return np.arange(self.n, dtype=np.int64)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.n)

    def __iter__(self) -> Iterator[int]:
        order = self.order()
        while self.position < self.n:
            index = int(order[self.position])
            self.position += 1
            yield index
        self.epoch += 1
        self.position = 0

    def state_dict(self) -> dict:
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position, "n": self.n,
                "shuffle": self.shuffle}

    def load_state_dict(self, state: dict) -> None:
        if int(state.get("n", self.n)) != self.n:
            raise InputError(f"sampler state is for {state['n']} samples, this sampler has {self.n}")
        self.seed, self.epoch, self.position = int(state["seed"]), int(state["epoch"]), int(state["position"])
        self.shuffle = bool(state.get("shuffle", self.shuffle))


def contig_splits(
    contigs: Iterable[str], valid: Iterable[str] = (), test: Iterable[str] = (), genome: Genome | None = None
) -> dict[str, str]:
    """Contig -> "train" / "valid" / "test" for a chromosome hold-out (alias-aware with ``genome``)."""
    resolve = genome.resolve if genome is not None else (lambda name: name)
    names = list(contigs)
    assign = dict.fromkeys(names, "train")
    for split, held in (("valid", valid), ("test", test)):
        for name in held:
            real = resolve(name)
            if real not in assign:
                raise InputError(f"hold-out contig {name!r} ({split}) is not among the contigs {names[:5]}")
            if assign[real] != "train":
                raise ConfigError(f"contig {real!r} is in both {assign[real]} and {split}")
            assign[real] = split
    return assign


def split_by_contig(
    windows: Iterable[Interval], valid: Iterable[str] = (), test: Iterable[str] = (), genome: Genome | None = None
) -> dict[str, list[Interval]]:
    """Chromosome hold-out: ``{"train": [...], "valid": [...], "test": [...]}`` by window contig."""
    windows = list(windows)
    contigs = list(genome.contigs) if genome is not None else list(dict.fromkeys(w.contig for w in windows))
    assign = contig_splits(contigs, valid, test, genome)
    out: dict[str, list[Interval]] = {"train": [], "valid": [], "test": []}
    for w in windows:
        name = genome.resolve(w.contig) if genome is not None else w.contig
        split = assign[name]
        out[split].append(w.with_(split=split))
    return out


def split_by_column(windows: Iterable[Interval]) -> dict[str, list[Interval]]:
    """``{"train": [...], "valid": [...], "test": [...]}`` by each window's ``split`` (from a BED column)."""
    out: dict[str, list[Interval]] = {"train": [], "valid": [], "test": []}
    for w in windows:
        if w.split not in out:
            raise InputError(f"window {w.contig}:{w.start}-{w.end} has no split (read_bed(split_column=...))")
        out[w.split].append(w)
    return out
