"""`genoseq evaluate variants`: zero-shot variant benchmark (a thin shell over genoseq.eval.variant_benchmark)."""

from __future__ import annotations

from pathlib import Path

import typer

from genoseq.cli._common import MODEL_HELP, exit_on_error, load_model_dir, progress_bar
from genoseq.errors import GenoseqError


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def register(app: typer.Typer) -> None:
    """Add the ``variants`` command to ``app`` (the ``evaluate`` sub-app)."""

    @app.command("variants")
    def variants(
        model: Path = typer.Option(..., "--model", help=MODEL_HELP),
        genome: Path = typer.Option(..., "--genome", help="Reference FASTA (plain or gzip)."),
        table: Path = typer.Option(..., "--table", help="Labelled TSV/CSV: header with chrom, pos (1-based), ref, alt "
                                                       "and the label column."),
        label_column: str = typer.Option(..., "--label-column", help="Name of the label column."),
        out: Path = typer.Option(..., "--out", help="Output directory: scores.tsv, metrics.json, roc.png / scatter.png."),
        score_method: str = typer.Option("llr", "--score-method", help="llr, masked_llr, embedding or head."),
        score_column: str = typer.Option(None, "--score-column", help="Score column to evaluate (default: llr_sum, "
                                                                      "masked_llr, emb_l2 or head_diff per method)."),
        positive_is: str = typer.Option("auto", "--positive-is", help="Which score end points at label 1 / higher "
                                        "labels: low, high, or auto (low llr for binary 1 = damaging; high llr for "
                                        "continuous fitness-like labels)."),
        label_type: str = typer.Option("auto", "--label-type", help="auto, binary or continuous."),
        positive_label: str = typer.Option(None, "--positive-label", help="Label value of the positive class "
                                                                          "(needed when labels are not 0/1)."),
        skip_unlabelled: bool = typer.Option(False, "--skip-unlabelled", help="Count and skip rows without a label "
                                                                              "instead of failing."),
        window: int = typer.Option(None, help="Window length centred on each variant (default: model max_len, <= 8192)."),
        rc_average: bool = typer.Option(True, "--rc-average/--forward-only", help="Average both strands."),
        layer: int = typer.Option(-1, help="Layer for --score-method embedding."),
        pool_window: int = typer.Option(None, help="Bases around the variant pooled for embedding/head."),
        batch_size: int = typer.Option(8, help="Sequences per forward pass."),
        device: str = typer.Option("cpu", help="torch device."),
    ) -> None:
        """Score a labelled variant table; AUROC/AUPRC (binary labels) or Spearman/Pearson (continuous)."""
        from genoseq.data.genome import Genome
        from genoseq.eval.variant_benchmark import run_variant_benchmark, write_outputs

        with exit_on_error():
            if out.exists() and not out.is_dir():
                raise GenoseqError(f"--out {out} exists and is not a directory")
            g = Genome(genome, aliases=True)
            m = load_model_dir(model, device)
            with progress_bar("scoring", None) as update:
                result = run_variant_benchmark(
                    m, g, table, label_column, method=score_method, score_column=score_column,
                    positive_is=positive_is, label_type=label_type, positive_label=positive_label,
                    skip_unlabelled=skip_unlabelled, window=window, rc_average=rc_average, layer=layer,
                    pool_window=pool_window, batch_size=batch_size, model_name=str(model), progress=update)
            paths = write_outputs(result, out)
        r = result.metrics
        skipped = ", ".join(f"{k} {v}" for k, v in r["skipped"].items()) or "none"
        typer.echo(f"{r['n_scored']} of {r['n']} variants in the metrics; left out: {skipped}")
        col = result.columns.index("message")
        messages = [f"{table}, line {line}: {row[col]}"
                    for row, used, line in zip(result.rows, result.used, result.lines, strict=True)
                    if not used and row[col]]
        for msg in messages[:3]:
            typer.echo(f"  {msg}")
        if len(messages) > 3:
            typer.echo(f"  ... {len(messages) - 3} more (status and message columns of scores.tsv)")
        if r["label_kind"] == "binary":
            typer.echo(f"binary labels: {r['n_positive']} positive ({r['positive_label']!r}), "
                       f"{r['n_negative']} negative; AUROC {_fmt(r['auroc'])}, AUPRC {_fmt(r['auprc'])} "
                       f"(base rate {_fmt(r['positive_fraction'])})")
        else:
            typer.echo(f"continuous labels: Spearman {_fmt(r['spearman'])}, Pearson {_fmt(r['pearson'])}")
        typer.echo(f"direction: {r['direction']}")
        for note in r["notes"]:
            typer.secho(f"note: {note}", fg=typer.colors.YELLOW)
        typer.echo(f"wrote {', '.join(str(p) for p in paths.values())} ({r['scoring_seconds']:.2f} s scoring)")
