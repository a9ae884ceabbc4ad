"""Atomic file writes: write a temporary file in the target's folder, then ``os.replace`` it into place, so a
reader never sees a half-written file and an interrupted write leaves the old file (or none)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], Any]) -> Path:
    """Call ``write(tmp_path)`` and move the temporary file onto ``path`` (parent folders are created);
    on any error the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (newlines written as given)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)

    return atomic_write(path, write)


def write_json(path: str | os.PathLike[str], data: Any, sort_keys: bool = False) -> Path:
    """Write ``data`` as indented JSON (non-JSON values via ``str``) atomically."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=sort_keys, default=str) + "\n")
