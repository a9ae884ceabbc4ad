"""Training callbacks: sequence-length warm-up, non-finite-loss guard, throughput, atomic checkpoints."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from genoseq.train.sampling import SeqLenSchedule, Stage


def hyenadna_warmup(final_len: int = 32768, final_batch: int = 8, start_len: int = 1024,
                    steps_per_stage: int = 1000) -> list[Stage]:
    """HyenaDNA's schedule: 1k -> 2k -> ... -> final_len, batch halving at every doubling (tokens per
    step constant); the final stage runs until the end of training."""
    stages = []
    length, n = start_len, 0
    while length < final_len:
        n += 1
        length *= 2
    length = start_len
    for i in range(n + 1):
        batch = final_batch * (final_len // length)
        stages.append(Stage(length, batch, None if i == n else steps_per_stage))
        length *= 2
    return stages


class SeqLenWarmup(L.Callback):
    """Sequence-length warm-up: owns the :class:`SeqLenSchedule` the training sampler follows and logs
    the stage, sequence length and batch size of every step (``train/seq_len``, ``train/batch_size``).

    The schedule is defined over data steps (``accumulate`` batches), so the tokens per optimiser step
    are constant across stages; validation always uses the final length.
    """

    def __init__(self, schedule: SeqLenSchedule) -> None:
        self.schedule = schedule
        self._last_stage = -1

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        ids = batch["input_ids"]
        stage = self.schedule.stage_index(getattr(pl_module, "batches_seen", 0) // max(
            getattr(pl_module, "accumulate", 1), 1))
        if stage != self._last_stage:
            self._last_stage = stage
            st = self.schedule.stages[stage]
            if trainer.is_global_zero:
                print(f"[seq-len warm-up] stage {stage + 1}/{len(self.schedule.stages)}: seq_len {st.seq_len}, "
                      f"global batch {st.batch_size}", flush=True)
        pl_module.log("train/seq_len", float(ids.shape[1]), on_step=True, on_epoch=False)
        pl_module.log("train/batch_size", float(ids.shape[0] * trainer.world_size), on_step=True, on_epoch=False)


class NonFiniteGuard(L.Callback):
    """Counts skipped non-finite steps; after more than ``max_in_a_row`` in a row, saves a checkpoint and
    stops the run (``run.py`` then raises an error naming the step and the checkpoint).

    The module calls :meth:`report` once per batch with whether its loss/gradients were finite.
    """

    def __init__(self, max_in_a_row: int = 5, checkpoint_dir: str | Path | None = None) -> None:
        self.max_in_a_row = max_in_a_row
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.in_a_row = 0
        self.total = 0
        self.stopped_at: int | None = None
        self.checkpoint_path: str | None = None

    def report(self, trainer: L.Trainer, finite: bool) -> None:
        if finite:
            self.in_a_row = 0
            return
        self.in_a_row += 1
        self.total += 1
        if self.in_a_row > self.max_in_a_row and self.stopped_at is None:
            self.stopped_at = trainer.global_step
            if self.checkpoint_dir is not None:
                path = self.checkpoint_dir / "nonfinite-stop.ckpt"
                trainer.save_checkpoint(path, weights_only=False)
                self.checkpoint_path = str(path)
            trainer.should_stop = True

    def message(self) -> str:
        where = f"; checkpoint saved to {self.checkpoint_path}" if self.checkpoint_path else ""
        return (f"training stopped at step {self.stopped_at}: more than {self.max_in_a_row} non-finite losses "
                f"in a row ({self.total} skipped in all){where}. Lower train.lr, set train.grad_clip, or use "
                "trainer.precision=32-true")

    def state_dict(self) -> dict[str, Any]:
        return {"in_a_row": self.in_a_row, "total": self.total}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.in_a_row = int(state_dict.get("in_a_row", 0))
        self.total = int(state_dict.get("total", 0))


class Throughput(L.Callback):
    """Measures training tokens per second (wall clock, this process x world size)."""

    def __init__(self) -> None:
        self.tokens = 0
        self.seconds = 0.0
        self._t0: float | None = None

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self._t0 is not None:
            self.seconds += time.perf_counter() - self._t0
            self.tokens += int(batch["input_ids"].numel()) * trainer.world_size

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def step_progress_bar() -> L.Callback:
    """A Rich progress bar labelled by steps ("Training 120/300") rather than by epochs: genoseq trains on
    an endless example stream bounded by max_steps."""
    from lightning.pytorch.callbacks import RichProgressBar

    class StepProgressBar(RichProgressBar):
        def _get_train_description(self, current_epoch: int) -> str:
            return f"{'Training':{len(self.validation_description)}}"

    return StepProgressBar(leave=True)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoint I/O that writes to a temporary file in the same directory, fsyncs and renames (a
    crash never leaves a truncated checkpoint), and loads with ``torch.load(weights_only=True)``."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as fh:
            torch.save(checkpoint, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return load_checkpoint_file(path, map_location=map_location or "cpu")


def load_checkpoint_file(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """``torch.load(path, weights_only=True)``, with a clear error for a missing or foreign file."""
    from genoseq.errors import GenoseqError

    path = Path(path)
    if not path.is_file():
        raise GenoseqError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # pickle.UnpicklingError and friends
        raise GenoseqError(f"{path}: cannot be read as a genoseq checkpoint with weights_only=True ({err})") from None
