"""Run a recipe end to end: pretraining, fine-tuning (with an optional pretraining stage) and the demo.

:func:`run_recipe` is what ``genoseq pretrain | finetune | demo`` call. Every run writes the layout in
:mod:`genoseq.train.rundir`; an existing run directory with a checkpoint is continued exactly.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genoseq._atomic import write_json, write_text
from genoseq.errors import ConfigError, GenoseqError
from genoseq.train.recipe import Recipe, dump_recipe, recipe_from_dict
from genoseq.train.rundir import check_resume


@dataclass
class RunResult:
    """What a run produced (also written to ``results.json``)."""

    out: Path
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def model_dir(self) -> Path:
        return self.out / "model"


# ------------------------------------------------------------------------------------------ models


def _model_config(recipe: Recipe, **extra: Any) -> Any:
    from genoseq.model.config import ModelConfig
    from genoseq.model.presets import get_preset

    cfg = get_preset(recipe.model.preset) if recipe.model.preset else ModelConfig()
    changes = dict(recipe.model.config)
    changes.update(extra)
    return cfg.replace(**changes) if changes else cfg


def build_lm(recipe: Recipe, seq_len: int) -> Any:
    """An LM-head model for pretraining: from ``model.init_from`` or the preset + config overrides
    (``max_len`` raised to ``seq_len`` when shorter)."""
    if recipe.model.init_from:
        from genoseq.model.io import load_model

        model = load_model(_resolve_model_dir(recipe.model.init_from, recipe))
        if model.head_type != "lm":
            raise ConfigError(f"model.init_from {recipe.model.init_from!r} has a {model.head_type!r} head; "
                              "pretraining needs an LM-head model")
        return model.train()  # load_model returns eval mode
    from genoseq.model.build import build_model

    cfg = _model_config(recipe)
    if cfg.max_len < seq_len:
        cfg = cfg.replace(max_len=seq_len)
    return build_model(cfg)


def _resolve_model_dir(text: str, recipe: Recipe) -> Path:
    from genoseq.train.paths import resolve_path

    path = resolve_path(text, recipe_path=recipe.source, what="model directory")
    if not (path / "config.json").is_file():
        raise GenoseqError(f"model.init_from {text!r}: {path} is not a saved genoseq model (no config.json); "
                           "point it at the model/ folder of a pretraining run")
    return path


def lm_objective(recipe_objective: str, model: Any) -> str:
    """causal for causal models, mlm for bidirectional ones; a mismatch is a ConfigError."""
    bidir = bool(model.config.bidirectional)
    objective = recipe_objective if recipe_objective != "auto" else ("mlm" if bidir else "causal")
    if objective == "causal" and bidir:
        raise ConfigError("objective 'causal' needs a causal model, but the model is bidirectional "
                          "(it would see the token it predicts); use objective mlm")
    if objective == "mlm" and not bidir:
        raise ConfigError("objective 'mlm' needs a bidirectional model (model.config.bidirectional: true); "
                          "a causal model cannot see the right context of a masked base")
    return objective


def enable_gradient_checkpointing(model: Any) -> int:
    """Recompute every backbone block in the backward pass.

    genoseq blocks have a ``checkpointing`` switch (``"block"``); other modules get their ``forward``
    wrapped in non-reentrant ``torch.utils.checkpoint`` (parameter names unchanged). The saved model
    config is not changed. Returns the number of blocks.
    """
    import torch.utils.checkpoint as cp

    blocks = getattr(getattr(model, "backbone", model), "blocks", None)
    if blocks is None:
        raise ConfigError("gradient checkpointing: the model's backbone has no .blocks")
    for block in blocks:
        if hasattr(block, "checkpointing"):
            block.checkpointing = "block"
            continue
        original = block.forward

        def forward(*args: Any, _f: Any = original, **kwargs: Any) -> Any:
            return cp.checkpoint(_f, *args, use_reentrant=False, **kwargs)

        block.forward = forward
    return len(blocks)


# ------------------------------------------------------------------------------------------ trainer


def _precision(requested: str) -> str:
    if requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def _make_trainer(recipe: Recipe, out: Path, monitor: tuple[str, str], guard: Any, extra_callbacks: list,
                  max_steps: int, val_every: int, accumulate: int) -> Any:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from genoseq.train.callbacks import AtomicCheckpointIO, Throughput
    from genoseq.train.trainer_setup import make_loggers, select_strategy

    t = recipe.trainer
    _quiet_lightning()
    ckpt_dir = out / "checkpoints"
    last = ModelCheckpoint(dirpath=ckpt_dir, filename="last", every_n_train_steps=t.checkpoint_every_n_steps,
                           save_top_k=1, monitor=None, enable_version_counter=False, save_on_train_epoch_end=False)
    best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor[0], mode=monitor[1], save_top_k=1,
                           enable_version_counter=False, auto_insert_metric_name=False)
    callbacks = [last, best, guard, Throughput(), *extra_callbacks]
    if t.progress_bar:
        try:
            from genoseq.train.callbacks import step_progress_bar

            callbacks.append(step_progress_bar())
        except (ImportError, ModuleNotFoundError):  # rich missing: Lightning's tqdm bar
            pass
    loggers = make_loggers(t, out)
    return L.Trainer(
        accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes, strategy=select_strategy(t),
        precision=_precision(t.precision), max_steps=max_steps, max_epochs=-1,
        max_time={"minutes": t.max_time_minutes} if t.max_time_minutes else None,
        val_check_interval=val_every * accumulate, check_val_every_n_epoch=None,
        limit_val_batches=t.limit_val_batches, log_every_n_steps=t.log_every_n_steps, callbacks=callbacks,
        logger=loggers, plugins=[AtomicCheckpointIO()], use_distributed_sampler=False, num_sanity_val_steps=0,
        deterministic="warn" if t.deterministic else None, enable_model_summary=False,
        enable_progress_bar=t.progress_bar, default_root_dir=str(out),
    )


def _quiet_lightning() -> None:
    """Silence Lightning messages that do not apply to genoseq runs."""
    import logging
    import warnings

    # checkpoints after the optimiser step are what genoseq resumes from (batches_seen counts them)
    warnings.filterwarnings("ignore", message=".*manual optimization and every_n_train_steps.*")
    warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # genoseq reduces validation sums across processes itself before logging
    warnings.filterwarnings("ignore", message=".*It is recommended to use `self.log\\(.*sync_dist=True.*")
    warnings.filterwarnings("ignore", message=".*Consider setting `persistent_workers=True`.*")
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda",
                 "lightning.fabric.utilities.seed"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _callback(trainer: Any, cls: type) -> Any:
    return next((c for c in trainer.callbacks if isinstance(c, cls)), None)


def _best_checkpoint(trainer: Any) -> str | None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    for cb in trainer.callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.monitor is not None and cb.best_model_path:
            return cb.best_model_path
    return None


def _fit(trainer: Any, module: Any, data: Any, ckpt: Path | None, guard: Any) -> None:
    trainer.fit(module, datamodule=data, ckpt_path=str(ckpt) if ckpt else None, weights_only=True)
    if guard.stopped_at is not None:
        raise GenoseqError(guard.message())
    # the final state, so a finished run can be extended (--set trainer.max_steps=...) and compared
    trainer.save_checkpoint(Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt", weights_only=False)
    _final_validation(trainer, module, data)


def _final_validation(trainer: Any, module: Any, data: Any) -> None:
    """Validate the final weights when training stopped between two validations, so the best checkpoint is
    chosen among all candidates (including the end of training)."""
    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint

    if getattr(module, "last_val_step", None) == trainer.global_step:
        return
    best = next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint) and c.monitor is not None), None)
    metrics = trainer.validate(module, datamodule=data, verbose=False)
    if best is None or not metrics or best.monitor not in metrics[0]:
        return
    value = float(metrics[0][best.monitor])
    old = None if best.best_model_score is None else float(best.best_model_score)
    if old is None or (value < old if best.mode == "min" else value > old):
        path = Path(trainer.default_root_dir) / "checkpoints" / "best.ckpt"
        trainer.save_checkpoint(path, weights_only=False)
        best.best_model_path, best.best_model_score = str(path), torch.tensor(value)


def _export_best(trainer: Any, module: Any, out: Path) -> str | None:
    """Load the best checkpoint's weights into ``module.model`` and save_pretrained it to out/model."""
    from genoseq.train.callbacks import load_checkpoint_file

    best = _best_checkpoint(trainer)
    if best:
        state = load_checkpoint_file(best)["state_dict"]
        module.load_state_dict(state)
    if trainer.is_global_zero:
        module.model.save_pretrained(out / "model")
    return best


