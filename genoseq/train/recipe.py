"""Recipes: one self-contained YAML file per run, validated into dataclasses.

A recipe has a ``kind`` (``pretrain`` or ``finetune``) and four sections, ``model``, ``data``,
``train`` and ``trainer``. There are no includes and no interpolation. Loading checks every key
against the dataclasses below: an unknown key raises :class:`~genoseq.errors.ConfigError` naming the
key, its section and the closest valid key; values are type- and range-checked. Command-line
overrides ``--set train.lr=3e-4`` are YAML-parsed and applied before validation.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from genoseq.errors import ConfigError


def _f(default: Any = dataclasses.MISSING, *, lo: float | None = None, hi: float | None = None,
       lo_open: bool = False, doc: str = "", factory: Any = None) -> Any:
    """A dataclass field carrying its allowed range and a one-line description."""
    meta = {"lo": lo, "hi": hi, "lo_open": lo_open, "doc": doc}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ModelSection:
    """What to build: a preset, field overrides, or a pretrained directory."""

    preset: str | None = _f("hyenadna-tiny", doc="name in genoseq.model.presets.PRESETS")
    config: dict[str, Any] = _f(factory=dict, doc="ModelConfig fields overriding the preset")
    init_from: str | None = _f(None, doc="pretrained model directory (save_pretrained format)")
    pooling: Literal["mean", "cls", "last", "max"] = _f("mean", doc="sequence-head pooling")
    freeze_backbone: bool = _f(False, doc="train only the head")
    unfreeze_at_step: int | None = _f(None, lo=0, doc="unfreeze a frozen backbone at this optimiser step")
    gradient_checkpointing: bool = _f(False, doc="recompute block activations in the backward pass")


@dataclass
class DataSection:
    """Where the examples come from (genome windows for pretraining, a labelled task for fine-tuning)."""

    fasta: str | None = _f(None, doc="genome FASTA path or bundled:NAME (pretraining)")
    manifest: str | None = _f(None, doc="data manifest that provides the files (genoseq data fetch NAME)")
    data_dir: str | None = _f(None, doc="directory the manifest's files were fetched into")
    split_bed: str | None = _f(None, doc="BED with a 4th column train/valid/test (pretraining split)")
    val_contigs: list[str] = _f(factory=list, doc="contigs held out for validation")
    test_contigs: list[str] = _f(factory=list, doc="contigs held out for test")
    val_fraction: float = _f(0.0, lo=0.0, hi=0.5, doc="tail fraction of every contig held out for validation")
    seq_len: int = _f(1024, lo=8, doc="window length in bases (pretraining, token tasks)")
    val_windows: int = _f(256, lo=1, doc="fixed validation windows (pretraining, token tasks)")
    rc_augment: bool = _f(True, doc="reverse-complement each training example with probability 1/2")
    task: str | None = _f(None, doc="task directory with train/dev/test CSVs, or bundled:NAME (fine-tuning)")
    max_len: int | None = _f(None, lo=1, doc="truncate/pad task sequences to this length")
    dev_seed: int | None = _f(None, lo=0, doc="seed of the 10% dev hold-out of a task without a dev "
                              "split (default: trainer.seed)")
    batch_size: int = _f(32, lo=1, doc="examples per batch per device")
    num_workers: int = _f(0, lo=0, doc="DataLoader worker processes")
    labels_bed: str | None = _f(None, doc="BED of labelled intervals on data.fasta: per-base targets (token tasks)")
    label_column: int = _f(4, lo=4, doc="1-based BED column of the class name (or value, token_regression)")
    background: str | float | None = _f("background", doc="class (token_regression: value) of bases in no "
                                        "interval; null: not scored")
    label_priority: list[str] = _f(factory=list, doc="classes allowed to overlap, highest priority first")
    train_windows: Literal["random", "tile"] = _f("random", doc="token tasks: random training windows or tiles")


@dataclass
class PretrainStage:
    """An optional pretraining stage run before fine-tuning, on the task's own sequences
    (``corpus: task``, "self-pretraining") or on a genome (``corpus: bundled:NAME`` or a FASTA path)."""

    corpus: str = _f("task", doc="'task' or a FASTA path / bundled:NAME")
    objective: Literal["causal", "mlm"] = _f("causal")
    steps: int = _f(0, lo=0, doc="optimiser steps (0 = no stage)")
    lr: float = _f(1e-3, lo=0.0, lo_open=True)
    warmup_steps: int = _f(10, lo=0)
    batch_size: int = _f(32, lo=1)
    seq_len: int = _f(512, lo=8, doc="window length when the corpus is a genome")
    val_every_n_steps: int = _f(50, lo=1)


@dataclass
class SeqLenStage:
    """One stage of the sequence-length warm-up: ``steps`` optimiser steps at (seq_len, batch_size)."""

    seq_len: int = _f(1024, lo=8)
    batch_size: int = _f(32, lo=1)
    steps: int | None = _f(None, lo=1, doc="data steps spent in this stage (the last stage runs to the end)")


@dataclass
class TrainSection:
    """Objective, optimiser and schedule."""

    objective: Literal["auto", "causal", "mlm", "classification", "multilabel", "regression",
                       "token_classification", "token_regression"] = _f("auto")
    lr: float = _f(6e-4, lo=0.0, lo_open=True)
    filter_lr: float | None = _f(None, lo=0.0, lo_open=True, doc="learning rate of Hyena filter parameters")
    weight_decay: float = _f(0.1, lo=0.0)
    betas: list[float] = _f(factory=lambda: [0.9, 0.95])
    eps: float = _f(1e-8, lo=0.0, lo_open=True)
    warmup_steps: int = _f(100, lo=0)
    min_lr_ratio: float = _f(0.1, lo=0.0, hi=1.0, doc="final lr of the cosine schedule / lr")
    grad_clip: float | None = _f(1.0, lo=0.0, lo_open=True)
    accumulate: int = _f(1, lo=1, doc="batches per optimiser step")
    mask_prob: float = _f(0.15, lo=0.0, hi=1.0, lo_open=True, doc="masked-LM selection rate (bases only)")
    soft_mask_weight: float = _f(1.0, lo=0.0, hi=1.0, doc="loss weight of soft-masked (lowercase) bases")
    exclude_n: bool = _f(True, doc="N positions are never targets")
    seq_len_warmup: list[SeqLenStage] = _f(factory=list, doc="stages of (seq_len, batch_size, steps)")
    monitor: str = _f("auto", doc="validation metric that picks the best checkpoint")
    max_nonfinite: int = _f(5, lo=1, doc="stop after more than this many non-finite losses in a row")
    pretrain_stage: PretrainStage = _f(factory=PretrainStage)


@dataclass
class TrainerSection:
    """Passed to ``lightning.Trainer`` (plus step-based validation and checkpointing)."""

    accelerator: str = _f("auto")
    devices: int | str | list[int] = _f(1)
    num_nodes: int = _f(1, lo=1)
    strategy: str = _f("auto", doc="auto, ddp, ddp_spawn, ... (fsdp is refused: see trainer_setup)")
    precision: str = _f("auto", doc="auto (bf16-mixed where supported, else 32-true), 32-true, bf16-mixed, ...")
    max_steps: int | None = _f(1000, lo=1)
    max_epochs: float | None = _f(None, lo=0.0, lo_open=True, doc="fine-tuning: epochs over the train split")
    max_time_minutes: float | None = _f(None, lo=0.0, lo_open=True, doc="stop training after this wall time")
    val_every_n_steps: int = _f(200, lo=1)
    limit_val_batches: int | None = _f(None, lo=1)
    log_every_n_steps: int = _f(10, lo=1)
    checkpoint_every_n_steps: int = _f(200, lo=1)
    seed: int = _f(0, lo=0)
    deterministic: bool = _f(False)
    progress_bar: bool = _f(True)
    tensorboard: bool | Literal["auto"] = _f("auto", doc="TensorBoard events in logs/tb/: auto (when tensorboard "
                                                  "or tensorboardX is installed), true (required), false")


@dataclass
class Recipe:
    """A whole run."""

    kind: Literal["pretrain", "finetune"] = _f("pretrain")
    name: str | None = _f(None)
    model: ModelSection = _f(factory=ModelSection)
    data: DataSection = _f(factory=DataSection)
    train: TrainSection = _f(factory=TrainSection)
    trainer: TrainerSection = _f(factory=TrainerSection)
    source: str | None = field(default=None, repr=False, compare=False, metadata={"internal": True})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every section (defaults filled in), for saving the resolved recipe."""
        out = dataclasses.asdict(self)
        out.pop("source", None)
        return out


