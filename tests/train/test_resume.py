"""A run killed with SIGKILL part-way and resumed ends with the same weights as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import torch

from genoseq.train.callbacks import load_checkpoint_file

from .conftest import genoseq_exe


def _state(path):
    ckpt = load_checkpoint_file(path)  # weights_only=True
    return ckpt


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tiny_pretrain, tmp_path):
    recipe = tiny_pretrain(trainer={"max_steps": 16, "val_every_n_steps": 8, "checkpoint_every_n_steps": 4,
                                    "deterministic": True})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [*genoseq_exe(), "pretrain", str(recipe)]
    full = tmp_path / "full"
    subprocess.run([*cmd, "--out", str(full)], check=True, env=env, capture_output=True, timeout=300)

    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, "--out", str(killed)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ckpt = killed / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "results.json").exists(), "the run finished before it could be killed"
    step_at_kill = _state(ckpt)["global_step"]
    assert 4 <= step_at_kill < 16
    # no temporary checkpoint files are left behind as real checkpoints
    assert all(p.name in ("last.ckpt", "best.ckpt") or p.name.startswith(".")
               for p in (killed / "checkpoints").iterdir())

    done = subprocess.run([*cmd, "--out", str(killed), "--resume"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = _state(full / "checkpoints" / "last.ckpt"), _state(killed / "checkpoints" / "last.ckpt")
    assert a["global_step"] == b["global_step"] == 16
    assert a["genoseq"]["batches_seen"] == b["genoseq"]["batches_seen"] == 16
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    sa, sb = a["optimizer_states"][0]["state"], b["optimizer_states"][0]["state"]
    for i in sa:
        assert torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"])
    assert a["lr_schedulers"][0]["last_epoch"] == b["lr_schedulers"][0]["last_epoch"] == 16


def test_resume_flag_without_checkpoint_and_recipe_mismatch(tiny_pretrain, tmp_path):
    from genoseq.errors import GenoseqError
    from genoseq.train.recipe import load_recipe
    from genoseq.train.rundir import check_resume

    recipe = load_recipe(tiny_pretrain())
    with pytest.raises(GenoseqError, match="--resume: no checkpoint to resume from"):
        check_resume(tmp_path / "new", recipe.to_dict(), resume=True)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"x")
    from genoseq.train.recipe import dump_recipe

    (run / "recipe.yaml").write_text(dump_recipe(recipe))
    assert check_resume(run, recipe.to_dict(), resume=False) == run / "checkpoints" / "last.ckpt"
    changed = recipe.to_dict()
    changed["train"]["lr"] = 5e-4
    changed["trainer"]["max_steps"] = 99  # allowed to change on resume
    with pytest.raises(GenoseqError, match=r"different recipe \(train.lr \(0.001 -> 0.0005\)\)"):
        check_resume(run, changed, resume=False)
