"""The recipe's ``trainer`` section -> Lightning loggers and strategy, checked against this machine.

* Loggers: CSV always (``logs/metrics.csv``); TensorBoard (``logs/tb/``) according to
  ``trainer.tensorboard``: ``auto`` (when ``tensorboard`` or ``tensorboardX`` imports), ``true`` (required:
  a ConfigError when neither is installed) or ``false``.
* Strategy: passed to Lightning unchanged, except FSDP (``fsdp``, ``fsdp_cpu_offload``), which fails
  before anything is built. genoseq trains with manual optimisation (``BaseModule.training_step`` calls
  the backward), and Lightning 2.6's ``FSDPStrategy`` runs ``training_step`` inside the root FSDP1
  module's forward, where a backward trips FSDP's state check ("Expects `BACKWARD_PRE` or
  `BACKWARD_POST` state but got HandleTrainingState.FORWARD"; Lightning issue #19685; seen on an H100
  with torch 2.11). Without CUDA it could not run anyway: torch FSDP1 raises "FSDP needs a non-CPU
  accelerator device" and Lightning refuses accelerators other than ``cuda``/``gpu`` for it. ``ddp``
  (gloo on CPU, nccl on GPUs) is the multi-process strategy.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Any

from genoseq.errors import ConfigError

_NO_TENSORBOARD = ("trainer.tensorboard is true, but neither tensorboard nor tensorboardX can be imported; "
                   "pip install tensorboard, or set trainer.tensorboard: auto (or false)")
FSDP_STRATEGIES = ("fsdp", "fsdp_cpu_offload")  # lightning.pytorch.strategies.FSDPStrategy's registered names


def tensorboard_backend() -> str | None:
    """``"tensorboard"`` or ``"tensorboardX"`` (the package Lightning's TensorBoardLogger writes with),
    or None when neither imports."""
    for name in ("tensorboard", "tensorboardX"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        except Exception as err:  # a broken install (e.g. a protobuf mismatch) is not "installed"
            warnings.warn(f"{name} is installed but cannot be imported ({type(err).__name__}: {err})",
                          stacklevel=2)
            continue
        return name
    return None


def make_loggers(trainer: Any, out: Path) -> list:
    """CSVLogger to ``out/logs/metrics.csv`` and, per ``trainer.tensorboard``, TensorBoardLogger to
    ``out/logs/tb/`` (``trainer`` is the recipe's TrainerSection)."""
    from lightning.pytorch.loggers import CSVLogger

    loggers: list = [CSVLogger(str(out), name="logs", version="")]
    mode = getattr(trainer, "tensorboard", "auto")
    if mode is False:
        return loggers
    if tensorboard_backend() is None:
        if mode is True:
            raise ConfigError(_NO_TENSORBOARD)
        return loggers
    from lightning.pytorch.loggers import TensorBoardLogger

    loggers.append(TensorBoardLogger(str(out), name="logs", version="tb", default_hp_metric=False))
    return loggers


def check_trainer(trainer: Any) -> None:
    """Fail before anything is built when the trainer section cannot run here (FSDP without CUDA,
    ``tensorboard: true`` without tensorboard)."""
    select_strategy(trainer)
    if getattr(trainer, "tensorboard", "auto") is True and tensorboard_backend() is None:
        raise ConfigError(_NO_TENSORBOARD)


def select_strategy(trainer: Any) -> str:
    """``trainer.strategy`` for ``lightning.Trainer``, unchanged; FSDP is a ConfigError on every machine
    (see the module docstring). ``trainer`` is the recipe's TrainerSection."""
    import torch

    strategy = trainer.strategy
    if strategy.lower() not in FSDP_STRATEGIES:
        return strategy
    if not torch.cuda.is_available() or str(trainer.accelerator).lower() not in ("auto", "cuda", "gpu"):
        where = ("needs CUDA GPUs (torch FSDP1, which Lightning's FSDPStrategy uses, has no CPU/gloo path; "
                 "Lightning refuses other accelerators) and, on GPUs too, ")
    else:
        where = ""
    raise ConfigError(
        f"trainer.strategy {strategy!r} is not supported: Lightning's FSDPStrategy {where}cannot run genoseq's "
        "manual optimisation (the backward inside training_step fails in FSDP1 with 'Expects BACKWARD_PRE or "
        "BACKWARD_POST state'; Lightning issue #19685). Use trainer.strategy: ddp (gloo on CPU, nccl on "
        "GPUs); model.gradient_checkpointing: true and bf16-mixed precision save memory")
