"""BED intervals.

:func:`read_bed` reads BED3 to BED12, narrowPeak (BED6+4) and other BED-like files (plain or
gzip) into a list of :class:`Interval` (0-based half-open, as in the file). ``track``,
``browser`` and ``#`` lines are skipped; a ``#`` line right before the first record may name
the columns (``#chrom start end split``), so ``split_column``/``label_column`` can be given
by name. Every malformed line raises :class:`~genoseq.errors.InputError` naming the file, the
line and what was expected.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from genoseq.errors import InputError

BED_COLUMNS = (
    "chrom", "start", "end", "name", "score", "strand",
    "thickStart", "thickEnd", "itemRgb", "blockCount", "blockSizes", "blockStarts",
)
NARROWPEAK_COLUMNS = BED_COLUMNS[:6] + ("signalValue", "pValue", "qValue", "peak")
STRANDS = ("+", "-", ".")
SPLIT_NAMES = {"train": "train", "training": "train", "valid": "valid", "val": "valid", "validation": "valid",
               "dev": "valid", "test": "test"}


@dataclass(frozen=True)
class Interval:
    """A genomic interval ``contig[start:end]`` (0-based half-open) with optional BED fields.

    ``extra`` holds the columns after the sixth as strings (BED12 blocks, narrowPeak values);
    ``label`` and ``split`` are set from the columns chosen in :func:`read_bed` (``split`` is
    one of "train", "valid", "test").
    """

    contig: str
    start: int
    end: int
    name: str | None = None
    score: float | None = None
    strand: str = "."
    label: Any = None
    split: str | None = None
    extra: tuple[str, ...] = field(default=(), compare=False)

    def __len__(self) -> int:
        return self.end - self.start

    def with_(self, **changes: Any) -> Interval:
        """A copy with some fields replaced."""
        return replace(self, **changes)


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", newline=None)
    return open(path, encoding="utf-8", newline=None)


def _column_index(column: int | str | None, header: list[str] | None, ncols: int, path: Path, what: str) -> int | None:
    if column is None:
        return None
    if isinstance(column, int):
        if column < 0:
            column += ncols
        return column
    if header is not None and column in header:
        return header.index(column)
    known = NARROWPEAK_COLUMNS if ncols == 10 else BED_COLUMNS
    if column in known:
        return known.index(column)
    names = header or list(known[:ncols])
    raise InputError(f"{what} {column!r} is not a column name; columns are {names}", path)


def read_bed(
    path: str | os.PathLike[str],
    split_column: int | str | None = None,
    label_column: int | str | None = None,
    label_type: Callable[[str], Any] = str,
    min_columns: int = 3,
) -> list[Interval]:
    """Read a BED file into a list of :class:`Interval`.

    Args:
        path: BED3..BED12, narrowPeak or BED-like file, optionally gzip-compressed. Columns are
            tab-separated (whitespace when a line has no tab).
        split_column: 0-based column index, standard column name (``"name"``, ``"score"``, ...)
            or a name from a ``#`` header line, whose values are train / valid / test (also
            accepted: training, val, validation, dev) -> ``Interval.split``.
        label_column: column (same forms) whose value, passed through ``label_type``, becomes
            ``Interval.label``.
        label_type: converter for labels, e.g. ``int`` or ``float``.
        min_columns: fewest columns a record may have.

    Columns 5 and 6 are read as score (number or ".") and strand ("+", "-", ".") unless they are
    the split/label column or a ``#`` header names them otherwise; columns 7+ are kept as
    strings in ``Interval.extra``.

    Raises:
        InputError: naming file and line for: too few columns, non-integer or negative
            coordinates, start > end, an invalid strand or score, a bad split or label value.
    """
    path = Path(path)
    intervals: list[Interval] = []
    header: list[str] | None = None
    last_comment: list[str] | None = None
    split_idx = label_idx = None
    skip: set[int | None] = set()
    resolved = False
    try:
        fh = _open_text(path)
    except FileNotFoundError:
        raise InputError("file not found; expected a BED file", path) from None
    try:
        with fh:
            for line_no, raw in enumerate(fh, 1):
                line = raw.rstrip("\r\n")
                if not line.strip():
                    continue
                if line.startswith(("track", "browser")):
                    continue
                if line.startswith("#"):
                    last_comment = line.lstrip("#").strip().split("\t" if "\t" in line else None)
                    continue
                fields = line.split("\t") if "\t" in line else line.split()
                if not resolved:
                    header = last_comment if last_comment and len(last_comment) == len(fields) else None
                    split_idx = _column_index(split_column, header, len(fields), path, "split_column")
                    label_idx = _column_index(label_column, header, len(fields), path, "label_column")
                    # columns 5 and 6 are score and strand unless a header names them otherwise
                    # or they carry the split/label
                    skip = {split_idx, label_idx}
                    if header is not None:
                        skip |= {i for i, want in ((4, "score"), (5, "strand")) if i < len(header) and header[i] != want}
                    resolved = True
                intervals.append(_parse_line(fields, path, line_no, split_idx, label_idx, label_type, min_columns, skip))
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte offset {err.start}); expected a BED text file", path) from None
    except (OSError, EOFError) as err:
        raise InputError(f"cannot read file ({err})", path) from None
    return intervals


def _parse_line(
    fields: list[str],
    path: Path,
    line_no: int,
    split_idx: int | None,
    label_idx: int | None,
    label_type: Callable[[str], Any],
    min_columns: int,
    skip: set[int | None],
) -> Interval:
    n = len(fields)
    if n < max(min_columns, 3):
        raise InputError(
            f"{n} column(s); expected at least {max(min_columns, 3)} tab-separated columns: chrom, start, end",
            path, line_no,
        )
    contig = fields[0]
    if not contig:
        raise InputError("empty chrom (column 1)", path, line_no)
    coords = []
    for col, label in ((1, "start"), (2, "end")):
        text = fields[col].strip()
        try:
            value = int(text)
        except ValueError:
            raise InputError(f"{label} (column {col + 1}) is {text!r}; expected a non-negative integer",
                             path, line_no) from None
        if value < 0:
            raise InputError(f"{label} (column {col + 1}) is negative ({value}); BED coordinates are 0-based, >= 0",
                             path, line_no)
        coords.append(value)
    start, end = coords
    if start > end:
        raise InputError(f"start {start} > end {end}; expected start <= end (0-based half-open)", path, line_no)
    name = fields[3] if n > 3 and fields[3] not in ("", ".") else None
    score = None
    if n > 4 and fields[4] not in ("", ".") and 4 not in skip:
        try:
            score = float(fields[4])
        except ValueError:
            raise InputError(f"score (column 5) is {fields[4]!r}; expected a number or '.'", path, line_no) from None
    strand = "."
    if n > 5 and 5 not in skip:
        strand = fields[5] or "."
        if strand not in STRANDS:
            raise InputError(f"strand (column 6) is {strand!r}; expected '+', '-' or '.'", path, line_no)
    split = None
    if split_idx is not None:
        if split_idx >= n:
            raise InputError(f"no split column {split_idx + 1} (line has {n} columns)", path, line_no)
        value = fields[split_idx].strip()
        split = SPLIT_NAMES.get(value.lower())
        if split is None:
            raise InputError(f"split (column {split_idx + 1}) is {value!r}; expected train, valid or test",
                             path, line_no)
    label = None
    if label_idx is not None:
        if label_idx >= n:
            raise InputError(f"no label column {label_idx + 1} (line has {n} columns)", path, line_no)
        try:
            label = label_type(fields[label_idx])
        except (ValueError, TypeError) as err:
            raise InputError(f"label (column {label_idx + 1}) is {fields[label_idx]!r}: {err}", path, line_no) from None
    return Interval(contig, start, end, name, score, strand, label, split, tuple(fields[6:]))