# ---------------------------------------------------------------------------------------------
# validation


def _public_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]


def _where(path: str) -> str:
    return f"'{path}'" if path else "the top level"


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (arg,) = typing.get_args(tp)
        return f"a list of {_type_name(arg)}"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


class _Mismatch(Exception):
    pass


def _convert(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return the converted value or raise _Mismatch."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _convert(value, arg, path)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise _Mismatch
    if tp is type(None):
        if value is None:
            return None
        raise _Mismatch
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _Mismatch
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if origin is list:
        (arg,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        return [_convert_checked(v, arg, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _Mismatch
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _Mismatch
        return _build(tp, value, path)
    raise _Mismatch


def _convert_checked(value: Any, tp: Any, path: str) -> Any:
    try:
        return _convert(value, tp, path)
    except _Mismatch:
        raise ConfigError(f"{_where(path)} must be {_type_name(tp)}, got {value!r}") from None


def _check_range(value: Any, meta: typing.Mapping[str, Any], path: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None and (value < lo or (meta.get("lo_open") and value == lo)):
        op = ">" if meta.get("lo_open") else ">="
        raise ConfigError(f"{_where(path)} must be {op} {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ConfigError(f"{_where(path)} must be <= {hi}, got {value!r}")


def _build(cls: type, raw: dict[str, Any], path: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in _public_fields(cls)}
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.5)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (valid keys: {', '.join(fields)})"
            where = f"in section '{path}'" if path else "at the top level"
            raise ConfigError(f"unknown key '{key}' {where}{hint}")
    kwargs: dict[str, Any] = {}
    for name, value in raw.items():
        sub = f"{path}.{name}" if path else name
        converted = _convert_checked(value, hints[name], sub)
        if isinstance(converted, list):
            for i, item in enumerate(converted):
                _check_range(item, fields[name].metadata, f"{sub}[{i}]")
        _check_range(converted, fields[name].metadata, sub)
        kwargs[name] = converted
    return cls(**kwargs)


PRECISIONS = ("auto", "32-true", "32", "bf16-mixed", "bf16-true", "64-true", "64")


def _check_semantics(recipe: Recipe) -> None:
    """Cross-field rules that types alone cannot express."""
    d, t, tr = recipe.data, recipe.train, recipe.trainer
    if recipe.kind == "pretrain":
        if d.labels_bed is not None:
            raise ConfigError("'data.labels_bed' applies to finetune recipes (token-level tasks)")
        if d.fasta is None:
            raise ConfigError("a pretrain recipe needs 'data.fasta' (a FASTA path or bundled:NAME)")
        if t.objective not in ("auto", "causal", "mlm"):
            raise ConfigError(f"'train.objective' of a pretrain recipe must be causal or mlm, got {t.objective!r}")
        if sum(bool(x) for x in (d.split_bed, d.val_contigs or d.test_contigs, d.val_fraction > 0)) > 1:
            raise ConfigError("use one of 'data.split_bed', 'data.val_contigs'/'data.test_contigs' and "
                              "'data.val_fraction' to split the genome, not several")
    elif d.labels_bed is not None:
        _check_token_task(recipe)
    else:
        if d.task is None:
            raise ConfigError("a finetune recipe needs 'data.task' (a task directory or bundled:NAME), or "
                              "'data.fasta' + 'data.labels_bed' (token-level task)")
        if t.objective in ("token_classification", "token_regression"):
            raise ConfigError(f"'train.objective' {t.objective} needs per-base targets: 'data.fasta' + "
                              "'data.labels_bed'")
        if t.objective in ("causal", "mlm"):
            raise ConfigError("'train.objective' of a finetune recipe is a task objective (classification, "
                              f"regression, ...) or auto, got {t.objective!r}; use train.pretrain_stage for LM")
        if tr.max_steps is None and tr.max_epochs is None:
            raise ConfigError("set 'trainer.max_steps' or 'trainer.max_epochs'")
    if recipe.kind == "pretrain" and tr.max_steps is None:
        raise ConfigError("a pretrain recipe needs 'trainer.max_steps'")
    if len(t.betas) != 2 or not all(0.0 <= b < 1.0 for b in t.betas):
        raise ConfigError(f"'train.betas' must be two numbers in [0, 1), got {t.betas!r}")
    if t.seq_len_warmup:
        if recipe.kind != "pretrain":
            raise ConfigError("'train.seq_len_warmup' applies to pretrain recipes only")
        tokens = {s.seq_len * s.batch_size for s in t.seq_len_warmup}
        if len(tokens) != 1:
            got = ", ".join(f"{s.seq_len}x{s.batch_size}" for s in t.seq_len_warmup)
            raise ConfigError("'train.seq_len_warmup' stages must keep seq_len x batch_size (tokens per step) "
                              f"constant, got {got}")
        for i, s in enumerate(t.seq_len_warmup[:-1]):
            if s.steps is None:
                raise ConfigError(f"'train.seq_len_warmup[{i}].steps' is required (only the last stage runs "
                                  "to the end of training)")
        if t.seq_len_warmup[-1].seq_len != d.seq_len:
            raise ConfigError(f"the last 'train.seq_len_warmup' stage must use data.seq_len ({d.seq_len}), "
                              f"got {t.seq_len_warmup[-1].seq_len}")
    if tr.precision not in PRECISIONS:
        raise ConfigError(f"'trainer.precision' must be one of {', '.join(PRECISIONS)}, got {tr.precision!r} "
                          "(float16 loss scaling is not supported: use bf16-mixed)")
    if recipe.model.unfreeze_at_step is not None and not recipe.model.freeze_backbone:
        raise ConfigError("'model.unfreeze_at_step' needs 'model.freeze_backbone: true'")
    if recipe.model.preset is None and recipe.model.init_from is None and not recipe.model.config:
        raise ConfigError("'model' needs a preset, a config or init_from")


def _check_token_task(recipe: Recipe) -> None:
    """A finetune recipe with data.labels_bed: per-base targets over the genome data.fasta."""
    d, t, tr = recipe.data, recipe.train, recipe.trainer
    if d.fasta is None:
        raise ConfigError("'data.labels_bed' needs 'data.fasta' (the genome its intervals are on)")
    if d.task is not None:
        raise ConfigError("set 'data.task' (sequence-level task) or 'data.labels_bed' (token-level task), not both")
    if d.max_len is not None:
        raise ConfigError("'data.max_len' applies to task sequences; token tasks cut windows of 'data.seq_len'")
    if t.objective not in ("auto", "token_classification", "token_regression"):
        raise ConfigError("'train.objective' of a token-level task (data.labels_bed) must be token_classification, "
                          f"token_regression or auto, got {t.objective!r}")
    if t.objective == "token_regression":
        if isinstance(d.background, str):
            raise ConfigError("token_regression: 'data.background' must be the value of bases covered by no "
                              f"interval (a number) or null (not scored), got {d.background!r}")
        if d.label_priority:
            raise ConfigError("'data.label_priority' orders classes; token_regression intervals must not overlap")
    if sum(bool(x) for x in (d.split_bed, d.val_contigs or d.test_contigs, d.val_fraction > 0)) != 1:
        raise ConfigError("a token-level task needs one genome split: 'data.split_bed', "
                          "'data.val_contigs'/'data.test_contigs' or 'data.val_fraction'")
    if tr.max_steps is None and tr.max_epochs is None:
        raise ConfigError("set 'trainer.max_steps' or 'trainer.max_epochs'")


def recipe_from_dict(raw: Any, source: str | None = None) -> Recipe:
    """Validate a parsed YAML mapping into a :class:`Recipe` (raises ConfigError)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"a recipe must be a YAML mapping with sections model, data, train, trainer; got "
                          f"{type(raw).__name__}")
    try:
        recipe = _build(Recipe, raw, "")
    except ConfigError as err:
        if source:
            raise ConfigError(f"{source}: {err}") from None
        raise
    recipe.source = source
    try:
        _check_semantics(recipe)
    except ConfigError as err:
        if source:
            raise ConfigError(f"{source}: {err}") from None
        raise
    return recipe


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=3e-4"`` -> (["train", "lr"], 0.0003); the value is YAML-parsed."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value (e.g. train.lr=3e-4)")
    key, value = text.split("=", 1)
    parts = [p for p in key.strip().split(".")]
    if not all(parts):
        raise ConfigError(f"override {text!r}: empty key part in {key!r}")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({err})") from None
    return parts, parsed


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with every ``section.key=value`` override applied."""
    out = copy.deepcopy(raw) if raw else {}
    for text in overrides:
        parts, value = parse_override(text)
        node = out
        cls: Any = Recipe
        for i, part in enumerate(parts):
            path = ".".join(parts[: i + 1])
            if cls is not None:
                names = [f.name for f in _public_fields(cls)]
                if part not in names:
                    close = difflib.get_close_matches(part, names, n=1, cutoff=0.5)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    where = f"in section '{'.'.join(parts[:i])}'" if i else "at the top level"
                    raise ConfigError(f"override {text!r}: unknown key '{part}' {where}{hint}")
                tp = typing.get_type_hints(cls)[part]
                cls = tp if dataclasses.is_dataclass(tp) else None
            if i == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if child is None:
                    child = node[part] = {}
                if not isinstance(child, dict):
                    raise ConfigError(f"override {text!r}: '{path}' is not a section")
                node = child
    return out


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read, override and validate a recipe file.

    Raises:
        ConfigError: unknown keys (with the closest valid key), wrong types or ranges, bad YAML.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe must be a YAML mapping, got {type(raw).__name__}")
    raw = apply_overrides(raw or {}, list(overrides))
    return recipe_from_dict(raw, source=str(path))


def dump_recipe(recipe: Recipe, command: str | None = None) -> str:
    """YAML text of the resolved recipe (every default filled in), with a header comment."""
    header = "# resolved recipe written by genoseq"
    if recipe.source:
        header += f" from {recipe.source}"
    if command:
        header += f"\n# run with: {command}"
    return header + "\n" + yaml.safe_dump(recipe.to_dict(), sort_keys=False)
