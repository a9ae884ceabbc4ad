"""`genoseq evaluate SUITE | variants | report` — thin shells over :mod:`genoseq.eval`.

torch, lightning and scikit-learn are imported inside the commands only.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Benchmark a model: one command per suite (gue, genomic_benchmarks, nt, local), fine-tuning, linear "
         "probes and baselines over several seeds, results.csv + a Markdown table beside published numbers + a "
         "bar plot; `variants` scores a labelled variant table zero-shot.",
    no_args_is_help=True,
)

_SUITE_HELP = {
    "gue": "GUE (DNABERT-2's 28 tasks; official metric MCC). Data: `genoseq data fetch gue`, or --data DIR.",
    "genomic_benchmarks": "Genomic Benchmarks (8 tasks; official metric accuracy; no dev split: a fixed 10% of "
                          "train is held out).",
    "nt": "The revised Nucleotide Transformer tasks (18; official metric MCC; 10% of train held out as dev).",
    "local": "Any folder of train/dev/test files (CSV/TSV `sequence,label` or labelled FASTA): one task, or a "
             "folder of task folders. Needs --data.",
}


def _split_list(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _suite_command(name: str) -> None:
    def command(
        model: str = typer.Option(None, "--model", help="Model directory (pretrained weights: fine-tuning starts "
                                  "from them, the probe embeds with them) or a preset name (random init). Default: "
                                  "the suite recipe's tiny model from scratch."),
        data: Path = typer.Option(None, "--data", help="The suite's data folder (default: where `genoseq data "
                                  "fetch` puts it)."),
        tasks: list[str] = typer.Option([], "--tasks", help="Task ids or short names (repeat or comma-separate); "
                                        "'available' = the tasks present under --data. Default: all."),
        mode: list[str] = typer.Option(["finetune"], "--mode", help="finetune, probe, zero-shot (repeat or "
                                       "comma-separate)."),
        baselines: str = typer.Option("", "--baselines", help="Baselines run beside the model: 'all' or a comma "
                                      "list of kmer_lr, cnn, ncd_knn."),
        seeds: int = typer.Option(3, "--seeds", help="Seeds per task and mode (mean and standard deviation)."),
        out: Path = typer.Option(..., "--out", help="Output folder: results.csv, summary.csv, results.md, "
                                 "results.png, evaluation.json, runs/."),
        set_: list[str] = typer.Option([], "--set", help="Override the suite recipe, e.g. --set train.lr=3e-4."),
        max_minutes: float = typer.Option(None, "--max-minutes", help="Wall-time limit of each fine-tuning run "
                                          "(default: the recipe's, 20)."),
        metric: str = typer.Option(None, "--metric", help="Official metric of the table (default: the suite's)."),
        split_seed: int = typer.Option(0, "--split-seed", help="Seed of the 10% dev hold-out for tasks without "
                                       "a dev split (fixed for every model and seed)."),
        only_modes: bool = typer.Option(False, "--no-model", help="Run only --baselines (no model modes)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Recompute rows already in OUT/results.csv "
                                       "(default: keep them and run the rest)."),
    ) -> None:
        from genoseq.eval.harness import EvalRequest, evaluate

        if name == "local" and data is None:
            raise typer.BadParameter("genoseq evaluate local needs --data DIR", param_hint="--data")
        names = _split_list([baselines]) if baselines else []
        if names == ["all"]:
            from genoseq.eval.baselines import BASELINES

            names = list(BASELINES)
        req = EvalRequest(suite=name, out=out, data_dir=data, model=model, tasks=_split_list(tasks) or None,
                          modes=[] if only_modes else _split_list(mode), baselines=names, seeds=seeds,
                          overrides=list(set_), max_minutes=max_minutes, metric=metric, split_seed=split_seed,
                          overwrite=overwrite)
        result = evaluate(req, log=lambda line: typer.echo(line))
        md = result["paths"].get("markdown")
        if md and Path(md).is_file():
            typer.echo("")
            typer.echo(Path(md).read_text())
        for key, path in sorted(result["paths"].items()):
            typer.echo(f"{key}: {path}")

    command.__doc__ = _SUITE_HELP[name]
    app.command(name=name)(command)


for _name in _SUITE_HELP:
    _suite_command(_name)


@app.command()
def report(
    results: Path = typer.Argument(..., help="A results.csv written by genoseq evaluate."),
    out: Path = typer.Option(None, "--out", help="Folder for results.md / results.png / summary.csv "
                             "(default: beside results.csv)."),
    metric: str = typer.Option(None, "--metric", help="Metric of the table (default: the suite's)."),
) -> None:
    """Rebuild the Markdown table, summary and bar plot from an existing results.csv."""
    from genoseq.errors import InputError
    from genoseq.eval.report import read_results, write_results
    from genoseq.eval.suites import get_suite

    rows = read_results(results)
    suites = sorted({r["suite"] for r in rows})
    if len(suites) != 1:
        raise InputError(f"{results}: expected rows of one suite, found {suites or 'none'}")
    paths = write_results(rows, out or results.parent, suites[0], metric or get_suite(suites[0]).metric)
    for key, path in sorted(paths.items()):
        typer.echo(f"{key}: {path}")


def register(root: typer.Typer) -> None:
    """Add ``genoseq evaluate ...`` to the root app."""
    from genoseq.cli import evaluate_variants

    evaluate_variants.register(app)
    root.add_typer(app, name="evaluate")
