"""Run directories: layout, resume checks, atomic JSON/YAML writes.

Layout of ``OUT/``::

    recipe.yaml          the resolved recipe (every default filled in)
    logs/metrics.csv     CSV log (TensorBoard events in logs/tb/ too: trainer.tensorboard)
    checkpoints/         last.ckpt (periodic, for --resume), best.ckpt (best validation metric)
    model/               the best model, save_pretrained format (config.json, model.safetensors, tokenizer.json)
    results.json         steps, throughput, best and test metrics, paths
    curves.png           training curves
    pretrain/            the same layout for a fine-tune recipe's pretraining stage
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from genoseq.errors import GenoseqError

# keys that may change between an interrupted run and its resumption
RESUMABLE_CHANGES = {
    "trainer.max_steps", "trainer.max_epochs", "trainer.progress_bar", "trainer.tensorboard", "data.num_workers",
    "data.data_dir", "trainer.val_every_n_steps", "trainer.checkpoint_every_n_steps", "trainer.log_every_n_steps",
}


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and k != "config":
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def recipe_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ (ignoring the ones a resumed run may change)."""
    a, b = _flatten(old), _flatten(new)
    keys = sorted(set(a) | set(b))
    return [k for k in keys if k not in RESUMABLE_CHANGES and a.get(k) != b.get(k)]


def last_checkpoint(out: Path) -> Path | None:
    p = out / "checkpoints" / "last.ckpt"
    return p if p.is_file() else None


def check_resume(out: Path, recipe_dict: dict[str, Any], resume: bool) -> Path | None:
    """The checkpoint to resume from, or None for a fresh run.

    An existing run directory with ``checkpoints/last.ckpt`` is always continued; its saved recipe must
    match the new one (apart from :data:`RESUMABLE_CHANGES`). ``resume=True`` without a checkpoint is an error.
    """
    ckpt = last_checkpoint(out)
    if ckpt is None:
        if resume:
            raise GenoseqError(f"--resume: no checkpoint to resume from in {out / 'checkpoints'} "
                               "(run without --resume to start a new run there)")
        return None
    saved = out / "recipe.yaml"
    if saved.is_file():
        try:
            old = yaml.safe_load(saved.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            old = None
        if isinstance(old, dict):
            diff = recipe_differences(old, recipe_dict)
            if diff:
                shown = ", ".join(f"{k} ({_get(old, k)!r} -> {_get(recipe_dict, k)!r})" for k in diff[:6])
                raise GenoseqError(
                    f"{out} holds a run of a different recipe ({shown}); resume it with the same recipe, "
                    "or choose another --out directory")
    return ckpt


def _get(d: dict[str, Any], dotted: str) -> Any:
    return _flatten(d).get(dotted)
