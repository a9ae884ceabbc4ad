"""Helpers shared by the CLI modules: error reporting, progress bars, model loading."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from genoseq.errors import GenoseqError

MODEL_HELP = "Model directory written by save_pretrained / `genoseq pretrain` / `genoseq finetune`."


@contextmanager
def exit_on_error() -> Iterator[None]:
    """GenoseqError -> one red ``error: ...`` line on stderr and exit code 2."""
    try:
        yield
    except GenoseqError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr; yields ``update(done, total=None)``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done, total=None: bar.update(task, completed=done, total=total or bar.tasks[0].total)


def load_model_dir(model_dir: Path, device: str) -> Any:
    """:func:`genoseq.model.io.load_model` (torch imported only when a command runs)."""
    from genoseq.model.io import load_model

    return load_model(model_dir, device=device)
