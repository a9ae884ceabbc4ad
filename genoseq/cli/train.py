"""`genoseq pretrain | finetune | validate | demo`."""

from __future__ import annotations

from pathlib import Path

import typer

from genoseq.cli._common import not_implemented


def register(app: typer.Typer) -> None:
    @app.command()
    def pretrain(recipe: Path, set_: list[str] = typer.Option([], "--set", help="Override, e.g. train.lr=3e-4")) -> None:
        """Pretrain a model from a recipe YAML."""
        not_implemented("pretrain", "training issue")

    @app.command()
    def finetune(recipe: Path, set_: list[str] = typer.Option([], "--set", help="Override, e.g. train.lr=3e-4")) -> None:
        """Fine-tune a model on a labelled task from a recipe YAML."""
        not_implemented("finetune", "training issue")

    @app.command()
    def validate(recipe: Path) -> None:
        """Check a recipe YAML without running it."""
        not_implemented("validate", "training issue")

    @app.command()
    def demo(out: Path = typer.Option(Path("genoseq-demo"), help="Output directory.")) -> None:
        """Run the offline demo on bundled data."""
        not_implemented("demo", "training issue")