def _throughput(trainer: Any) -> float:
    from genoseq.train.callbacks import Throughput

    cb = _callback(trainer, Throughput)
    return cb.tokens_per_second if cb else 0.0


def _plot(out: Path, title: str, monitor: str) -> str | None:
    from genoseq.train.plotting import plot_curves

    csv_path = out / "logs" / "metrics.csv"
    if not csv_path.is_file():
        return None
    return str(plot_curves(csv_path, out / "curves.png", title=title, monitor=monitor))


def _metric_value(metrics: dict[str, Any], key: str) -> float | None:
    v = metrics.get(key)
    return None if v is None else float(v)


# ------------------------------------------------------------------------------------------ runs


def prepare_out(recipe: Recipe, out: Path, resume: bool, command: str | None) -> Path | None:
    """Check the trainer section fits this machine, create the run directory, check a resumption, write
    the resolved recipe; the checkpoint or None."""
    from genoseq.train.trainer_setup import check_trainer

    check_trainer(recipe.trainer)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = check_resume(out, recipe.to_dict(), resume)
    write_text(out / "recipe.yaml", dump_recipe(recipe, command))
    return ckpt


def run_pretrain(recipe: Recipe, out: Path, resume: bool = False, command: str | None = None) -> RunResult:
    """Pretrain on genome windows (``kind: pretrain``)."""
    import lightning as L

    from genoseq.data.genome import Genome
    from genoseq.train.callbacks import NonFiniteGuard, SeqLenWarmup
    from genoseq.train.datamodules import PretrainData, genome_splits
    from genoseq.train.lm_module import LMModule
    from genoseq.train.metrics import monitor_for
    from genoseq.train.paths import resolve_path
    from genoseq.train.sampling import SeqLenSchedule, Stage

    t0 = time.perf_counter()
    ckpt = prepare_out(recipe, out, resume, command)
    d, tr, trn = recipe.data, recipe.train, recipe.trainer
    L.seed_everything(trn.seed, workers=True, verbose=False)
    model = build_lm(recipe, d.seq_len)
    objective = lm_objective(tr.objective, model)
    if recipe.model.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    path_kw = {"manifest": d.manifest, "data_dir": d.data_dir, "recipe_path": recipe.source}
    genome = Genome(resolve_path(d.fasta, what="genome FASTA", **path_kw))
    split_bed = resolve_path(d.split_bed, what="split BED", **path_kw) if d.split_bed else None
    splits = genome_splits(genome, split_bed=split_bed, val_contigs=d.val_contigs, test_contigs=d.test_contigs,
                           val_fraction=d.val_fraction)
    guard = NonFiniteGuard(tr.max_nonfinite, out / "checkpoints")
    monitor = monitor_for(objective, tr.monitor)
    module = LMModule(model, objective=objective, exclude_n=tr.exclude_n, soft_mask_weight=tr.soft_mask_weight,
                      **_optim_kwargs(recipe, trn.max_steps))
    module.guard = guard
    stages = ([Stage(s.seq_len, s.batch_size, s.steps) for s in tr.seq_len_warmup]
              or [Stage(d.seq_len, d.batch_size, None)])
    warmup = [SeqLenWarmup(SeqLenSchedule(stages))] if tr.seq_len_warmup else []
    trainer = _make_trainer(recipe, out, monitor, guard, warmup, trn.max_steps, trn.val_every_n_steps,
                            tr.accumulate)
    world = trainer.world_size
    schedule = SeqLenSchedule([Stage(s.seq_len, s.batch_size * world, s.steps) for s in stages])
    data = PretrainData(genome, splits, schedule, accumulate=tr.accumulate, seed=trn.seed,
                        rc_augment=d.rc_augment, objective=objective, mask_prob=tr.mask_prob,
                        exclude_n=tr.exclude_n, val_windows=d.val_windows, eval_batch_size=max(1, d.batch_size),
                        num_workers=d.num_workers, start_batch=lambda: module.batches_seen)
    _fit(trainer, module, data, ckpt, guard)
    best = _export_best(trainer, module, out)
    test: dict[str, float] = {}
    if splits.get("test"):
        metrics = trainer.test(module, datamodule=data, verbose=False)
        test = {k: float(v) for k, v in (metrics[0] if metrics else {}).items()}
    results = {
        "kind": "pretrain",
        "objective": objective,
        **run_summary(trainer, guard, monitor[0], t0),
        "test": test,
    }
    return _finish(trainer, out, results, best, monitor[0], f"pretrain ({objective})")


