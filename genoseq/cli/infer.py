"""`genoseq embed | score-variants | generate`."""

from __future__ import annotations

import typer

from genoseq.cli._common import not_implemented


def register(app: typer.Typer) -> None:
    @app.command()
    def embed() -> None:
        """Embed sequences with a model."""
        not_implemented("embed", "inference issue")

    @app.command("score-variants")
    def score_variants() -> None:
        """Score variant effects with a model."""
        not_implemented("score-variants", "inference issue")
