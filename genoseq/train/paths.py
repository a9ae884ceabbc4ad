"""Resolving data paths named in recipes (no heavy imports)."""

from __future__ import annotations

from pathlib import Path

from genoseq.errors import GenoseqError


def resolve_path(text: str, *, manifest: str | None = None, data_dir: str | None = None,
                 recipe_path: str | None = None, what: str = "file") -> Path:
    """Resolve a data path from a recipe.

    - ``bundled:NAME`` -> ``genoseq.bundled.path(NAME)``;
    - with ``data_dir`` (or a manifest), relative paths are looked up under ``data_dir``;
    - otherwise relative to the working directory, then to the recipe's folder.

    Raises:
        GenoseqError: the path does not exist; when the recipe names a manifest, the message gives the
            ``genoseq data fetch NAME --dir DIR`` command that downloads it.
    """
    if text.startswith("bundled:"):
        import genoseq.bundled

        return Path(genoseq.bundled.path(text.split(":", 1)[1]))
    p = Path(text).expanduser()
    candidates: list[Path] = []
    if p.is_absolute():
        candidates.append(p)
    else:
        if data_dir:
            candidates.append(Path(data_dir).expanduser() / p)
        candidates.append(Path.cwd() / p)
        if recipe_path:
            candidates.append(Path(recipe_path).resolve().parent / p)
    for c in candidates:
        if c.exists():
            return c
    if manifest:
        target = data_dir or f"~/genoseq-data/{manifest}"
        raise GenoseqError(
            f"{what} {text!r} not found (looked in: {', '.join(str(c) for c in candidates)}). This recipe uses "
            f"the '{manifest}' dataset: download it with `genoseq data fetch {manifest} --dir {target}` "
            f"(unpack archives there), then run again with --set data.data_dir={target}")
    raise GenoseqError(f"{what} {text!r} not found (looked in: {', '.join(str(c) for c in candidates)})")
