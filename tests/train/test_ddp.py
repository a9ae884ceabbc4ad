"""Two CPU processes (DDP, gloo) give the same loss curve as one process with the same global batch."""

from __future__ import annotations

import os
import subprocess

import pytest

from genoseq.train.plotting import read_metrics

from .conftest import genoseq_exe


@pytest.mark.slow
def test_ddp_two_processes_match_single_process(tiny_pretrain, tmp_path):
    recipe = tiny_pretrain(trainer={"max_steps": 6, "val_every_n_steps": 3, "checkpoint_every_n_steps": 3})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    base = [*genoseq_exe(), "pretrain", str(recipe)]
    ddp = subprocess.run([*base, "--out", str(tmp_path / "ddp"), "--set", "trainer.strategy=ddp",
                          "--set", "trainer.devices=2", "--set", "trainer.accelerator=cpu",
                          "--set", "data.batch_size=2"], env=env, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = subprocess.run([*base, "--out", str(tmp_path / "single"), "--set", "data.batch_size=4"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    a = read_metrics(tmp_path / "ddp" / "logs" / "metrics.csv")
    b = read_metrics(tmp_path / "single" / "logs" / "metrics.csv")
    assert len(a["train/loss"]) == len(b["train/loss"]) == 6
    for (sa, la), (sb, lb) in zip(a["train/loss"], b["train/loss"], strict=True):
        assert sa == sb
        assert la == pytest.approx(lb, rel=1e-5, abs=1e-6)
    for (_, va), (_, vb) in zip(a["val/loss"], b["val/loss"], strict=True):
        assert va == pytest.approx(vb, rel=1e-5)
