"""Published numbers of reference models (DNABERT-2, HyenaDNA, Caduceus, a CNN baseline, ...) from ``published.csv``.

The data file ships with the package. Each row is one number as printed in a paper, with its scale (``100``:
percent or x100, ``1``: a fraction), the paper/table/place it was read (``source``) and what the model is
(``note``: size, pretraining, protocol). ``#`` lines are comments (provenance, what could not be verified).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from genoseq.errors import ConfigError, InputError
from genoseq.eval.metrics import ALL_METRICS

PUBLISHED_CSV = Path(__file__).with_name("published.csv")
PUBLISHED_SUITES = ("gue", "genomic_benchmarks", "nt")
PUBLISHED_COLUMNS = ("suite", "task", "model", "metric", "value", "scale", "source", "note")
SCALES = (1.0, 100.0)


@dataclass(frozen=True)
class PublishedNumber:
    """One published number.

    Attributes:
        suite: ``gue`` | ``genomic_benchmarks`` | ``nt``.
        task: task id as in genoseq's suites (e.g. ``prom/prom_core_tata``, ``human_nontata_promoters``).
        model: reference model name (e.g. ``DNABERT-2``, ``HyenaDNA-436k``, ``CNN``).
        metric: lowercase metric name, a ``results.csv`` column (``mcc``, ``accuracy``, ``f1``, ...).
        value: the number as published.
        scale: 100 when published as percent / x100, 1 when published as a fraction.
        source: paper, table and where the text was read.
        note: what the model is (size, pretraining) and protocol differences.
        line: line of the data file the row came from.
    """

    suite: str
    task: str
    model: str
    metric: str
    value: float
    scale: float
    source: str
    note: str
    line: int = 0

    @property
    def fraction(self) -> float:
        """The value on the 0..1 scale of genoseq's results (``value / scale``)."""
        return self.value / self.scale


def _field_error(path: Path, line: int, column: str, got: str, expected: str) -> InputError:
    return InputError(f"column '{column}': expected {expected}, got {got!r}", path=path, line=line)


def _parse_row(path: Path, line: int, fields: list[str]) -> PublishedNumber:
    if len(fields) != len(PUBLISHED_COLUMNS):
        raise InputError(
            f"expected {len(PUBLISHED_COLUMNS)} fields ({','.join(PUBLISHED_COLUMNS)}), got {len(fields)}",
            path=path, line=line,
        )
    row = dict(zip(PUBLISHED_COLUMNS, fields, strict=True))
    for column in ("suite", "task", "model", "metric", "source"):
        value = row[column]
        if not value or value != value.strip():
            raise _field_error(path, line, column, value, "a non-empty value without surrounding spaces")
    if row["suite"] not in PUBLISHED_SUITES:
        raise _field_error(path, line, "suite", row["suite"], "one of " + ", ".join(PUBLISHED_SUITES))
    if row["metric"] not in ALL_METRICS:
        raise _field_error(path, line, "metric", row["metric"], "a lowercase metric: " + ", ".join(ALL_METRICS))
    try:
        scale = float(row["scale"])
    except ValueError:
        scale = math.nan
    if scale not in SCALES:
        raise _field_error(path, line, "scale", row["scale"], "100 (percent / x100) or 1 (fraction)")
    try:
        value = float(row["value"])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise _field_error(path, line, "value", row["value"], "a finite number")
    if not -scale <= value <= scale:
        raise _field_error(path, line, "value", row["value"], f"a number in [-{scale:g}, {scale:g}] for scale {scale:g}")
    return PublishedNumber(
        suite=row["suite"], task=row["task"], model=row["model"], metric=row["metric"], value=value, scale=scale,
        source=row["source"], note=row["note"].strip(), line=line,
    )


def read_published(path: str | Path) -> list[PublishedNumber]:
    """Parse and validate a published-numbers CSV (blank and ``#`` lines skipped; fields may be quoted).

    Raises:
        InputError: naming the file and line, for a wrong header, a malformed row or a duplicate
            (suite, task, model, metric).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read published numbers: {exc.strerror}", path=path) from exc
    out: list[PublishedNumber] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    header_seen = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            fields = next(csv.reader([raw], strict=True))
        except csv.Error as exc:
            raise InputError(f"malformed CSV ({exc}); a row must be one line", path=path, line=number) from exc
        if not header_seen:
            if tuple(fields) != PUBLISHED_COLUMNS:
                raise InputError(
                    f"expected the header {','.join(PUBLISHED_COLUMNS)}, got {','.join(fields)}", path=path, line=number
                )
            header_seen = True
            continue
        item = _parse_row(path, number, fields)
        key = (item.suite, item.task, item.model, item.metric)
        if key in seen:
            raise InputError(
                f"duplicate number for suite={item.suite} task={item.task} model={item.model} metric={item.metric} "
                f"(first on line {seen[key]}); expected one number per (suite, task, model, metric)",
                path=path, line=number,
            )
        seen[key] = number
        out.append(item)
    if not header_seen:
        raise InputError(f"no header line; expected {','.join(PUBLISHED_COLUMNS)}", path=path)
    return out


def load_published(suite: str | None = None, path: str | Path | None = None) -> list[PublishedNumber]:
    """Published numbers shipped with genoseq (or read from ``path``), optionally of one suite only.

    Args:
        suite: ``gue``, ``genomic_benchmarks`` or ``nt``; None for all. Other suites (``local``) have no
            published numbers and give an empty list.
        path: another CSV in the same format (default: the packaged ``published.csv``).

    Raises:
        InputError: a malformed data file (file and line named).
        ConfigError: ``suite`` is empty.
    """
    if suite is not None and not suite:
        raise ConfigError("suite must be a suite name or None")
    numbers = read_published(PUBLISHED_CSV if path is None else path)
    return [n for n in numbers if suite is None or n.suite == suite]
