"""Per-base labels from a BED of labelled intervals over a genome (token-level tasks).

A token task is a genome FASTA plus a BED whose intervals carry a class name (default: the 4th
column, BED ``name``) or a number (token regression: e.g. a bedGraph value in column 4 or a BED
score in column 5). :func:`read_token_labels` turns it into :class:`TokenLabels`, which gives the
per-base targets of any genome window::

    genome = Genome("genome.fa")
    labels = read_token_labels("cds.bed", genome, background="other")
    labels.classes                       # ['other', 'cds']  (background first = id 0, then sorted)
    labels.labels("NC_000913.3", 0, 8)   # (8,) int64 class ids; IGNORE (-100) where not scored

Rules:

- positions covered by no interval get the ``background`` class (id 0), or are not scored
  (``background=None`` -> ``IGNORE``); for regression they get the number ``background`` or NaN;
- intervals of the same class may overlap or touch (they are merged); intervals of *different*
  classes that overlap are an :class:`~genoseq.errors.InputError` naming both lines, unless both
  classes are in ``priority`` (earlier wins on the overlap); overlapping regression intervals with
  different values are always an error;
- positions outside a contig are never scored.

Strict input: an unknown contig, an interval past its contig's end, a missing or empty label, a
non-numeric value are errors naming the file, the line and what was expected. Empty intervals
(start == end) and regression values ``.``/``NA``/``nan`` are skipped and counted in
``TokenLabels.skipped``.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genoseq.data.intervals import _open_text, _parse_line
from genoseq.errors import ConfigError, InputError

if TYPE_CHECKING:
    from genoseq.data.genome import Genome

__all__ = ["IGNORE", "TokenLabels", "read_token_labels"]

IGNORE = -100  # class id of positions that are not scored (torch cross_entropy ignore_index)
_MISSING_VALUES = {".", "na", "nan", "none", "null", ""}
_SHOW = 5


@dataclass
class _Run:
    """Disjoint, sorted runs of one contig: starts (R,), ends (R,), values (R,) class ids or floats."""

    starts: np.ndarray
    ends: np.ndarray
    values: np.ndarray


@dataclass
class TokenLabels:
    """Per-base targets of a genome, stored as disjoint runs per contig (memory ~ number of intervals).

    Attributes:
        task: "classification" or "regression".
        classes: class names by id (classification; the background, when given, is id 0).
        background: the background class name / value, or None (uncovered bases not scored).
        contigs: contig name -> length (the genome's).
        n_intervals: intervals read (after skips).
        skipped: reason -> number of BED records skipped.
        path: the BED file.
    """

    task: str
    classes: list[str] | None
    background: str | float | None
    contigs: dict[str, int]
    runs: dict[str, _Run] = field(repr=False)
    n_intervals: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    path: str | None = None

    @property
    def n_outputs(self) -> int:
        """Classes (classification) or 1 (regression)."""
        return len(self.classes) if self.classes is not None else 1

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.int64) if self.task == "classification" else np.dtype(np.float32)

    @property
    def ignore(self) -> float:
        """The target of a base that is not scored: IGNORE (-100) or NaN."""
        return IGNORE if self.task == "classification" else math.nan

    def _fill(self) -> float:
        if self.task == "classification":
            return IGNORE if self.background is None else 0
        return math.nan if self.background is None else float(self.background)

    def labels(self, contig: str, start: int, end: int) -> np.ndarray:
        """Targets of ``contig[start:end]`` (0-based half-open; may reach outside the contig).

        Returns (end - start,) int64 class ids (IGNORE where not scored) or float32 values (NaN).
        """
        if end < start:
            raise ValueError(f"end {end} < start {start}")
        out = np.full(end - start, self._fill(), dtype=self.dtype)
        length = self.contigs[contig]
        if start < 0:
            out[: min(-start, len(out))] = self.ignore
        if end > length:
            out[max(length - start, 0):] = self.ignore
        run = self.runs.get(contig)
        if run is None or end <= start:
            return out
        i0 = int(np.searchsorted(run.ends, start, side="right"))
        i1 = int(np.searchsorted(run.starts, end, side="left"))
        for s, e, v in zip(run.starts[i0:i1], run.ends[i0:i1], run.values[i0:i1], strict=True):
            out[max(int(s), start) - start: min(int(e), end) - start] = v
        return out

    def counts(self, regions: Iterable[Any]) -> dict[str, int]:
        """Bases per class (classification; ``"not scored"`` for uncovered bases without background) or
        ``{"scored", "not scored"}`` (regression) inside ``regions`` (objects with contig, start, end)."""
        total: Counter[str] = Counter()
        for r in regions:
            lo, hi = max(int(r.start), 0), min(int(r.end), self.contigs[r.contig])
            if hi <= lo:
                continue
            covered = 0
            run = self.runs.get(r.contig)
            if run is not None:
                s = np.clip(run.starts, lo, hi)
                e = np.clip(run.ends, lo, hi)
                n = e - s
                covered = int(n.sum())
                if self.task == "classification":
                    sums = np.bincount(run.values.astype(np.int64), weights=n, minlength=self.n_outputs)
                    for cid, c in enumerate(sums):
                        if c:
                            total[self.classes[cid]] += int(c)
                else:
                    total["scored"] += covered
            rest = (hi - lo) - covered
            if rest:
                if self.background is None:
                    total["not scored"] += rest
                elif self.task == "classification":
                    total[self.classes[0]] += rest
                else:
                    total["scored"] += rest
        return dict(total)

    def describe(self) -> dict[str, Any]:
        """JSON-able summary (saved beside a fine-tuned model)."""
        return {"kind": f"token_{self.task}", "labels_bed": self.path, "classes": self.classes,
                "background": self.background, "n_intervals": self.n_intervals, "skipped": dict(self.skipped)}


@dataclass
class _Rec:
    start: int
    end: int
    value: Any  # class name or float
    line: int


def _label_text(fields: list[str], col: int, path: Path, line_no: int, task: str) -> str:
    if col >= len(fields):
        what = "a class name" if task == "classification" else "a number"
        raise InputError(f"{len(fields)} column(s); expected {what} in column {col + 1} (data.label_column)",
                         path, line_no)
    return fields[col].strip()


def read_token_labels(
    path: str | os.PathLike[str],
    genome: Genome,
    *,
    label_column: int = 4,
    task: str = "classification",
    background: str | float | None = "background",
    priority: Sequence[str] = (),
) -> TokenLabels:
    """Read a BED of labelled intervals into per-base targets over ``genome``.

    Args:
        path: BED (plain or gzip; ``track``/``browser``/``#`` lines skipped), tab- or space-separated.
        genome: the genome the intervals are on (contig names resolved with ``genome.resolve``).
        label_column: 1-based column holding the class name (classification) or value (regression).
        task: "classification" or "regression".
        background: class name (classification) or number (regression) of uncovered bases; None: they
            are not scored.
        priority: classes, highest first, allowed to overlap; the earlier class wins on the overlap.

    Raises:
        InputError: file missing, malformed line, unknown contig, interval past the contig end, missing
            or non-numeric label, overlapping intervals of different classes/values (naming both lines).
        ConfigError: bad arguments (a background that is not a number for regression, fewer than two
            classes, a priority class that is not in the file).
    """
    if task not in ("classification", "regression"):
        raise ConfigError(f"task must be 'classification' or 'regression', got {task!r}")
    if label_column < 4:
        raise ConfigError(f"label_column is 1-based and must be >= 4 (columns 1-3 are chrom, start, end), "
                          f"got {label_column}")
    if task == "regression" and background is not None and not isinstance(background, (int, float)):
        raise ConfigError(f"token regression needs a numeric background (the value of bases covered by no "
                          f"interval) or null (not scored), got {background!r}")
    if task == "classification" and background is not None and not isinstance(background, str):
        background = str(background)
    if len(set(priority)) != len(priority):
        raise ConfigError(f"label priority lists a class twice: {list(priority)}")
    path = Path(path)
    col = label_column - 1
    skip_cols = {4, 5} if col in (4, 5) else set()  # a label in the score/strand column is not parsed as such
    per_contig: dict[str, list[_Rec]] = {}
    skipped: Counter[str] = Counter()
    contigs = dict(genome.contigs)
    try:
        fh = _open_text(path)
    except FileNotFoundError:
        raise InputError("file not found; expected a BED file of labelled intervals", path) from None
    n = 0
    try:
        with fh:
            for line_no, raw in enumerate(fh, 1):
                line = raw.rstrip("\r\n")
                if not line.strip() or line.startswith(("#", "track", "browser")):
                    continue
                fields = line.split("\t") if "\t" in line else line.split()
                iv = _parse_line(fields, path, line_no, None, None, str, 3, skip_cols)
                text = _label_text(fields, col, path, line_no, task)
                try:
                    contig = genome.resolve(iv.contig)
                except InputError as err:
                    raise InputError(f"{err.reason}; expected a contig of the genome FASTA {genome.path}",
                                     path, line_no) from None
                if iv.end > contigs[contig]:
                    raise InputError(f"end {iv.end} is past the end of contig {contig!r} ({contigs[contig]} bp); "
                                     "expected intervals inside the genome (is the BED for another assembly?)",
                                     path, line_no)
                if iv.start == iv.end:
                    skipped["empty interval (start == end)"] += 1
                    continue
                value: Any
                if task == "classification":
                    if text in ("", "."):
                        raise InputError(f"class (column {col + 1}) is {text!r}; expected a class name", path, line_no)
                    value = text
                else:
                    if text.lower() in _MISSING_VALUES:
                        skipped["no value (., NA, nan or empty)"] += 1
                        continue
                    try:
                        value = float(text)
                    except ValueError:
                        raise InputError(f"value (column {col + 1}) is {text!r}; expected a number", path,
                                         line_no) from None
                    if not math.isfinite(value):
                        raise InputError(f"value (column {col + 1}) is {text!r}; expected a finite number",
                                         path, line_no)
                per_contig.setdefault(contig, []).append(_Rec(iv.start, iv.end, value, line_no))
                n += 1
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte offset {err.start}); expected a BED text file", path) from None
    except (OSError, EOFError) as err:
        raise InputError(f"cannot read file ({err})", path) from None
    if n == 0:
        raise InputError("no intervals; expected at least one labelled BED record", path)

    if task == "regression":
        runs = {c: _value_runs(recs, path, c) for c, recs in per_contig.items()}
        return TokenLabels("regression", None, None if background is None else float(background), contigs, runs,
                           n, dict(skipped), str(path))

    names = sorted({r.value for recs in per_contig.values() for r in recs} - {background})
    classes = ([background] if background is not None else []) + names
    unknown = [p for p in priority if p not in classes]
    if unknown:
        raise ConfigError(f"label priority names {unknown} but {path} has the classes {names}"
                          + (f" (background {background!r})" if background is not None else ""))
    if len(classes) < 2:
        raise ConfigError(f"{path}: token classification needs at least two classes, got {classes} "
                          "(set a background class for the bases covered by no interval)")
    ids = {c: i for i, c in enumerate(classes)}
    rank = {c: i for i, c in enumerate(priority)}
    runs = {c: _class_runs(recs, ids, rank, path, c) for c, recs in per_contig.items()}
    return TokenLabels("classification", classes, background, contigs, runs, n, dict(skipped), str(path))


def _overlap_error(path: Path, contig: str, a: _Rec, b: _Rec, how: str) -> InputError:
    return InputError(
        f"lines {a.line} and {b.line} overlap with different {how}: {contig}:{a.start}-{a.end} {a.value!r} and "
        f"{contig}:{b.start}-{b.end} {b.value!r}" + ("; expected non-overlapping intervals, or list both classes "
                                                      "in data.label_priority (earlier wins)" if how == "classes"
                                                      else "; expected non-overlapping intervals"),
        path)


def _class_runs(recs: list[_Rec], ids: dict[str, int], rank: dict[str, int], path: Path, contig: str) -> _Run:
    """Disjoint runs of class ids; overlaps of different classes need both in ``rank``."""
    recs = sorted(recs, key=lambda r: (r.start, r.end, r.line))
    farthest: dict[str, _Rec] = {}  # class -> its interval reaching farthest so far
    for r in recs:
        for other, f in farthest.items():
            if other != r.value and f.end > r.start and not (other in rank and r.value in rank):
                raise _overlap_error(path, contig, f, r, "classes")
        f = farthest.get(r.value)
        if f is None or r.end > f.end:
            farthest[r.value] = r
    # union per class, then paint lower priority first on elementary segments
    by_class: dict[str, list[tuple[int, int]]] = {}
    for r in recs:
        spans = by_class.setdefault(r.value, [])
        if spans and r.start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], r.end))
        else:
            spans.append((r.start, r.end))
    arrays = {c: np.asarray(s, dtype=np.int64).reshape(-1, 2) for c, s in by_class.items()}
    if len(arrays) == 1:
        (c, a), = arrays.items()
        return _Run(a[:, 0].copy(), a[:, 1].copy(), np.full(len(a), ids[c], dtype=np.int64))
    bounds = np.unique(np.concatenate([a.ravel() for a in arrays.values()]))
    seg_s, seg_e = bounds[:-1], bounds[1:]
    winner = np.full(len(seg_s), -1, dtype=np.int64)
    order = sorted(arrays, key=lambda c: (rank.get(c, len(rank)), c))  # highest priority first
    for c in order:
        a = arrays[c]
        k = np.searchsorted(a[:, 0], seg_s, side="right") - 1
        covered = (k >= 0) & (a[np.maximum(k, 0), 1] > seg_s)
        winner[(winner < 0) & covered] = ids[c]
    keep = winner >= 0
    seg_s, seg_e, winner = seg_s[keep], seg_e[keep], winner[keep]
    # merge touching segments of the same class
    if len(seg_s) > 1:
        new = np.ones(len(seg_s), dtype=bool)
        new[1:] = (seg_s[1:] != seg_e[:-1]) | (winner[1:] != winner[:-1])
        last = np.r_[np.flatnonzero(new)[1:] - 1, len(seg_s) - 1]
        seg_s, seg_e, winner = seg_s[new], seg_e[last], winner[new]
    return _Run(seg_s, seg_e, winner)


def _value_runs(recs: list[_Rec], path: Path, contig: str) -> _Run:
    """Disjoint runs of values; overlapping intervals must carry the same value."""
    recs = sorted(recs, key=lambda r: (r.start, r.end, r.line))
    starts: list[int] = []
    ends: list[int] = []
    values: list[float] = []
    far: _Rec | None = None
    for r in recs:
        if far is not None and r.start < far.end:
            if r.value != far.value:
                raise _overlap_error(path, contig, far, r, "values")
            ends[-1] = max(ends[-1], r.end)
        else:
            starts.append(r.start)
            ends.append(r.end)
            values.append(r.value)
        if far is None or r.end > far.end:
            far = r
    return _Run(np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64),
                np.asarray(values, dtype=np.float32))