def _best_scores(trainer: Any) -> dict[str, Any]:
    from lightning.pytorch.callbacks import ModelCheckpoint

    for cb in trainer.callbacks:
        if isinstance(cb, ModelCheckpoint) and cb.monitor is not None and cb.best_model_score is not None:
            return {cb.monitor: float(cb.best_model_score)}
    return {}


def _finish(trainer: Any, out: Path, results: dict[str, Any], best: str | None, monitor: str, title: str
            ) -> RunResult:
    results["paths"] = {
        "run": str(out),
        "model": str(out / "model"),
        "best_checkpoint": best,
        "last_checkpoint": str(out / "checkpoints" / "last.ckpt"),
        "metrics_csv": str(out / "logs" / "metrics.csv"),
        "recipe": str(out / "recipe.yaml"),
    }
    if trainer.is_global_zero:
        results["paths"]["plot"] = _plot(out, title, monitor)
        write_json(out / "results.json", results)
    return RunResult(out, results)


def _optim_kwargs(recipe: Recipe, total_steps: int, lr: float | None = None, warmup: int | None = None
                  ) -> dict[str, Any]:
    tr = recipe.train
    return {
        "lr": lr if lr is not None else tr.lr, "weight_decay": tr.weight_decay, "betas": tuple(tr.betas),
        "eps": tr.eps, "filter_lr": tr.filter_lr, "warmup_steps": warmup if warmup is not None else tr.warmup_steps,
        "total_steps": total_steps, "min_lr_ratio": tr.min_lr_ratio, "grad_clip": tr.grad_clip,
        "accumulate": tr.accumulate,
    }


