"""The ``genoseq`` command line: a thin Typer shell over the Python API.

Each command group lives in its own module; heavy libraries (torch, lightning, triton)
are imported inside the commands, never at start-up.
"""

from __future__ import annotations

import typer

from genoseq import __version__
from genoseq.cli import data as data_cli
from genoseq.cli import doctor as doctor_cli
from genoseq.cli import evaluate as evaluate_cli
from genoseq.cli import infer as infer_cli
from genoseq.cli import train as train_cli

app = typer.Typer(
    name="genoseq",
    help="Genomic sequence modeling: data, hybrid long-context models, training, embeddings, variant effects.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"genoseq {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """genoseq command line."""


doctor_cli.register(app)
train_cli.register(app)
infer_cli.register(app)
app.add_typer(data_cli.app, name="data")
evaluate_cli.register(app)


def main() -> None:
    """Console-script entry point: GenoseqError becomes a one-line message and exit code 2."""
    from genoseq.errors import GenoseqError

    try:
        app()
    except GenoseqError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None
