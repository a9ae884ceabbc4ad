"""Lightning data modules: genome windows for pretraining, labelled task splits for fine-tuning.

Training loaders use :class:`~genoseq.train.sampling.StreamBatchSampler` (endless, resumable, each
rank reading its slice of the global batch); evaluation loaders are fixed and ordered. Paths in
recipes are resolved by :func:`resolve_path` (``bundled:NAME``, manifest data folders, relative paths).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from genoseq.errors import ConfigError, GenoseqError
from genoseq.train.datasets import GenomeWindows, Region, TaskSequences, collate, collate_lm
from genoseq.train.paths import resolve_path  # noqa: F401  (re-exported)
from genoseq.train.sampling import FixedBatchSampler, SeqLenSchedule, StreamBatchSampler


def _world(trainer: Any) -> tuple[int, int]:
    if trainer is None:
        return 0, 1
    return int(trainer.global_rank), int(trainer.world_size)


def _loader(dataset: Any, sampler: Any, fn: Callable, num_workers: int) -> DataLoader:
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=fn, num_workers=num_workers,
                      persistent_workers=num_workers > 0, generator=torch.Generator())


class SplitsData(L.LightningDataModule):
    """Base of the data modules: fixed, ordered evaluation loaders over ``self.sets[split]``.

    A subclass fills ``self.sets`` and ``self.eval_batch_size``, names its validation split
    (``val_split``), the padded length of evaluation batches (``eval_seq_len``; 0 = each batch's
    longest item) and may override :meth:`_collate`. Test and predict loaders read the ``test`` split.
    """

    val_split = "valid"
    sets: dict[str, Any]
    eval_batch_size: int

    @property
    def eval_seq_len(self) -> int:
        return 0

    def _collate(self, items: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
        return collate_lm(items)

    def _eval(self, name: str) -> DataLoader:
        ds = self.sets[name]
        if len(ds) == 0:
            what = f"has no windows of {self.eval_seq_len} bases" if self.eval_seq_len else "is empty"
            raise GenoseqError(f"the {name} split {what}")
        rank, world = _world(self.trainer)
        sampler = FixedBatchSampler(len(ds), self.eval_batch_size, self.eval_seq_len, rank, world)
        return _loader(ds, sampler, self._collate, 0)

    def val_dataloader(self) -> DataLoader:
        return self._eval(self.val_split)

    def test_dataloader(self) -> DataLoader:
        return self._eval("test")

    def predict_dataloader(self) -> DataLoader:
        return self._eval("test")


class PretrainData(SplitsData):
    """Genome windows: training windows drawn at random per stream position; fixed validation windows.

    Args:
        genome: a :class:`genoseq.Genome`.
        splits: ``{"train": [Region], "valid": [Region], "test": [Region]}``.
        schedule: (seq_len, global batch) per data step; validation uses ``schedule.final_seq_len``.
        start_batch: callable returning the batches already consumed (restored from checkpoints).
    """

    def __init__(self, genome: Any, splits: dict[str, list[Region]], schedule: SeqLenSchedule, *,
                 accumulate: int = 1, seed: int = 0, rc_augment: bool = True, objective: str = "causal",
                 mask_prob: float = 0.15, exclude_n: bool = True, val_windows: int = 256,
                 eval_batch_size: int = 8, num_workers: int = 0, start_batch: Callable[[], int] = lambda: 0) -> None:
        super().__init__()
        self.genome = genome
        self.splits = splits
        self.schedule = schedule
        self.accumulate = accumulate
        self.seed = seed
        self.num_workers = num_workers
        self.eval_batch_size = eval_batch_size
        self.start_batch = start_batch
        seq_len = schedule.final_seq_len
        common = {"seed": seed, "objective": objective, "mask_prob": mask_prob, "exclude_n": exclude_n}
        self.train_set = GenomeWindows(genome, splits["train"], rc_augment=rc_augment, **common)
        self.sets = {
            name: GenomeWindows(genome, [], fixed=fixed_windows(splits.get(name, []), seq_len, val_windows),
                                rc_augment=False, **common)
            for name in ("valid", "test")
        }

    def train_dataloader(self) -> DataLoader:
        rank, world = _world(self.trainer)
        sampler = StreamBatchSampler(self.schedule, self.accumulate, self.seed, None, rank, world, self.start_batch)
        return _loader(self.train_set, sampler, collate_lm, self.num_workers)

    @property
    def eval_seq_len(self) -> int:
        return self.schedule.final_seq_len


def fixed_windows(regions: list[Region], seq_len: int, n: int) -> list[Region]:
    """Up to ``n`` non-overlapping windows of ``seq_len`` tiling ``regions``, evenly spaced over all the
    tiles (deterministic; tiles are counted, never all built). A region shorter than ``seq_len`` gives one
    padded window."""
    if not regions:
        return []
    counts = np.array([max(1, (r.end - r.start) // seq_len) for r in regions], dtype=np.int64)
    total = int(counts.sum())
    picks = np.arange(total) if total <= n else np.linspace(0, total - 1, n).round().astype(np.int64)
    starts = np.cumsum(counts) - counts
    out = []
    for t in picks:
        i = int(np.searchsorted(starts, t, side="right") - 1)
        r = regions[i]
        s = r.start + int(t - starts[i]) * seq_len
        out.append(Region(r.contig, s, s + seq_len))
    return out


def genome_splits(genome: Any, *, split_bed: Path | None = None, val_contigs: list[str] = (),
                  test_contigs: list[str] = (), val_fraction: float = 0.0) -> dict[str, list[Region]]:
    """Train / valid / test regions of a genome.

    - ``split_bed``: a BED whose 4th column is train / valid / test (HyenaDNA's sequences_human.bed);
    - ``val_contigs`` / ``test_contigs``: whole contigs held out, the rest is training;
    - ``val_fraction`` f: of every contig, the last 2f are held out (valid then test, f each).
    """
    contigs = genome.contigs
    out: dict[str, list[Region]] = {"train": [], "valid": [], "test": []}
    if split_bed is not None:
        from genoseq.data.intervals import read_bed

        for iv in read_bed(split_bed, split_column=3):
            name = genome.resolve(iv.contig)
            end = min(iv.end, contigs[name])
            if end > iv.start:
                out[iv.split or "train"].append(Region(name, iv.start, end))
    elif val_contigs or test_contigs:
        held = {genome.resolve(c): "valid" for c in val_contigs}
        held.update({genome.resolve(c): "test" for c in test_contigs})
        for name, length in contigs.items():
            out[held.get(name, "train")].append(Region(name, 0, length))
    elif val_fraction > 0:
        for name, length in contigs.items():
            a = int(round(length * (1 - 2 * val_fraction)))
            b = int(round(length * (1 - val_fraction)))
            out["train"].append(Region(name, 0, a))
            out["valid"].append(Region(name, a, b))
            out["test"].append(Region(name, b, length))
    else:
        raise ConfigError("the genome needs a split: set data.split_bed, data.val_contigs/test_contigs or "
                          "data.val_fraction")
    if not out["train"]:
        raise ConfigError("the genome split leaves no training regions")
    if not out["valid"]:
        raise ConfigError("the genome split leaves no validation regions")
    return out


def task_objective(kind: str) -> str:
    """read_task kind -> fine-tuning objective."""
    return {"binary": "classification", "multiclass": "classification", "multilabel": "multilabel",
            "regression": "regression"}[kind]


def ensure_dev_split(task: Any, seed: int = 0, fraction: float = 0.1) -> tuple[dict[str, Any], list[str]]:
    """``{"train", "dev", "test"}`` splits: a missing dev split is carved from train (``fraction``, seeded);
    a missing test split falls back to dev. Returns the splits and notes saying what was done."""
    from genoseq.data.tasks import Split

    notes: list[str] = []
    splits = dict(task.splits)
    if "train" not in splits:
        raise GenoseqError(f"task {task.name!r} has no train split (it has {sorted(splits)})")
    if "dev" not in splits:
        tr = splits["train"]
        perm = np.random.default_rng([seed, 11]).permutation(len(tr))
        n_dev = max(1, int(round(len(tr) * fraction)))
        dev_idx, tr_idx = np.sort(perm[:n_dev]), np.sort(perm[n_dev:])
        splits["dev"] = Split("dev", [tr.sequences[i] for i in dev_idx], tr.labels[dev_idx])
        splits["train"] = Split("train", [tr.sequences[i] for i in tr_idx], tr.labels[tr_idx])
        notes.append(f"no dev split: {n_dev} of {len(tr)} training sequences held out as dev (seed {seed})")
    if "test" not in splits:
        splits["test"] = splits["dev"]
        notes.append("no test split: test metrics are computed on the dev split")
    return splits, notes


class FinetuneData(SplitsData):
    """Labelled task splits. ``splits``: ``{"train", "dev", "test"}`` -> objects with ``sequences`` and
    ``labels`` (see :func:`ensure_dev_split`)."""

    val_split = "dev"

    def __init__(self, splits: dict[str, Any], *, batch_size: int, accumulate: int = 1, seed: int = 0,
                 max_len: int | None = None, rc_augment: bool = False, eval_batch_size: int | None = None,
                 num_workers: int = 0, start_batch: Callable[[], int] = lambda: 0, label_pad: float | None = None,
                 ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.accumulate = accumulate
        self.seed = seed
        self.num_workers = num_workers
        self.eval_batch_size = eval_batch_size or batch_size
        self.start_batch = start_batch
        self.label_pad = label_pad
        self.sets = {
            name: TaskSequences(splits[name].sequences, splits[name].labels, max_len,
                                rc_augment=rc_augment and name == "train", seed=seed)
            for name in ("train", "dev", "test")
        }

    def _collate(self, items: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
        return collate(items, self.label_pad)

    def train_dataloader(self) -> DataLoader:
        rank, world = _world(self.trainer)
        ds = self.sets["train"]
        sampler = StreamBatchSampler(SeqLenSchedule.constant(0, self.batch_size), self.accumulate, self.seed,
                                     len(ds), rank, world, self.start_batch)
        return _loader(ds, sampler, self._collate, self.num_workers)


class TaskLMData(SplitsData):
    """Self-pretraining on a task's training sequences (causal or masked LM); validation on dev."""

    val_split = "dev"

    def __init__(self, train_seqs: list[str], dev_seqs: list[str], *, batch_size: int, objective: str,
                 accumulate: int = 1, seed: int = 0, max_len: int | None = None, rc_augment: bool = True,
                 mask_prob: float = 0.15, exclude_n: bool = True, num_workers: int = 0,
                 start_batch: Callable[[], int] = lambda: 0) -> None:
        super().__init__()
        self.batch_size, self.accumulate, self.seed = batch_size, accumulate, seed
        self.num_workers, self.start_batch = num_workers, start_batch
        self.eval_batch_size = batch_size
        common = {"max_len": max_len, "seed": seed, "objective": objective, "mask_prob": mask_prob,
                  "exclude_n": exclude_n}
        self.train_set = TaskSequences(train_seqs, None, rc_augment=rc_augment, **common)
        self.sets = {"dev": TaskSequences(dev_seqs, None, rc_augment=False, **common)}

    def train_dataloader(self) -> DataLoader:
        rank, world = _world(self.trainer)
        sampler = StreamBatchSampler(SeqLenSchedule.constant(0, self.batch_size), self.accumulate, self.seed,
                                     len(self.train_set), rank, world, self.start_batch)
        return _loader(self.train_set, sampler, collate_lm, self.num_workers)