def _stage_recipe(recipe: Recipe) -> Recipe:
    """The pretraining stage of a fine-tune recipe as a pretrain recipe (genome corpus) or an equivalent
    description (task corpus: self-pretraining)."""
    st = recipe.train.pretrain_stage
    raw = recipe.to_dict()
    raw["kind"] = "pretrain"
    raw["data"]["fasta"] = st.corpus if st.corpus != "task" else "task"
    raw["data"]["task"] = None
    raw["data"]["seq_len"] = st.seq_len
    raw["data"]["batch_size"] = st.batch_size
    if st.corpus != "task" and not (raw["data"]["split_bed"] or raw["data"]["val_contigs"]
                                    or raw["data"]["val_fraction"]):
        raw["data"]["val_fraction"] = 0.02
    raw["train"].update({"objective": st.objective, "lr": st.lr, "warmup_steps": st.warmup_steps,
                         "seq_len_warmup": [], "monitor": "auto"})
    raw["trainer"].update({"max_steps": st.steps, "max_epochs": None, "val_every_n_steps": st.val_every_n_steps,
                           "checkpoint_every_n_steps": min(recipe.trainer.checkpoint_every_n_steps, st.steps)})
    raw["model"]["init_from"] = recipe.model.init_from
    return recipe_from_dict(raw, source=recipe.source)


