"""The recipe's ``trainer`` section -> Lightning loggers and strategy, checked against this machine.

* Loggers: CSV always (``logs/metrics.csv``); TensorBoard (``logs/tb/``) according to
  ``trainer.tensorboard``: ``auto`` (when ``tensorboard`` or ``tensorboardX`` imports), ``true`` (required:
  a ConfigError when neither is installed) or ``false``.
* Strategy: passed to Lightning unchanged, except that FSDP (``fsdp``, ``fsdp_cpu_offload``) without CUDA
  fails before anything is built: Lightning 2.x's ``FSDPStrategy`` wraps the model in torch's
  ``FullyShardedDataParallel`` (FSDP1), which needs an accelerator device ("FSDP needs a non-CPU
  accelerator device"), and Lightning itself refuses any accelerator but ``cuda``/``gpu`` for it.
  ``ddp`` (gloo) is the CPU multi-process strategy.
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
    """``trainer.strategy`` for ``lightning.Trainer``; FSDP without CUDA is a ConfigError (see the module
    docstring). ``trainer`` is the recipe's TrainerSection."""
    import torch

    strategy = trainer.strategy
    if strategy.lower() not in FSDP_STRATEGIES:
        return strategy
    accelerator = str(trainer.accelerator).lower()
    if accelerator not in ("auto", "cuda", "gpu"):
        raise ConfigError(f"trainer.strategy {strategy!r} needs CUDA GPUs, but trainer.accelerator is "
                          f"{trainer.accelerator!r}: Lightning's FSDPStrategy (torch FSDP1) runs on CUDA only. "
                          "Use trainer.accelerator: cuda (or auto), or trainer.strategy: ddp")
    if not torch.cuda.is_available():
        raise ConfigError(f"trainer.strategy {strategy!r} needs CUDA GPUs, and none is available: Lightning's "
                          "FSDPStrategy shards with torch FSDP1, which has no CPU (gloo) path. On CPU use "
                          "trainer.strategy: ddp (with trainer.devices: N processes)")
    return strategy
