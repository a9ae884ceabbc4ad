"""`genoseq data list | info | fetch`."""

from __future__ import annotations

import typer

from genoseq.cli._common import not_implemented

app = typer.Typer(help="Datasets described in data_manifests/: list, inspect, download.", no_args_is_help=True)


@app.command("list")
def list_() -> None:
    """List known datasets."""
    not_implemented("data list", "foundation issue")