def run_self_pretrain(recipe: Recipe, task_splits: dict[str, Any], out: Path, resume: bool) -> RunResult:
    """Pretraining stage on the task's own training sequences (validation on dev)."""
    import lightning as L

    from genoseq.train.callbacks import NonFiniteGuard
    from genoseq.train.datamodules import TaskLMData
    from genoseq.train.lm_module import LMModule
    from genoseq.train.metrics import monitor_for

    t0 = time.perf_counter()
    stage_recipe = _stage_recipe(recipe)
    ckpt = prepare_out(stage_recipe, out, resume, None)
    st, trn = recipe.train.pretrain_stage, recipe.trainer
    L.seed_everything(trn.seed, workers=True, verbose=False)
    max_len = recipe.data.max_len
    longest = max(len(s) for s in task_splits["train"].sequences)
    model = build_lm(stage_recipe, min(longest, max_len or longest))
    objective = lm_objective(st.objective, model)
    guard = NonFiniteGuard(recipe.train.max_nonfinite, out / "checkpoints")
    monitor = monitor_for(objective)
    module = LMModule(model, objective=objective, exclude_n=recipe.train.exclude_n,
                      **_optim_kwargs(stage_recipe, st.steps, lr=st.lr, warmup=st.warmup_steps))
    module.guard = guard
    trainer = _make_trainer(stage_recipe, out, monitor, guard, [], st.steps, st.val_every_n_steps,
                            recipe.train.accumulate)
    data = TaskLMData(task_splits["train"].sequences, task_splits["dev"].sequences,
                      batch_size=st.batch_size * trainer.world_size, objective=objective,
                      accumulate=recipe.train.accumulate, seed=trn.seed, max_len=max_len,
                      rc_augment=recipe.data.rc_augment, mask_prob=recipe.train.mask_prob,
                      exclude_n=recipe.train.exclude_n, num_workers=recipe.data.num_workers,
                      start_batch=lambda: module.batches_seen)
    _fit(trainer, module, data, ckpt, guard)
    best = _export_best(trainer, module, out)
    results = {
        "kind": "self-pretrain", "objective": objective, **run_summary(trainer, guard, monitor[0], t0),
    }
    return _finish(trainer, out, results, best, monitor[0], f"self-pretraining ({objective})")


def run_finetune(recipe: Recipe, out: Path, resume: bool = False, command: str | None = None) -> RunResult:
    """Fine-tune on a labelled task (``kind: finetune``), after an optional pretraining stage. With
    ``data.labels_bed`` the task is token-level (:func:`genoseq.train.token_run.run_token_finetune`)."""
    if recipe.data.labels_bed is not None:
        from genoseq.train.token_run import run_token_finetune

        return run_token_finetune(recipe, out, resume=resume, command=command)
    from genoseq.train.paths import resolve_path

    d = recipe.data
    task_path = resolve_path(d.task, manifest=d.manifest, data_dir=d.data_dir, recipe_path=recipe.source,
                             what="task")
    import lightning as L

    from genoseq.data.tasks import read_task
    from genoseq.model.build import build_model, with_head
    from genoseq.train.callbacks import NonFiniteGuard
    from genoseq.train.datamodules import FinetuneData, ensure_dev_split, task_objective
    from genoseq.train.finetune_module import FinetuneModule
    from genoseq.train.metrics import monitor_for

    t0 = time.perf_counter()
    tr, trn = recipe.train, recipe.trainer
    ckpt = prepare_out(recipe, out, resume, command)
    task = read_task(task_path)
    splits, notes = ensure_dev_split(task, seed=trn.seed if d.dev_seed is None else d.dev_seed)
    objective = task_objective(task.kind) if tr.objective == "auto" else tr.objective
    if objective != task_objective(task.kind):
        raise ConfigError(f"train.objective {objective!r} does not fit task {task.name!r} of kind {task.kind!r} "
                          f"(use {task_objective(task.kind)!r} or auto)")
    n_outputs = task.n_outputs
    head_task = {"classification": "classification", "multilabel": "multilabel", "regression": "regression"}[objective]

    stage_out = None
    init_from = recipe.model.init_from
    st = tr.pretrain_stage
    if st.steps > 0:
        stage_out = out / "pretrain"
        if (stage_out / "results.json").is_file() and (stage_out / "model" / "config.json").is_file():
            pass  # finished earlier (this run is being resumed)
        elif st.corpus == "task":
            run_self_pretrain(recipe, splits, stage_out, resume=False)
        else:
            run_pretrain(_stage_recipe(recipe), stage_out, resume=False)
        init_from = str(stage_out / "model")
        notes.append(f"pretraining stage ({st.objective}, corpus {st.corpus}, {st.steps} steps) in {stage_out}")

    L.seed_everything(trn.seed, workers=True, verbose=False)
    if init_from:
        from genoseq.model.io import load_model

        base = load_model(_resolve_model_dir(init_from, recipe) if stage_out is None else Path(init_from))
        model = with_head(base, "sequence", n_outputs, pooling=recipe.model.pooling, task=head_task)
    else:
        longest = max(len(s) for s in splits["train"].sequences)
        cfg = _model_config(recipe, head="sequence", n_outputs=n_outputs, pooling=recipe.model.pooling,
                            task=head_task)
        if cfg.max_len < min(longest, d.max_len or longest):
            cfg = cfg.replace(max_len=min(longest, d.max_len or longest))
        model = build_model(cfg)
    model.train()  # load_model returns eval mode
    if recipe.model.gradient_checkpointing:
        enable_gradient_checkpointing(model)

    world_batch = d.batch_size
    guard = NonFiniteGuard(tr.max_nonfinite, out / "checkpoints")
    monitor = monitor_for(objective, tr.monitor)
    if trn.max_steps is not None:
        max_steps = trn.max_steps
    else:
        max_steps = None  # set after the trainer knows the world size
    # the trainer needs max_steps; compute it from epochs with the per-device batch x world size
    probe_world = _world_size_hint(recipe)
    if max_steps is None:
        per_step = world_batch * probe_world * tr.accumulate
        max_steps = max(1, math.ceil(trn.max_epochs * len(splits["train"]) / per_step))
    module = FinetuneModule(model, objective, n_outputs, freeze_backbone=recipe.model.freeze_backbone,
                            unfreeze_at_step=recipe.model.unfreeze_at_step, **_optim_kwargs(recipe, max_steps))
    module.guard = guard
    trainer = _make_trainer(recipe, out, monitor, guard, [], max_steps, trn.val_every_n_steps, tr.accumulate)
    data = FinetuneData(splits, batch_size=d.batch_size * trainer.world_size, accumulate=tr.accumulate,
                        seed=trn.seed, max_len=d.max_len, rc_augment=d.rc_augment, eval_batch_size=d.batch_size,
                        num_workers=d.num_workers, start_batch=lambda: module.batches_seen)
    _fit(trainer, module, data, ckpt, guard)
    best = _export_best(trainer, module, out)
    metrics = trainer.test(module, datamodule=data, verbose=False)
    test = {k: float(v) for k, v in (metrics[0] if metrics else {}).items()}
    if trainer.is_global_zero:
        write_json(out / "model" / "task.json", task.to_dict())
    results = {
        "kind": "finetune",
        "task": task.name,
        "task_kind": task.kind,
        "objective": objective,
        "n_train": len(splits["train"]), "n_dev": len(splits["dev"]), "n_test": len(splits["test"]),
        **run_summary(trainer, guard, monitor[0], t0),
        "test": test,
        "init_from": init_from,
        "notes": notes,
    }
    return finish_finetune(trainer, out, results, best, monitor[0], stage_out, f"fine-tune {task.name} ({objective})")


