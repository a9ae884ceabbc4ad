"""Helpers shared by the CLI modules."""

from __future__ import annotations

import typer


def not_implemented(command: str, issue: str) -> None:
    """Say plainly that a command is not implemented yet and exit non-zero."""
    typer.secho(f"genoseq {command}: not implemented yet ({issue}).", fg=typer.colors.YELLOW, err=True)
    raise typer.Exit(code=3)
