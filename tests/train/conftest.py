"""Shared helpers for the training tests: tiny recipes on bundled data."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

TINY_MODEL = {"preset": "hyenadna-tiny", "config": {"d_model": 32, "n_layer": 2, "max_len": 128}}


def write_recipe(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def tiny_pretrain(tmp_path: Path):
    """Factory: a tiny causal pretraining recipe on phage lambda (128-base windows)."""

    def make(name: str = "pre.yaml", **sections) -> Path:
        raw = {
            "kind": "pretrain",
            "model": dict(TINY_MODEL),
            "data": {"fasta": "bundled:phage_lambda", "val_fraction": 0.05, "seq_len": 128, "batch_size": 4,
                     "val_windows": 8},
            "train": {"lr": 1e-3, "warmup_steps": 2},
            "trainer": {"max_steps": 8, "val_every_n_steps": 4, "checkpoint_every_n_steps": 4,
                        "log_every_n_steps": 1, "progress_bar": False},
        }
        for key, value in sections.items():
            raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
        return write_recipe(tmp_path / name, raw)

    return make


def genoseq_exe() -> list[str]:
    """The console script (Lightning's DDP launcher re-runs sys.argv, so it must be a file)."""
    exe = Path(sys.executable).parent / "genoseq"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("genoseq")
    if found is None:
        pytest.skip("the genoseq console script is not installed")
    return [found]
