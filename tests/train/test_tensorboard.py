"""TensorBoard logging: the events hold the same scalars as the CSV log; trainer.tensorboard switches it."""

from __future__ import annotations

import builtins
import importlib.util

import pytest

from genoseq.errors import ConfigError
from genoseq.train.plotting import read_metrics
from genoseq.train.recipe import load_recipe
from genoseq.train.run import run_recipe
from genoseq.train.trainer_setup import make_loggers

HAVE_TB = importlib.util.find_spec("tensorboard") is not None


def _scalars(tb_dir) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(str(tb_dir), size_guidance={ea.SCALARS: 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@pytest.mark.skipif(not HAVE_TB, reason="tensorboard is not installed (pip install tensorboard)")
def test_tensorboard_scalars_equal_csv(tiny_pretrain, tmp_path):
    recipe = load_recipe(tiny_pretrain(data={"val_windows": 2}, trainer={
        "max_steps": 3, "val_every_n_steps": 2, "checkpoint_every_n_steps": 3, "tensorboard": True}))
    run_recipe(recipe, tmp_path / "run")
    tb_dir = tmp_path / "run" / "logs" / "tb"
    assert list(tb_dir.glob("events.out.tfevents.*"))
    tb = _scalars(tb_dir)
    csv = read_metrics(tmp_path / "run" / "logs" / "metrics.csv")
    assert [s for s, _ in tb["train/loss"]] == [0, 1, 2]  # log_every_n_steps: 1
    assert len(tb["val/loss"]) == 2  # after step 2 and the final weights
    for key in ("train/loss", "train/lr", "val/loss", "test/loss"):
        assert [s for s, _ in tb[key]] == [s for s, _ in csv[key]], key
        # both hold the logged float32 value (the CSV prints it in full)
        assert [v for _, v in tb[key]] == [v for _, v in csv[key]], key
    assert "hp_metric" not in tb


def test_tensorboard_false_writes_csv_only(tiny_pretrain, tmp_path):
    recipe = load_recipe(tiny_pretrain(trainer={"max_steps": 2, "val_every_n_steps": 2,
                                                "checkpoint_every_n_steps": 2, "tensorboard": False}))
    run_recipe(recipe, tmp_path / "run")
    assert (tmp_path / "run" / "logs" / "metrics.csv").is_file()
    assert not (tmp_path / "run" / "logs" / "tb").exists()


@pytest.fixture
def no_tensorboard(monkeypatch):
    """Make ``import tensorboard`` / ``import tensorboardX`` fail."""
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.split(".")[0] in ("tensorboard", "tensorboardX"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    monkeypatch.setattr("importlib.import_module", lambda name, package=None: fake(name))


@pytest.mark.parametrize("mode", ["auto", False])
def test_without_tensorboard_auto_and_false_log_csv_only(no_tensorboard, tiny_pretrain, tmp_path, mode):
    trainer = load_recipe(tiny_pretrain(trainer={"tensorboard": mode})).trainer
    loggers = make_loggers(trainer, tmp_path)
    assert [type(lg).__name__ for lg in loggers] == ["CSVLogger"]


def test_without_tensorboard_true_fails_before_the_run(no_tensorboard, tiny_pretrain, tmp_path):
    recipe = load_recipe(tiny_pretrain(trainer={"tensorboard": True}))
    with pytest.raises(ConfigError, match=r"trainer.tensorboard is true, but neither tensorboard nor "
                                          r"tensorboardX can be imported; pip install tensorboard"):
        run_recipe(recipe, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_tensorboard_must_be_bool_or_auto(tiny_pretrain):
    with pytest.raises(ConfigError, match=r"'trainer.tensorboard' must be bool or 'auto', got 'yes'"):
        load_recipe(tiny_pretrain(trainer={"tensorboard": "yes"}))
