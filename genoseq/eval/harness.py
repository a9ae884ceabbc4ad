"""``genoseq evaluate``: run a suite's tasks x modes x seeds (and baselines), write results and a report.

Every (task, model, mode, seed) gives one row of ``OUT/results.csv``; rows already there are kept and not
run again (an interrupted evaluation continues where it stopped; ``overwrite=True`` starts afresh).
The dev split (or a fixed 10% of train, ``split_seed``, when a task has none) selects checkpoints, probe
strengths and baseline hyperparameters; the test split is predicted once per row.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genoseq._atomic import write_json
from genoseq.errors import ConfigError
from genoseq.eval.metrics import ALL_METRICS
from genoseq.eval.suites import Suite, get_suite, resolve_tasks

MODES = ("finetune", "probe", "zero-shot")
# baselines whose fit does not depend on the seed (lbfgs logistic regression on fixed features): run once
DETERMINISTIC_BASELINES = ("kmer_lr",)
# results.csv metric -> the fine-tuning run's dev metric that picks the checkpoint (r2 has none: auto)
_MONITOR = {"mcc": "mcc", "accuracy": "acc", "f1": "f1", "auroc": "auroc", "auprc": "auprc", "pearson": "pearson",
            "spearman": "spearman"}


@dataclass
class EvalRequest:
    """What to evaluate.

    Attributes:
        suite: ``gue``, ``genomic_benchmarks``, ``nt`` or ``local``.
        out: output folder (results.csv, summary.csv, results.md, results.png, runs/, evaluation.json).
        data_dir: the suite's data folder (default: the suite's fetch location; required for ``local``).
        model: a model directory (config.json + model.safetensors), a preset name, or None for the suite
            recipe's model (trained from scratch).
        tasks: task ids or short names; None/``["all"]`` = all, ``["available"]`` = those present.
        modes: any of ``finetune``, ``probe``, ``zero-shot``.
        baselines: baseline names run beside the model (:data:`genoseq.eval.baselines.BASELINES`).
        seeds: number of seeds (0, 1, ...).
        overrides: ``--set`` strings applied to the suite recipe after the harness's own settings.
        max_minutes: wall-time limit of each fine-tuning run (trainer.max_time_minutes).
        metric: the official metric (default: the suite's).
        split_seed: seed of the dev hold-out for tasks without a dev split (fixed across model seeds).
        overwrite: recompute rows already in ``out/results.csv``.
    """

    suite: str
    out: Path
    data_dir: Path | None = None
    model: str | None = None
    tasks: list[str] | None = None
    modes: list[str] = field(default_factory=lambda: ["finetune"])
    baselines: list[str] = field(default_factory=list)
    seeds: int = 3
    overrides: list[str] = field(default_factory=list)
    max_minutes: float | None = None
    metric: str | None = None
    split_seed: int = 0
    overwrite: bool = False


@dataclass
class ModelSpec:
    """How ``--model`` was understood: ``kind`` is ``dir``, ``preset`` or ``recipe``."""

    name: str
    kind: str
    value: str | None


def resolve_model(text: str | None, recipe_preset: str | None) -> ModelSpec:
    """A model directory, a preset name, or None (the suite recipe's model)."""
    from genoseq.model.presets import PRESETS

    if text is None:
        return ModelSpec(f"{recipe_preset or 'model'}-scratch", "recipe", None)
    path = Path(text).expanduser()
    if (path / "config.json").is_file():
        full = path.resolve()  # runs/NAME/model (written by genoseq pretrain/finetune) is called NAME
        return ModelSpec(full.parent.name if full.name == "model" else full.name, "dir", str(full))
    if text in PRESETS:
        return ModelSpec(text, "preset", text)
    if path.exists():
        raise ConfigError(f"--model {text}: not a model directory (no config.json in it)")
    raise ConfigError(f"--model {text!r} is neither a model directory nor a preset; presets: {', '.join(PRESETS)}")


def evaluate(req: EvalRequest, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run an evaluation; returns ``{"rows": [...], "paths": {...}, "skipped": [...]}``."""
    from genoseq.eval.report import read_results, write_results

    suite = get_suite(req.suite)
    bad = sorted(set(req.modes) - set(MODES))
    if bad:
        raise ConfigError(f"unknown mode(s) {bad}; choose from {', '.join(MODES)}")
    if "zero-shot" in req.modes:
        raise ConfigError(f"no task of suite {suite.name!r} defines a zero-shot evaluation (they are supervised "
                          "classification tasks); for zero-shot variant-effect benchmarks use `genoseq evaluate "
                          "variants`")
    if req.baselines:
        from genoseq.eval.baselines import BASELINES

        unknown = sorted(set(req.baselines) - set(BASELINES))
        if unknown:
            raise ConfigError(f"unknown baseline(s) {unknown}; choose from {', '.join(BASELINES)}")
    if req.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {req.seeds}")
    if not req.modes and not req.baselines:
        raise ConfigError("nothing to run: give a --mode or --baselines")
    data_dir = _data_dir(suite, req.data_dir)
    tasks = resolve_tasks(suite, data_dir, req.tasks)
    metric = req.metric or suite.metric
    if metric not in ALL_METRICS:
        raise ConfigError(f"--metric must be one of {', '.join(ALL_METRICS)}, got {metric!r}")
    out = Path(req.out)
    out.mkdir(parents=True, exist_ok=True)
    recipe_path = _suite_recipe_path(suite)
    spec = resolve_model(req.model, _recipe_preset(recipe_path)) if req.modes else None

    rows: list[dict[str, Any]] = []
    if (out / "results.csv").is_file() and not req.overwrite:
        rows = [r for r in read_results(out / "results.csv") if r["suite"] == suite.name]
        if rows:
            log(f"continuing {out / 'results.csv'}: {len(rows)} row(s) kept (--overwrite to recompute)")
    done = {(r["task"], r["model"], r["mode"], int(r["seed"])) for r in rows}
    skipped: list[dict[str, str]] = []
    t_start = time.perf_counter()
    paths: dict[str, Path] = {}
    _write_request(out, req, suite, data_dir, tasks, metric, spec)

    def record(row: dict[str, Any]) -> None:
        nonlocal paths
        rows.append(row)
        paths = write_results(rows, out, suite.name, metric)
        log(f"{row['task']:<24} {row['model']:<20} {row['mode']:<9} seed {row['seed']}: {metric} "
            f"{row[metric]:.4f} ({row['train_seconds']:.0f} s)")

    for task_id in tasks:
        task, splits, notes = _read_task(data_dir, task_id, req.split_seed)
        sizes = {f"n_{k}": len(splits[k]) for k in ("train", "dev", "test")}
        base = {"suite": suite.name, "task": task_id if task_id != "." else task.name}
        for note in notes:
            log(f"{base['task']}: {note}")
        cached_features: dict[str, Any] | None = None
        for seed in range(req.seeds):
            for mode in req.modes:
                key = (base["task"], spec.name, mode, seed)
                if key in done or (seed > 0 and mode == "probe" and spec.kind == "dir"):
                    continue  # a saved model's probe is deterministic: run once (seed 0)
                if mode == "finetune":
                    res = _finetune(suite, recipe_path, spec, data_dir, task_id, task, splits, seed, req, metric, out)
                else:
                    if cached_features is None or spec.kind != "dir":
                        cached_features = _probe_features(spec, recipe_path, req, splits, seed)
                    from genoseq.eval.modes import run_probe_mode

                    features, params, seconds = cached_features
                    res = run_probe_mode(features, splits, task.kind, task.n_classes, metric, params, seconds)
                record(_row(base, spec.name, mode, seed, res.metrics, res.train_seconds, res.parameters, sizes,
                            res.details))
            for name in req.baselines:
                key = (base["task"], name, "baseline", seed)
                if key in done or (seed > 0 and name in DETERMINISTIC_BASELINES):
                    continue
                from genoseq.eval.baselines import run_baseline
                from genoseq.eval.modes import test_metrics

                try:
                    fit = run_baseline(name, splits["train"], splits["dev"], splits["test"], task.n_classes,
                                       seed=seed, select_metric=metric)
                except ConfigError as err:
                    skipped.append({"task": base["task"], "model": name, "seed": str(seed), "reason": str(err)})
                    log(f"{base['task']}: baseline {name} skipped: {err}")
                    continue
                record(_row(base, name, "baseline", seed, test_metrics(task.kind, splits["test"].labels, fit.probs),
                            fit.train_seconds, fit.parameters, sizes, fit.details))
    wall = time.perf_counter() - t_start
    write_json(out / "evaluation.json", {**json.loads((out / "evaluation.json").read_text()),
                                         "wall_seconds": round(wall, 1), "skipped": skipped,
                                         "rows": len(rows)})
    if not paths and rows:
        paths = write_results(rows, out, suite.name, metric)
    log(f"{len(rows)} row(s) in {out / 'results.csv'} ({wall:.0f} s)" + (f"; {len(skipped)} skipped" if skipped else ""))
    return {"rows": rows, "paths": paths, "skipped": skipped, "wall_seconds": wall}


# ------------------------------------------------------------------------------------------- pieces
def _data_dir(suite: Suite, given: Path | None) -> Path:
    if given is not None:
        return Path(given).expanduser()
    if suite.default_data_dir is None:
        raise ConfigError(f"suite {suite.name!r} needs --data DIR (a folder of train/dev/test files or of task folders)")
    return Path(suite.default_data_dir).expanduser()


def _suite_recipe_path(suite: Suite) -> Path:
    from importlib import resources

    return Path(str(resources.files("genoseq.recipes").joinpath(suite.recipe)))


def _recipe_preset(recipe_path: Path) -> str | None:
    import yaml

    return (yaml.safe_load(recipe_path.read_text()).get("model") or {}).get("preset")


def _read_task(data_dir: Path, task_id: str, split_seed: int) -> tuple[Any, dict[str, Any], list[str]]:
    from genoseq.data.tasks import read_task
    from genoseq.train.datamodules import ensure_dev_split

    task = read_task(data_dir / task_id)
    splits, notes = ensure_dev_split(task, seed=split_seed)
    return task, splits, notes


def _slug(text: str) -> str:
    return text.replace("/", "_").replace(".", "_") or "task"


def _recipe(suite: Suite, recipe_path: Path, spec: ModelSpec, data_dir: Path, task_id: str, seed: int,
            req: EvalRequest, metric: str) -> Any:
    from genoseq.train.recipe import load_recipe

    sets = [*suite.overrides.get(task_id, ()), f"data.data_dir={data_dir.resolve()}", f"data.task={task_id}",
            f"data.manifest={suite.manifest}" if suite.manifest else "data.manifest=null",
            f"trainer.seed={seed}", f"data.dev_seed={req.split_seed}", f"train.monitor={_MONITOR.get(metric, 'auto')}"]
    if spec.kind == "dir":
        sets.append(f"model.init_from={spec.value}")
    elif spec.kind == "preset":
        sets += [f"model.preset={spec.value}", "model.config={}"]
    if req.max_minutes is not None:
        sets.append(f"trainer.max_time_minutes={req.max_minutes}")
    return load_recipe(recipe_path, [*sets, *req.overrides])


def _finetune(suite: Suite, recipe_path: Path, spec: ModelSpec, data_dir: Path, task_id: str, task: Any,
              splits: dict[str, Any], seed: int, req: EvalRequest, metric: str, out: Path) -> Any:
    from genoseq.eval.modes import run_finetune_mode

    recipe = _recipe(suite, recipe_path, spec, data_dir, task_id, seed, req, metric)
    run_dir = out / "runs" / _slug(task_id if task_id != "." else task.name) / _slug(spec.name) / f"seed{seed}"
    return run_finetune_mode(recipe, run_dir, task.kind, splits["test"], recipe.data.max_len)


def _probe_features(spec: ModelSpec, recipe_path: Path, req: EvalRequest, splits: dict[str, Any], seed: int
                    ) -> tuple[dict[str, Any], int, float]:
    import torch

    from genoseq.eval.modes import count_parameters, embed_splits

    if spec.kind == "dir":
        from genoseq.model.io import load_model

        model = load_model(spec.value)
    else:
        from genoseq.model.build import build_model
        from genoseq.train.recipe import load_recipe
        from genoseq.train.run import _model_config

        sets = [f"model.preset={spec.value}", "model.config={}"] if spec.kind == "preset" else []
        recipe = load_recipe(recipe_path, [*sets, *req.overrides])
        cfg = _model_config(recipe)
        longest = max(len(s) for split in splits.values() for s in split.sequences)
        if cfg.max_len < longest:
            cfg = cfg.replace(max_len=longest)
        torch.manual_seed(seed)
        model = build_model(cfg)  # randomly initialised: a floor for what pretraining adds
    features, seconds = embed_splits(model, splits)
    return features, count_parameters(model), seconds


def _row(base: dict[str, Any], model: str, mode: str, seed: int, metrics: dict[str, float], seconds: float,
         parameters: int, sizes: dict[str, int], details: str) -> dict[str, Any]:
    row = {**base, "model": model, "mode": mode, "seed": seed}
    row.update({m: float(metrics.get(m, math.nan)) for m in ALL_METRICS})
    row.update({"train_seconds": round(float(seconds), 2), "parameters": int(parameters), **sizes,
                "details": details})
    return row


def _write_request(out: Path, req: EvalRequest, suite: Suite, data_dir: Path, tasks: list[str], metric: str,
                   spec: ModelSpec | None) -> None:
    import torch

    import genoseq

    info = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(req).items()}
    info.update({"data_dir": str(data_dir.resolve()), "tasks": tasks, "metric": metric,
                 "suite_source": suite.source, "model_spec": asdict(spec) if spec else None,
                 "dev_split": "the task's dev split" if suite.has_dev else
                 f"10% of train held out with seed {req.split_seed} (same for every model and seed)",
                 "versions": {"genoseq": genoseq.__version__, "torch": torch.__version__,
                              "python": platform.python_version()},
                 "machine": {"platform": platform.platform(), "cpus": _cpus()}})
    write_json(out / "evaluation.json", info)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
