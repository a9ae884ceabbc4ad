"""`genoseq pretrain | finetune | validate | demo` — thin shells over :mod:`genoseq.train`.

genoseq.train (and with it torch and lightning) is imported inside the commands only.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import typer

_SET_HELP = "Override a recipe value, e.g. --set train.lr=3e-4 --set trainer.max_steps=100 (value read as YAML)."


def _command_line() -> str:
    return "genoseq " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _default_out(recipe: Path) -> Path:
    return Path("runs") / recipe.stem


def _summary(result: Any, title: str) -> None:
    """One screen: steps, throughput, best and test metrics, paths."""
    from rich.console import Console
    from rich.table import Table

    r = result.results
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    if "pretrain" in r:
        p = r["pretrain"]
        table.add_row("pretraining", f"{p.get('steps')} steps, {p.get('tokens_per_second', 0):,.0f} tokens/s, "
                      f"best {p['best']['metric']} = {_fmt(p['best']['value'])}")
    table.add_row("steps", str(r.get("steps")))
    table.add_row("tokens/s", f"{r.get('tokens_per_second', 0):,.0f}")
    best = r.get("best") or {}
    table.add_row("best validation", f"{best.get('metric')} = {_fmt(best.get('value'))}")
    test = r.get("test") or {}
    if test:
        table.add_row("test", ", ".join(f"{k.removeprefix('test/')} {_fmt(v)}" for k, v in sorted(test.items())))
    table.add_row("wall time", f"{r.get('wall_seconds', 0):.0f} s")
    paths = r.get("paths", {})
    for key in ("model", "results", "plot", "metrics_csv", "last_checkpoint"):
        value = paths.get(key) if key != "results" else str(Path(paths.get("run", ".")) / "results.json")
        if value:
            table.add_row(key.replace("_", " "), str(value))
    Console().print(table)


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.4f}"


def _is_rank_zero() -> bool:
    import os

    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def _seq_lens(recipe: Any) -> list[int | None]:
    """Sequence lengths of every stage of a recipe (seq_len warm-up stages, then data.seq_len)."""
    return [s.seq_len for s in recipe.train.seq_len_warmup] + [recipe.data.seq_len]


def _layer_types(recipe: Any) -> list[str] | None:
    """The recipe model's layer letters (without torch); None for ``init_from`` (known only once the
    checkpoint is read)."""
    if recipe.model.init_from:
        return None
    from genoseq.train.run import _model_config  # the run's own config (genoseq.train.run loads torch lazily)

    return list(_model_config(recipe).layer_types)


def _run(recipe_path: Path, overrides: list[str], out: Path | None, resume: bool, kind: str) -> None:
    from genoseq.cpu_allocator import tune_cpu_allocator
    from genoseq.errors import ConfigError
    from genoseq.omp_wait import prefer_passive_openmp
    from genoseq.train.recipe import load_recipe

    recipe = load_recipe(recipe_path, overrides)  # before torch loads: the OpenMP policy is read then
    if recipe.kind != kind:
        raise ConfigError(f"{recipe_path} is a {recipe.kind} recipe; run it with `genoseq {recipe.kind}`")
    prefer_passive_openmp(_seq_lens(recipe), _layer_types(recipe))  # long sequences, no Mamba-1 (see omp_wait)
    tune_cpu_allocator()  # training reuses its large CPU tensors every step (GENOSEQ_MALLOC=default: off)
    from genoseq.train.run import run_recipe

    out = out or _default_out(recipe_path)
    result = run_recipe(recipe, out, resume=resume, command=_command_line())
    if _is_rank_zero():
        _summary(result, f"genoseq {kind}: {recipe_path.name}")


def register(app: typer.Typer) -> None:
    @app.command()
    def pretrain(
        recipe: Path = typer.Argument(..., help="Recipe YAML (kind: pretrain)."),
        set_: list[str] = typer.Option([], "--set", help=_SET_HELP),
        out: Path = typer.Option(None, "--out", help="Run directory (default: runs/<recipe name>)."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    ) -> None:
        """Pretrain a model from a recipe YAML.

        Keeps freed CPU memory for reuse (genoseq.cpu_allocator; GENOSEQ_MALLOC=default leaves glibc as is).

        Long sequences (every stage 8,192+ positions, no Mamba-1 layer) run
        with OMP_WAIT_POLICY=PASSIVE, ~6-17% faster steps (genoseq.omp_wait).
        GENOSEQ_OMP_WAIT=default, or your own OMP_WAIT_POLICY / GOMP_SPINCOUNT,
        leaves OpenMP as is."""
        _run(recipe, set_, out, resume, "pretrain")

    @app.command()
    def finetune(
        recipe: Path = typer.Argument(..., help="Recipe YAML (kind: finetune)."),
        set_: list[str] = typer.Option([], "--set", help=_SET_HELP),
        out: Path = typer.Option(None, "--out", help="Run directory (default: runs/<recipe name>)."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    ) -> None:
        """Fine-tune a model on a labelled task from a recipe YAML (test metrics in OUT/results.json).

        Keeps freed CPU memory for reuse (genoseq.cpu_allocator; GENOSEQ_MALLOC=default leaves glibc as is).

        Long sequences (8,192+ positions, no Mamba-1 layer) run with
        OMP_WAIT_POLICY=PASSIVE (genoseq.omp_wait). GENOSEQ_OMP_WAIT=default,
        or your own OMP_WAIT_POLICY / GOMP_SPINCOUNT, leaves OpenMP as is."""
        _run(recipe, set_, out, resume, "finetune")

    @app.command()
    def validate(
        recipe: Path = typer.Argument(..., help="Recipe YAML."),
        set_: list[str] = typer.Option([], "--set", help=_SET_HELP),
    ) -> None:
        """Check a recipe YAML (keys, types, ranges, model config) without running it."""
        from genoseq.train.recipe import load_recipe
        from genoseq.train.validate import check_recipe

        loaded = load_recipe(recipe, set_)
        notes = check_recipe(loaded)
        typer.echo(f"{recipe}: valid {loaded.kind} recipe")
        for note in notes:
            typer.echo(f"  note: {note}")

    @app.command()
    def demo(
        out: Path = typer.Option(Path("genoseq-demo"), "--out", help="Output directory."),
        set_: list[str] = typer.Option([], "--set", help=_SET_HELP),
    ) -> None:
        """Offline demo on bundled data: pretrain a tiny model on E. coli, fine-tune it on GUE prom_core_tata."""
        from genoseq.cpu_allocator import tune_cpu_allocator
        from genoseq.train.recipe import load_recipe
        from genoseq.train.run import demo_recipe_path, run_recipe

        tune_cpu_allocator()
        path = demo_recipe_path()
        recipe = load_recipe(path, set_)
        typer.echo(f"genoseq demo: running {path} into {out}/ (CPU, a few minutes)")
        result = run_recipe(recipe, out, command="genoseq demo" + (f" --out {out}" if out else ""))
        if _is_rank_zero():
            pre = out / "pretrain" / "results.json"
            if pre.is_file():
                import json

                result.results["pretrain"] = json.loads(pre.read_text())
            _summary(result, "genoseq demo")
            test = result.results.get("test", {})
            mcc = test.get("test/mcc")
            typer.echo(f"\nTest MCC on GUE prom_core_tata: {_fmt(mcc)} (DNABERT-2, 117M parameters, pretrained "
                       "on many genomes: 0.7417)")
            typer.echo(f"model:   {out / 'model'}\nmetrics: {out / 'results.json'}\nplot:    {out / 'curves.png'}")