def run_summary(trainer: Any, guard: Any, metric: str, t0: float) -> dict[str, Any]:
    """The results.json fields every run reports: steps, tokens/s, skipped steps, best metric, wall time."""
    return {
        "steps": int(trainer.global_step),
        "tokens_per_second": round(_throughput(trainer), 1),
        "nonfinite_steps_skipped": guard.total,
        "best": {"metric": metric, "value": _metric_value(_best_scores(trainer), metric)},
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }


def finish_finetune(trainer: Any, out: Path, results: dict[str, Any], best: Any, metric: str,
                    stage_out: Path | None, label: str) -> RunResult:
    """Record the pretraining stage's directory (if any) and finish a fine-tuning run."""
    if stage_out is not None:
        results["pretrain_stage"] = str(stage_out)
    return _finish(trainer, out, results, best, metric, label)


def _world_size_hint(recipe: Recipe) -> int:
    devices = recipe.trainer.devices
    n = len(devices) if isinstance(devices, list) else devices if isinstance(devices, int) else 1
    return max(1, n) * recipe.trainer.num_nodes


def run_recipe(recipe: Recipe, out: str | Path, resume: bool = False, command: str | None = None) -> RunResult:
    """Run a validated recipe into ``out`` (pretrain or finetune according to ``recipe.kind``)."""
    out = Path(out)
    fn = run_pretrain if recipe.kind == "pretrain" else run_finetune
    return fn(recipe, out, resume=resume, command=command)


@functools.lru_cache(maxsize=1)
def demo_recipe_path() -> Path:
    """recipes/demo.yaml as installed (package ``genoseq.recipes``)."""
    from importlib import resources

    path = Path(str(resources.files("genoseq.recipes").joinpath("demo.yaml")))
    if not path.is_file():
        raise GenoseqError(f"the demo recipe is missing from the installation ({path})")
    return path
