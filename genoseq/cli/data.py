"""`genoseq data list | info | fetch | bundled`: datasets described in data_manifests/."""

from __future__ import annotations

from pathlib import Path

import typer

from genoseq.errors import GenoseqError

app = typer.Typer(
    help="Datasets described in data_manifests/: list, inspect, download.", no_args_is_help=True
)

_DATASET_HELP = "A dataset name from `genoseq data list`, or the path of a manifest .yaml file."


def _fail(err: GenoseqError) -> typer.Exit:
    typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def _human(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # unreachable


@app.command("list")
def list_() -> None:
    """List the datasets: name, files, total size ('?' when not recorded), description."""
    from genoseq.data.manifests import load_manifest, manifest_names

    try:
        manifests = [load_manifest(n) for n in manifest_names()]
    except GenoseqError as err:
        raise _fail(err) from None
    width = max(len(m.name) for m in manifests)
    typer.echo(f"{'NAME':<{width}}  {'FILES':>5}  {'SIZE':>9}  DESCRIPTION")
    for m in manifests:
        first = m.description.split(". ")[0]
        if len(first) > 72:
            first = first[:69].rstrip(" ,;:(") + "..."
        typer.echo(f"{m.name:<{width}}  {len(m.files):>5}  {_human(m.total_size):>9}  {first}")


@app.command("info")
def info(
    dataset: str = typer.Argument(..., help=_DATASET_HELP),
    raw: bool = typer.Option(False, "--raw", help="Print the manifest YAML as written."),
) -> None:
    """Show a whole manifest: description, citation, licence, loader, files with URLs and checksums."""
    from genoseq.data.manifests import load_manifest

    try:
        m = load_manifest(dataset)
    except GenoseqError as err:
        raise _fail(err) from None
    if raw:
        if Path(m.source).is_file():
            typer.echo(Path(m.source).read_text(encoding="utf-8"), nl=False)
        else:
            from importlib import resources

            text = resources.files("genoseq.data_manifests").joinpath(f"{m.name}.yaml").read_text("utf-8")
            typer.echo(text, nl=False)
        return
    lines = [
        f"name:          {m.name}",
        f"description:   {m.description}",
        f"citation:      {m.citation}",
        f"licence:       {m.licence}",
        f"genome build:  {m.genome_build or '-'}",
        f"format:        {m.format}",
    ]
    if m.homepage:
        lines.append(f"homepage:      {m.homepage}")
    if m.url_source:
        lines.append(f"URLs from:     {m.url_source}")
    loader = ", ".join(f"{k}={v}" for k, v in m.loader.items())
    lines.append(f"loader:        {loader}")
    if m.notes:
        lines.append(f"notes:         {m.notes}")
    lines.append(f"files ({len(m.files)}, total {_human(m.total_size)}):")
    for f in m.files:
        lines.append(f"  {f.name}")
        lines.append(f"    url:    {f.url}")
        lines.append(
            f"    size:   {'not recorded' if f.size is None else f'{f.size} bytes ({_human(f.size)})'}"
        )
        if f.sha256:
            lines.append(f"    sha256: {f.sha256}")
        if f.md5:
            lines.append(f"    md5:    {f.md5}")
        if f.checksum is None:
            lines.append("    checksum: not recorded (fetch prints the computed sha256)")
        if f.note:
            lines.append(f"    note:   {f.note}")
    typer.echo("\n".join(lines))


@app.command("fetch")
def fetch(
    dataset: str = typer.Argument(..., help=_DATASET_HELP),
    dest: Path = typer.Option(..., "--dir", "-d", help="Folder to download into (created if needed)."),
    files: list[str] = typer.Option(
        None, "--file", "-f", help="Fetch only this file of the manifest (repeatable)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    timeout: float = typer.Option(60.0, help="Network timeout in seconds."),
) -> None:
    """Download a dataset's files into --dir: resumes .part files, verifies checksums, skips verified files."""
    from genoseq.data.fetch import fetch_manifest
    from genoseq.data.manifests import load_manifest

    try:
        m = load_manifest(dataset)
        if files:
            for name in files:
                m.file(name)  # unknown names fail before anything is downloaded
        with _ProgressBar(enabled=progress) as bar:
            results = fetch_manifest(m, dest, only=files or None, progress=bar.update, timeout=timeout)
    except GenoseqError as err:
        raise _fail(err) from None
    for r in results:
        typer.echo(r.message)
    typer.echo(f"{m.name}: {len(results)} file(s) in {dest}")


@app.command("bundled")
def bundled() -> None:
    """List the data shipped inside genoseq (genoseq.bundled.path(NAME)) with their paths."""
    import genoseq.bundled as gb

    for name in gb.names():
        item = gb.describe(name)
        typer.echo(f"{name:<20} {item.kind:<7} {gb.path(name)}")
        typer.echo(f"{'':<20} {item.description}")


class _ProgressBar:
    """rich progress bar with one task per file; a no-op when disabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress = None
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> _ProgressBar:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def update(self, name: str, done: int, total: int | None) -> None:
        if self._progress is None:
            return
        if name not in self._tasks:
            self._tasks[name] = self._progress.add_task(name, total=total)
        self._progress.update(self._tasks[name], completed=done, total=total)
