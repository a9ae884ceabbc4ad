"""A small row table returned by variant scoring and ISM (no pandas needed)."""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


class ScoreTable:
    """Rows (dicts) with a fixed column order.

    ``table[i]`` is row i (a dict); ``table["col"]`` is a column (list); ``len(table)`` rows.
    :meth:`to_tsv` writes atomically; :meth:`to_pandas` needs pandas.
    """

    def __init__(self, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
        self.rows = list(rows)
        if columns is None:
            columns = []
            for row in self.rows:
                columns.extend(k for k in row if k not in columns)
        self.columns = list(columns)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            if key not in self.columns:
                raise KeyError(f"no column {key!r}; columns: {self.columns}")
            return [row.get(key) for row in self.rows]
        return self.rows[key]

    def __repr__(self) -> str:
        return f"ScoreTable({len(self.rows)} rows, columns={self.columns})"

    def to_tsv(self, path: str | os.PathLike[str]) -> Path:
        """Write a tab-separated file with a header line (atomically). Missing values are empty."""
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
            writer.writerow(self.columns)
            for row in self.rows:
                writer.writerow([_fmt(row.get(c)) for c in self.columns])
        return path

    def to_pandas(self):  # noqa: ANN201 - pandas is optional
        """A pandas DataFrame with the same columns (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            from genoseq.errors import DependencyError

            raise DependencyError("pandas", "ScoreTable.to_pandas") from None
        return pd.DataFrame(self.rows, columns=self.columns)

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write a parquet file (needs pyarrow, extra ``parquet``)."""
        pa, pq = import_pyarrow("parquet output")
        path = Path(path)
        arrays = {c: [row.get(c) for row in self.rows] for c in self.columns}
        with atomic_path(path) as tmp:
            pq.write_table(pa.table(arrays), tmp)
        return path


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def import_pyarrow(feature: str):  # noqa: ANN201
    """(pyarrow, pyarrow.parquet) or a DependencyError naming the ``parquet`` extra."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        from genoseq.errors import DependencyError

        raise DependencyError("pyarrow", feature, extra="parquet") from None
    return pa, pq


class atomic_path:
    """Context manager yielding a temp path next to ``path``; on success it replaces ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __enter__(self) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        if exc_type is None:
            os.replace(self.tmp, self.path)
        elif os.path.exists(self.tmp):
            os.unlink(self.tmp)
