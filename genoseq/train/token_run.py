"""Token-level fine-tuning run: a genome FASTA + a BED of labelled intervals -> per-base classes or values.

:func:`run_token_finetune` is what ``genoseq finetune`` runs for a ``kind: finetune`` recipe with
``data.labels_bed``. It splits the genome like pretraining (``data.val_fraction``, hold-out contigs or a
split BED), trains a model with a per-token head on windows of ``data.seq_len`` (see
:mod:`genoseq.train.token_data`), and writes the usual run directory; ``results.json`` holds per-token
test metrics over the scored bases (accuracy, MCC, macro F1, per-class F1, macro AUROC/AUPRC; or Pearson,
Spearman, MSE), the class names and the bases per class in every split.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from genoseq._atomic import write_json
from genoseq.errors import ConfigError
from genoseq.train.recipe import Recipe, recipe_from_dict


def _stage_recipe(recipe: Recipe) -> Recipe:
    """The pretraining stage as a pretrain recipe: on ``data.fasta`` with the task's own genome split when
    ``corpus: task`` (no held-out base is seen), else on the named genome."""
    from genoseq.train import run

    st = recipe.train.pretrain_stage
    raw = recipe.to_dict()
    raw["data"].update({"labels_bed": None, "task": "unused"})  # run._stage_recipe clears data.task
    raw["train"]["objective"] = "auto"
    if st.corpus == "task":
        raw["train"]["pretrain_stage"]["corpus"] = recipe.data.fasta
    return run._stage_recipe(recipe_from_dict(raw, source=recipe.source))


def run_token_finetune(recipe: Recipe, out: Path, resume: bool = False, command: str | None = None) -> Any:
    """Fine-tune a per-token head on ``data.labels_bed`` over ``data.fasta`` (``kind: finetune``)."""
    import lightning as L

    from genoseq.data.genome import Genome
    from genoseq.data.token_tasks import read_token_labels
    from genoseq.model.build import build_model, with_head
    from genoseq.train import run
    from genoseq.train.callbacks import NonFiniteGuard
    from genoseq.train.datamodules import genome_splits
    from genoseq.train.finetune_module import FinetuneModule
    from genoseq.train.metrics import monitor_for
    from genoseq.train.paths import resolve_path
    from genoseq.train.token_data import TokenData, region_tiles

    t0 = time.perf_counter()
    d, tr, trn = recipe.data, recipe.train, recipe.trainer
    path_kw = {"manifest": d.manifest, "data_dir": d.data_dir, "recipe_path": recipe.source}
    fasta = resolve_path(d.fasta, what="genome FASTA", **path_kw)
    bed = resolve_path(d.labels_bed, what="labels BED", **path_kw)
    split_bed = resolve_path(d.split_bed, what="split BED", **path_kw) if d.split_bed else None
    objective = "token_classification" if tr.objective == "auto" else tr.objective
    task = "classification" if objective == "token_classification" else "regression"
    ckpt = run.prepare_out(recipe, out, resume, command)
    genome = Genome(fasta)
    labels = read_token_labels(bed, genome, label_column=d.label_column, task=task, background=d.background,
                               priority=d.label_priority)
    splits = genome_splits(genome, split_bed=split_bed, val_contigs=d.val_contigs, test_contigs=d.test_contigs,
                           val_fraction=d.val_fraction)
    n_outputs = labels.n_outputs
    notes = [f"{labels.n_intervals} labelled intervals read from {bed}"]
    notes += [f"skipped {n} BED record(s): {why}" for why, n in labels.skipped.items()]

    stage_out, init_from = None, recipe.model.init_from
    st = tr.pretrain_stage
    if st.steps > 0:
        stage_out = out / "pretrain"
        if not ((stage_out / "results.json").is_file() and (stage_out / "model" / "config.json").is_file()):
            run.run_pretrain(_stage_recipe(recipe), stage_out, resume=False)
        init_from = str(stage_out / "model")
        where = "the training regions of data.fasta" if st.corpus == "task" else st.corpus
        notes.append(f"pretraining stage ({st.objective}, {where}, {st.steps} steps) in {stage_out}")

    L.seed_everything(trn.seed, workers=True, verbose=False)
    if init_from:
        from genoseq.model.io import load_model

        base = load_model(run._resolve_model_dir(init_from, recipe) if stage_out is None else Path(init_from))
        model = with_head(base, "token", n_outputs, task=task)
    else:
        cfg = run._model_config(recipe, head="token", n_outputs=n_outputs, task=task)
        if cfg.max_len < d.seq_len:
            cfg = cfg.replace(max_len=d.seq_len)
        model = build_model(cfg)
    model.train()
    if model.config.max_len < d.seq_len:
        raise ConfigError(f"data.seq_len {d.seq_len} is longer than the model's max_len {model.config.max_len}")
    if recipe.model.gradient_checkpointing:
        run.enable_gradient_checkpointing(model)

    guard = NonFiniteGuard(tr.max_nonfinite, out / "checkpoints")
    monitor = monitor_for(objective, tr.monitor)
    world = run._world_size_hint(recipe)
    data_kw = {"seq_len": d.seq_len, "accumulate": tr.accumulate, "seed": trn.seed,
               "train_windows": d.train_windows, "val_windows": d.val_windows, "rc_augment": d.rc_augment,
               "exclude_n": tr.exclude_n, "eval_batch_size": d.batch_size, "num_workers": d.num_workers}
    n_train = len(region_tiles(splits["train"], d.seq_len))  # training windows per epoch (random or tiles)
    max_steps = trn.max_steps
    if max_steps is None:
        max_steps = max(1, math.ceil(trn.max_epochs * n_train / (d.batch_size * world * tr.accumulate)))
    module = FinetuneModule(model, objective, n_outputs, freeze_backbone=recipe.model.freeze_backbone,
                            unfreeze_at_step=recipe.model.unfreeze_at_step, class_names=labels.classes,
                            **run._optim_kwargs(recipe, max_steps))
    module.guard = guard
    trainer = run._make_trainer(recipe, out, monitor, guard, [], max_steps, trn.val_every_n_steps, tr.accumulate)
    data = TokenData(genome, labels, splits, batch_size=d.batch_size * trainer.world_size,
                     start_batch=lambda: module.batches_seen, **data_kw)
    run._fit(trainer, module, data, ckpt, guard)
    best = run._export_best(trainer, module, out)
    metrics = trainer.test(module, datamodule=data, verbose=False)
    test = {k: float(v) for k, v in (metrics[0] if metrics else {}).items()}
    if data.test_on_valid:
        notes.append("no test split: test metrics are computed on every window of the validation split")
    info = {**labels.describe(), "fasta": str(fasta), "seq_len": d.seq_len, "objective": objective}
    if trainer.is_global_zero:
        write_json(out / "model" / "task.json", info)
    results = {
        "kind": "finetune",
        "task": d.labels_bed.split(":", 1)[1] if d.labels_bed.startswith("bundled:") else bed.name,
        "task_kind": objective,
        "objective": objective,
        "classes": labels.classes,
        "background": labels.background,
        "bases": {name: labels.counts(regions) for name, regions in splits.items() if regions},
        "n_train": n_train, "n_dev": len(data.sets["valid"]), "n_test": len(data.sets["test"]),
        "seq_len": d.seq_len,
        **run.run_summary(trainer, guard, monitor[0], t0),
        "test": test,
        "init_from": init_from,
        "notes": notes,
    }
    return run.finish_finetune(trainer, out, results, best, monitor[0], stage_out,
                               f"fine-tune {results['task']} ({objective})")
