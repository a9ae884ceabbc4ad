"""Labelled sequence tasks: GUE CSVs, Nucleotide Transformer labelled FASTA, GenomicBenchmarks folders,
BED + genome.

:func:`read_task` returns a :class:`Task`: named splits of sequences (str) and labels, the task
kind (``binary``, ``multiclass``, ``multilabel``, ``regression``) and a stable class mapping
(classes sorted, numerically when they are integers), saved with :meth:`Task.to_dict`.

Accepted layouts (``.gz`` allowed everywhere):

- a CSV/TSV file with a header naming ``sequence`` and ``label`` columns -> one split named
  after the file (``train``/``dev``/``test``; ``valid``/``validation``/``val`` read as ``dev``;
  any other name gives the split ``all``);
- a labelled FASTA file (``.fna``/``.fa``/``.fasta``) whose record ids end in ``|LABEL``
  (Nucleotide Transformer: ``>chr1:1000-1300|1``; the id is the header up to the first space, the label its
  last ``|``-separated field); multi-line sequences allowed; one split named after the file as above;
- a folder with such files per split: ``train.csv``, ``dev.csv`` (or ``valid.csv``), ``test.csv``, or
  ``train.fna``, ``test.fna`` (all tables or all FASTA, not mixed);
- a GenomicBenchmarks folder: ``train/<class>.csv`` and ``test/<class>.csv``, each file either of
  coordinates (columns ``region`` or ``chr``, ``start``, ``end``, optional ``strand``; 0-based
  half-open like BED, fetched from ``genome``) or of sequences (a ``sequence`` column, or one
  sequence per line); or ``train/<class>/*.txt`` with one sequence per file;
- a BED file of labelled intervals plus a ``genome`` (label in the name column by default).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import warnings
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from genoseq.errors import GenoseqError, InputError
from genoseq.tokenizer import Tokenizer

# what reading a damaged (b)gzip or text file can raise
_READ_ERRORS = (OSError, EOFError, zlib.error)

__all__ = ["KINDS", "Skipped", "Split", "Task", "read_task"]

KINDS = ("binary", "multiclass", "multilabel", "regression")
SPLIT_NAMES = {
    "train": "train", "training": "train",
    "dev": "dev", "valid": "dev", "validation": "dev", "val": "dev",
    "test": "test", "testing": "test",
}
_TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")
_BED_SUFFIXES = (".bed", ".narrowpeak", ".broadpeak")
_FASTA_SUFFIXES = (".fna", ".fa", ".fasta")
_FASTA_EXPECTED = ("expected a header '>ID|LABEL' (the class label after the last '|' of the record id, "
                   "the header up to the first space)")
_MULTILABEL_SEP = ";"
_COORD_CHROM = ("region", "chr", "chrom", "contig", "seqname")


@dataclass
class Split:
    """One split. ``labels``: (N,) int64 class ids, (N,) float32 regression targets, or
    (N, K) float32 for multi-label (0/1) and multi-target regression. ``lines`` gives each row's
    source as ``"path:line"`` for error reports."""

    name: str
    sequences: list[str]
    labels: np.ndarray
    lines: list[str] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.sequences)


@dataclass(frozen=True)
class Skipped:
    """A row that ``on_invalid="skip"`` left out, and why."""

    path: str
    line: int
    reason: str
    what: str = "line"  # "interval" for BED rows (numbered by interval, not by file line)


@dataclass
class Task:
    """A labelled task. ``task["train"]`` is a :class:`Split`.

    Attributes:
        name: the task name (folder or file stem).
        kind: one of ``binary``, ``multiclass``, ``multilabel``, ``regression``.
        classes: class names in id order (empty for regression; target column names for
            multi-target regression are in ``label_names``).
        splits: split name -> :class:`Split`.
        skipped: rows left out because of ``on_invalid="skip"`` (empty unless asked).
        max_rows: the per-split row limit the task was read with, if any.
    """

    name: str
    kind: str
    classes: list[str]
    splits: dict[str, Split]
    label_names: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    max_rows: int | None = None
    source: str = ""

    def __getitem__(self, split: str) -> Split:
        try:
            return self.splits[split]
        except KeyError:
            raise InputError(f"task {self.name!r} has no split {split!r}; it has {sorted(self.splits)}") from None

    def __contains__(self, split: object) -> bool:
        return split in self.splits

    @property
    def class_to_id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.classes)

    @property
    def n_outputs(self) -> int:
        """Width of a prediction head: classes, labels, or regression targets."""
        return self.n_classes if self.kind != "regression" else max(1, len(self.label_names))

    def to_dict(self) -> dict[str, Any]:
        """Metadata to save beside a fine-tuned model (no sequences)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "classes": list(self.classes),
            "class_to_id": self.class_to_id,
            "n_classes": self.n_classes,
            "label_names": list(self.label_names),
            "splits": {name: len(split) for name, split in self.splits.items()},
            "n_skipped": len(self.skipped),
            "max_rows": self.max_rows,
            "source": self.source,
        }

    def save_json(self, path: str | PathLike[str]) -> None:
        """Write :meth:`to_dict` as JSON, atomically."""
        from genoseq._atomic import write_json

        write_json(path, self.to_dict())

    def report(self) -> str:
        """One line for logs, naming skipped rows and row limits."""
        sizes = ", ".join(f"{name} {len(split)}" for name, split in self.splits.items())
        text = f"task {self.name!r} ({self.kind}, {self.n_classes} classes): {sizes}"
        if self.max_rows is not None:
            text += f"; limited to {self.max_rows} rows per split"
        if self.skipped:
            reasons = Counter(s.reason.split(":")[0] for s in self.skipped)
            text += f"; skipped {len(self.skipped)} rows (" + ", ".join(f"{r}: {n}" for r, n in reasons.items()) + ")"
        return text


# --------------------------------------------------------------------------- raw rows


@dataclass
class _Row:
    split: str
    sequence: str
    label: Any  # str, or list[str] for several label columns
    path: str
    line: int
    what: str = "line"


class _Reader:
    """Collects raw rows from files, validating sequences; labels are typed afterwards."""

    def __init__(self, max_rows: int | None, on_invalid: str) -> None:
        if on_invalid not in ("raise", "skip"):
            raise InputError(f"on_invalid must be 'raise' or 'skip', got {on_invalid!r}")
        if max_rows is not None and max_rows < 1:
            raise InputError(f"max_rows must be a positive integer, got {max_rows!r}")
        self.max_rows = max_rows
        self.on_invalid = on_invalid
        self.rows: list[_Row] = []
        self.per_split: Counter[str] = Counter()
        self.skipped: list[Skipped] = []
        self.tokenizer = Tokenizer()

    def full(self, split: str) -> bool:
        return self.max_rows is not None and self.per_split[split] >= self.max_rows

    def problem(self, path: Path, line: int, reason: str, what: str = "line") -> None:
        """Raise, or record a skipped row."""
        if self.on_invalid == "raise":
            raise InputError(reason, path, line, what=what)
        self.skipped.append(Skipped(str(path), line, reason, what))

    def add(self, split: str, sequence: str, label: Any, path: Path, line: int, what: str = "line") -> None:
        if self.full(split):
            return
        sequence = sequence.strip()
        if not sequence:
            return self.problem(path, line, "empty sequence: expected a nucleotide sequence", what)
        try:
            if sequence.translate(_DROP_VALID):  # fast check; the tokenizer words the error
                self.tokenizer.encode(sequence)
        except InputError as err:  # the tokenizer's unknown_to_n hint does not apply here
            reason = re.sub(r";\s*pass unknown_to_n=True[^)]*", "", str(err))
            return self.problem(path, line, f"invalid sequence: {reason}", what)
        if label is None or (isinstance(label, str) and not label.strip()):
            return self.problem(path, line, "empty label", what)
        self.rows.append(_Row(split, sequence, label, str(path), line, what))
        self.per_split[split] += 1


def _valid_characters() -> str:
    """The characters :class:`~genoseq.tokenizer.Tokenizer` accepts (bases, N, IUPAC codes, U; any case)."""
    tokenizer, ok = Tokenizer(), []
    for code in range(33, 127):
        try:
            tokenizer.encode(chr(code))
        except InputError:
            continue
        ok.append(chr(code))
    return "".join(ok)


_DROP_VALID = str.maketrans("", "", _valid_characters())


def _open_binary(path: Path) -> io.BufferedIOBase:
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")  # type: ignore[return-value]


def _decoded_lines(fh: io.BufferedIOBase, path: Path) -> Iterator[str]:
    """UTF-8 lines of a binary stream; a bad byte is an error naming its exact line."""
    for number, raw in enumerate(fh, start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputError(
                f"bytes that are not UTF-8 text (byte {err.start + 1} of the line); expected a text table", path, number
            ) from None


def _read_text(path: Path) -> str:
    try:
        with _open_binary(path) as fh:
            return "".join(_decoded_lines(fh, path))
    except _READ_ERRORS as err:
        raise InputError(f"cannot read the file: {err}", path) from None


def _iter_records(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for each non-blank line; decoding errors name the line."""
    try:
        with _open_binary(path) as fh:
            reader = csv.reader(_decoded_lines(fh, path), delimiter=delimiter)
            while True:
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as err:
                    raise InputError(f"malformed CSV: {err}", path, reader.line_num) from None
                if fields and any(f.strip() for f in fields):
                    yield reader.line_num, fields
    except _READ_ERRORS as err:
        raise InputError(f"cannot read the file: {err}", path) from None


def _table_delimiter(path: Path, delimiter: str | None) -> str:
    if delimiter is not None:
        return delimiter
    name = _strip_gz(path.name).lower()
    return "\t" if name.endswith((".tsv", ".tab")) else ","


def _strip_gz(name: str) -> str:
    return name[:-3] if name.lower().endswith(".gz") else name


def _stem(path: Path) -> str:
    name = _strip_gz(path.name)
    for suffix in _TABLE_SUFFIXES + _BED_SUFFIXES + _FASTA_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_fasta(path: Path) -> bool:
    return _strip_gz(path.name).lower().endswith(_FASTA_SUFFIXES)


def _folder_name(folder: Path) -> str:
    """``gue/tf/2`` -> ``tf_2``: a bare number is prefixed by its parent folder's name."""
    if folder.name.isdigit() and folder.parent.name:
        return f"{folder.parent.name}_{folder.name}"
    return folder.name


def _looks_like_sequence(text: str) -> bool:
    return len(text) >= 4 and set(text.upper()) <= set("ACGTN")


def _read_table(
    path: Path,
    split: str,
    reader: _Reader,
    delimiter: str | None,
    sequence_column: str,
    label_columns: list[str],
) -> None:
    """A ``sequence,label`` table (header required) into ``reader``."""
    delim = _table_delimiter(path, delimiter)
    records = _iter_records(path, delim)
    first = next(records, None)
    if first is None:
        raise InputError(f"empty file; expected a header line '{sequence_column}{delim}{label_columns[0]}'", path)
    number, header = first
    names = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in [sequence_column, *label_columns] if c not in names]
    if missing:
        hint = ""
        other = {"\t": "tab", ",": "comma", ";": "semicolon", " ": "space"}
        if header and header[0].strip().lstrip("\ufeff").startswith(">"):
            hint = "; the file looks like FASTA: name it .fna/.fa/.fasta to read '>ID|LABEL' records"
        else:
            for d, word in other.items():
                if d != delim and len(header) == 1 and d in header[0]:
                    hint = f"; the line is {word}-separated but {_delim_word(delim)}-separated columns were " \
                           f"expected (pass delimiter={d!r})"
                    break
            else:
                if header and _looks_like_sequence(header[0].strip()):
                    hint = "; the first line looks like data: add a header line"
        raise InputError(
            f"missing column {', '.join(repr(m) for m in missing)}: the header has columns {names}; "
            f"expected a header naming {sequence_column!r} and {', '.join(repr(c) for c in label_columns)}{hint}",
            path,
            number,
        )
    seq_i = names.index(sequence_column)
    label_i = [names.index(c) for c in label_columns]
    width = len(names)
    for number, fields in records:
        if reader.full(split):
            break
        if len(fields) != width:
            reader.problem(path, number, f"expected {width} {_delim_word(delim)}-separated fields "
                                         f"({', '.join(names)}), found {len(fields)}")
            continue
        label = fields[label_i[0]].strip() if len(label_i) == 1 else [fields[i].strip() for i in label_i]
        reader.add(split, fields[seq_i], label, path, number)


def _delim_word(delim: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", " ": "space"}.get(delim, repr(delim))


# --------------------------------------------------------------------------- labelled FASTA


def _read_labelled_fasta(path: Path, split: str, reader: _Reader) -> None:
    """FASTA records whose id ends in ``|LABEL`` (Nucleotide Transformer ``.fna``) into ``reader``.

    The record id is the header up to the first whitespace; the label is its last ``|``-separated
    field, as the dataset's loading script takes it (``record.id.split("|")[-1]``). Sequence lines are
    joined (whitespace inside them dropped, as Biopython does). Every problem with a record is reported
    at the line of its header."""
    header: tuple[int, str, str] | None = None  # (line, record id, label) of the open record
    chunks: list[str] = []
    skipping = False  # inside a record whose header was bad (on_invalid="skip")
    seen_header = False

    def close() -> None:
        if header is None:
            return
        number, record_id, label = header
        sequence = "".join(chunks)
        if not sequence:
            reader.problem(path, number, f"record {record_id!r} has no sequence: expected sequence lines after "
                                         f"its header")
        else:
            reader.add(split, sequence, label, path, number)

    try:
        with _open_binary(path) as fh:
            for number, text in enumerate(_decoded_lines(fh, path), start=1):
                line = text.strip()
                if not line:
                    continue
                if line.startswith(">"):
                    close()
                    header, chunks, skipping, seen_header = None, [], False, True
                    if reader.full(split):
                        return
                    fields = line[1:].split(maxsplit=1)
                    record_id = fields[0] if fields else ""
                    if not record_id:
                        reason = f"empty header: {_FASTA_EXPECTED}"
                    elif "|" not in record_id:
                        reason = f"record id {record_id!r} has no '|' before a label: {_FASTA_EXPECTED}"
                    elif not record_id.rsplit("|", 1)[1]:
                        reason = f"record id {record_id!r} has an empty label after its last '|': {_FASTA_EXPECTED}"
                    else:
                        header = (number, record_id, record_id.rsplit("|", 1)[1])
                        continue
                    reader.problem(path, number, reason)
                    skipping = True
                elif not seen_header:
                    reader.problem(path, number, "sequence line before the first header: expected a FASTA "
                                                 "file starting with a header line '>ID|LABEL'")
                    seen_header = skipping = True  # skip mode: drop the lines up to the first header
                elif not skipping:
                    chunks.append(line if " " not in line and "\t" not in line else "".join(line.split()))
            close()
            if not seen_header:
                raise InputError("empty file; expected labelled FASTA records (a header line '>ID|LABEL', then "
                                 "sequence lines)", path)
    except _READ_ERRORS as err:
        raise InputError(f"cannot read the file: {err}", path) from None


def _check_fasta_options(path: Path, sequence_column: str, label_columns: list[str]) -> None:
    if sequence_column != "sequence" or label_columns != ["label"]:
        raise InputError("sequence_column/label_column do not apply to labelled FASTA (the label is the last "
                         "'|' field of each record id)", path)


# --------------------------------------------------------------------------- GenomicBenchmarks


def _read_class_file(
    path: Path, split: str, label: str, reader: _Reader, genome: Any, delimiter: str | None
) -> None:
    """``<class>.csv[.gz]`` of coordinates or sequences; every row gets label ``label``."""
    delim = _table_delimiter(path, delimiter)
    records = _iter_records(path, delim)
    first = next(records, None)
    if first is None:
        return
    number, header = first
    names = [h.strip().lower() for h in header]
    chrom_i = next((names.index(n) for n in _COORD_CHROM if n in names), None)
    if chrom_i is not None and "start" in names and "end" in names:
        if genome is None:
            raise InputError(
                "this class file lists coordinates (region/chr, start, end): pass genome=Genome(...) to read_task",
                path,
                number,
            )
        start_i, end_i = names.index("start"), names.index("end")
        strand_i = names.index("strand") if "strand" in names else None
        for number, fields in records:
            if reader.full(split):
                break
            seq = _fetch_row(path, number, fields, chrom_i, start_i, end_i, strand_i, genome, reader)
            if seq is not None:
                reader.add(split, seq, label, path, number)
        return
    seq_i = next((names.index(n) for n in ("sequence", "seq") if n in names), None)
    if seq_i is None:
        if len(header) == 1 and _looks_like_sequence(header[0].strip()):
            reader.add(split, header[0], label, path, number)  # headerless: one sequence per line
            seq_i = 0
        else:
            raise InputError(
                f"expected a header with columns region/chr, start, end[, strand] (coordinates) or sequence, "
                f"or one sequence per line; found {header}",
                path,
                number,
            )
    for number, fields in records:
        if reader.full(split):
            break
        if seq_i >= len(fields):
            reader.problem(path, number, f"expected at least {seq_i + 1} fields, found {len(fields)}")
            continue
        reader.add(split, fields[seq_i], label, path, number)


def _fetch_row(
    path: Path,
    number: int,
    fields: list[str],
    chrom_i: int,
    start_i: int,
    end_i: int,
    strand_i: int | None,
    genome: Any,
    reader: _Reader,
) -> str | None:
    need = max(i for i in (chrom_i, start_i, end_i, strand_i) if i is not None) + 1
    if len(fields) < need:
        reader.problem(path, number, f"expected at least {need} fields, found {len(fields)}")
        return None
    try:
        start, end = int(fields[start_i]), int(fields[end_i])
    except ValueError:
        reader.problem(path, number, f"start/end must be integers, found {fields[start_i]!r}, {fields[end_i]!r}")
        return None
    strand = fields[strand_i].strip() if strand_i is not None else "+"
    if strand not in ("+", "-"):
        reader.problem(path, number, f"strand must be '+' or '-', found {strand!r}")
        return None
    if not 0 <= start < end:
        reader.problem(path, number, f"expected 0 <= start < end (0-based, half-open), found {start}, {end}")
        return None
    try:
        return str(genome.fetch(fields[chrom_i].strip(), start, end, strand=strand))
    except GenoseqError as err:
        reader.problem(path, number, f"cannot fetch {fields[chrom_i]}:{start}-{end}: {err}")
        return None


def _read_genomic_benchmarks(
    root: Path, split_dirs: dict[str, Path], reader: _Reader, genome: Any, delimiter: str | None
) -> None:
    for split, folder in split_dirs.items():
        found = False
        for entry in sorted(folder.iterdir()):
            name = _strip_gz(entry.name).lower()
            if entry.is_file() and name.endswith(_TABLE_SUFFIXES):
                found = True
                _read_class_file(entry, split, _stem(entry), reader, genome, delimiter)
            elif entry.is_dir():
                files = sorted(f for f in entry.iterdir() if f.is_file() and f.suffix == ".txt")
                found = found or bool(files)
                for seq_file in files:
                    if reader.full(split):
                        break
                    text = "".join(_read_text(seq_file).split())
                    reader.add(split, text, entry.name, seq_file, 1)
        if not found:
            raise InputError(f"no class files (<class>.csv[.gz] or <class>/*.txt) in split folder {split!r}", folder)


# --------------------------------------------------------------------------- BED + genome


def _read_bed_task(
    path: Path, reader: _Reader, genome: Any, label_column: int | str, split_column: int | str | None
) -> None:
    """Labelled intervals from a BED file (:func:`genoseq.read_bed`), sequences from ``genome``
    (reverse-complemented on ``-`` strands). Rows are numbered by interval (1-based)."""
    if genome is None:
        raise InputError("a BED task needs a genome: read_task(path, genome=Genome('genome.fa'))", path)
    from genoseq.data.intervals import read_bed

    intervals = read_bed(path, split_column=split_column, label_column=label_column)
    default_split = SPLIT_NAMES.get(_stem(path).lower(), "all")
    for number, interval in enumerate(intervals, start=1):
        split = SPLIT_NAMES.get(str(interval.split).lower(), default_split) if interval.split else default_split
        if reader.full(split):
            continue
        strand = "-" if interval.strand == "-" else "+"
        try:
            seq = str(genome.fetch(interval.contig, interval.start, interval.end, strand=strand))
        except GenoseqError as err:
            where = f"{interval.contig}:{interval.start}-{interval.end}"
            reader.problem(path, number, f"cannot fetch {where}: {getattr(err, 'reason', err)}", "interval")
            continue
        label = interval.label
        reader.add(split, seq, None if label is None else str(label), path, number, "interval")


# --------------------------------------------------------------------------- labels


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sort_classes(names: set[str]) -> list[str]:
    if names and all(_is_int(n) for n in names):
        return sorted(names, key=int)
    return sorted(names)


def _infer_kind(rows: list[_Row], multi_column: bool, classes: list[str] | None) -> str:
    if multi_column:
        values = {v for r in rows for v in r.label}
        return "multilabel" if values <= {"0", "1", "0.0", "1.0"} else "regression"
    labels = {r.label for r in rows}
    if any(_MULTILABEL_SEP in label for label in labels):
        return "multilabel"
    if labels and all(_is_float(label) for label in labels) and not all(_is_int(label) for label in labels):
        return "regression"
    n = len(classes) if classes is not None else len(labels)
    return "binary" if n <= 2 else "multiclass"


def _labels(
    rows: list[_Row], kind: str, classes: list[str] | None, label_columns: list[str], reader: _Reader
) -> tuple[list[_Row], np.ndarray, list[str]]:
    """(kept rows, label array, classes) for ``kind``; bad labels raise or are skipped."""
    multi_column = len(label_columns) > 1
    keep: list[_Row] = []
    values: list[Any] = []
    if kind == "regression" or (kind == "multilabel" and multi_column):
        for row in rows:
            raw = row.label if multi_column else [row.label]
            try:
                vec = [float(v) for v in raw]
            except ValueError:
                reader.problem(Path(row.path), row.line, f"label {row.label!r} is not a number "
                                                         f"(a {kind} task needs numeric labels)", row.what)
                continue
            if kind == "multilabel" and not set(vec) <= {0.0, 1.0}:
                reader.problem(Path(row.path), row.line, f"multi-label columns must be 0 or 1, found {row.label}", row.what)
                continue
            keep.append(row)
            values.append(vec if multi_column else vec[0])
        arr = np.asarray(values, dtype=np.float32).reshape(len(keep), -1) if multi_column else np.asarray(
            values, dtype=np.float32
        )
        return keep, arr, (list(label_columns) if kind == "multilabel" else [])
    if multi_column:
        raise InputError(f"several label columns {label_columns} need kind 'multilabel' or 'regression', not {kind!r}")
    if kind == "multilabel":
        sets = [{p.strip() for p in r.label.split(_MULTILABEL_SEP) if p.strip()} for r in rows]
        names = classes if classes is not None else _sort_classes(set().union(*sets) if sets else set())
        index = {n: i for i, n in enumerate(names)}
        arr = np.zeros((len(rows), len(names)), dtype=np.float32)
        for i, (row, labels) in enumerate(zip(rows, sets, strict=True)):
            for name in labels:
                if name not in index:
                    raise InputError(f"label {name!r} is not one of the classes {names}", row.path, row.line, row.what)
                arr[i, index[name]] = 1.0
        return rows, arr, names
    names = classes if classes is not None else _sort_classes({r.label for r in rows})
    if kind == "binary" and len(names) > 2:
        raise InputError(f"kind='binary' but the labels hold {len(names)} classes: {names[:10]}", rows[0].path)
    index = {n: i for i, n in enumerate(names)}
    for row in rows:
        if row.label not in index:
            reader.problem(Path(row.path), row.line, f"label {row.label!r} is not one of the classes {names}", row.what)
            continue
        keep.append(row)
        values.append(index[row.label])
    return keep, np.asarray(values, dtype=np.int64), names


# --------------------------------------------------------------------------- entry point


def read_task(
    path: str | PathLike[str],
    *,
    genome: Any = None,
    kind: str | None = None,
    sequence_column: str = "sequence",
    label_column: str | int | Sequence[str] = "label",
    delimiter: str | None = None,
    classes: Sequence[Any] | dict[str, Any] | None = None,
    max_rows: int | None = None,
    on_invalid: str = "raise",
    name: str | None = None,
    split_column: int | str | None = None,
) -> Task:
    """Read a labelled sequence task.

    Args:
        path: a CSV/TSV file, a labelled FASTA file (``.fna``/``.fa``/``.fasta``, record ids ending in
            ``|LABEL`` as in the Nucleotide Transformer tasks), a folder of split files
            (``train/dev/test.csv[.gz]`` or ``train/test.fna[.gz]``), a GenomicBenchmarks folder
            (``train|test/<class>.csv[.gz]``) or a BED file of labelled intervals (see the module docstring).
        genome: a :class:`genoseq.Genome` (or FASTA path) for coordinate inputs.
        kind: ``binary``, ``multiclass``, ``multilabel`` or ``regression``; inferred when None
            (integers or strings -> classes; non-integer numbers -> regression; labels holding
            ``;`` -> multi-label; several label columns of 0/1 -> multi-label).
        sequence_column, label_column: column names; ``label_column`` may be a list of columns
            (multi-label 0/1 or multi-target regression). For BED input it is the BED column holding
            the label (a name such as ``"name"``/``"score"`` or a 0-based index; default the name column).
            Labelled FASTA takes neither (leave the defaults).
        delimiter: column separator; default ``,`` for ``.csv`` and tab for ``.tsv``/``.tab``.
        classes: a fixed class order (a list, or a dict from :meth:`Task.to_dict`); labels outside
            it are errors. Use it to read test data with a fine-tuned model's mapping.
        max_rows: read at most this many rows per split (the limit is reported by ``Task.report``).
        on_invalid: ``"raise"`` (default) or ``"skip"``: skip bad rows, listing each one in
            ``task.skipped`` and warning with the count. Nothing is dropped silently.
        name: task name (default: the folder or file name).
        split_column: for BED input, the column holding train/dev/test per interval (default: one
            split named after the file, or ``all``).

    Raises:
        InputError: naming the file, the line and what was expected (missing column, empty or
            invalid sequence, wrong delimiter, non-numeric regression label, a FASTA header without
            ``|LABEL``, a FASTA record without sequence, ...). FASTA problems name the record's header line.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path)
    if kind is not None and kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}")
    if genome is not None and isinstance(genome, (str, PathLike)):
        from genoseq.data.genome import Genome

        genome = Genome(genome)
    label_columns = [label_column] if isinstance(label_column, (str, int)) else list(label_column)
    if not label_columns:
        raise InputError("label_column must name at least one column")
    if isinstance(classes, dict):
        classes = classes.get("classes", None)
    fixed_classes = None if classes is None else [str(c) for c in classes]
    reader = _Reader(max_rows, on_invalid)
    task_name = name or (_folder_name(path.resolve()) if path.is_dir() else _stem(path))
    if path.is_dir():
        _read_folder(path, reader, genome, delimiter, sequence_column, label_columns)
    elif _strip_gz(path.name).lower().endswith(_BED_SUFFIXES):
        bed_label = "name" if label_column == "label" else label_column
        if not isinstance(bed_label, (str, int)):
            raise InputError("a BED task takes one label column (a name or a 0-based index)", path)
        _read_bed_task(path, reader, genome, bed_label, split_column)
    elif _is_fasta(path):
        _check_fasta_options(path, sequence_column, label_columns)
        split = SPLIT_NAMES.get(_stem(path).lower(), "all")
        _read_labelled_fasta(path, split, reader)
        if name is None and split != "all":
            task_name = _folder_name(path.resolve().parent)
    else:
        split = SPLIT_NAMES.get(_stem(path).lower(), "all")
        _read_table(path, split, reader, delimiter, sequence_column, label_columns)
        if name is None and split != "all":
            task_name = _folder_name(path.resolve().parent)
    if not reader.rows:
        detail = f" ({len(reader.skipped)} rows skipped as invalid)" if reader.skipped else ""
        raise InputError(f"no labelled rows found{detail}", path)
    task_kind = kind or _infer_kind(reader.rows, len(label_columns) > 1, fixed_classes)
    rows, labels, class_names = _labels(reader.rows, task_kind, fixed_classes, label_columns, reader)
    splits: dict[str, Split] = {}
    order = {"train": 0, "dev": 1, "test": 2}
    split_names = sorted({r.split for r in rows}, key=lambda s: (order.get(s, 3), s))
    split_of = np.asarray([r.split for r in rows])
    for split in split_names:
        idx = np.flatnonzero(split_of == split)
        splits[split] = Split(
            split,
            [rows[i].sequence for i in idx],
            labels[idx],
            [f"{rows[i].path}:{rows[i].line}" for i in idx],
        )
    task = Task(
        name=task_name,
        kind=task_kind,
        classes=class_names,
        splits=splits,
        label_names=list(label_columns) if len(label_columns) > 1 else [],
        skipped=reader.skipped,
        max_rows=max_rows,
        source=str(path),
    )
    if reader.skipped:
        warnings.warn(f"read_task skipped {len(reader.skipped)} invalid rows in {path} (see task.skipped); "
                      f"first: {reader.skipped[0].path}, line {reader.skipped[0].line}: {reader.skipped[0].reason}",
                      stacklevel=2)
    return task


def _read_folder(
    root: Path,
    reader: _Reader,
    genome: Any,
    delimiter: str | None,
    sequence_column: str,
    label_columns: list[str],
) -> None:
    split_files: dict[str, Path] = {}
    split_dirs: dict[str, Path] = {}
    for entry in sorted(root.iterdir()):
        stem = _stem(entry).lower() if entry.is_file() else entry.name.lower()
        split = SPLIT_NAMES.get(stem)
        if split is None:
            continue
        target = split_dirs if entry.is_dir() else split_files
        if entry.is_file() and not _strip_gz(entry.name).lower().endswith(_TABLE_SUFFIXES + _FASTA_SUFFIXES):
            continue
        if split in target:
            raise InputError(f"two files for split {split!r}: {target[split].name} and {entry.name}", root)
        target[split] = entry
    order = {"train": 0, "dev": 1, "test": 2}
    split_files = dict(sorted(split_files.items(), key=lambda kv: order[kv[0]]))
    split_dirs = dict(sorted(split_dirs.items(), key=lambda kv: order[kv[0]]))
    fasta = [f.name for f in split_files.values() if _is_fasta(f)]
    if fasta and len(fasta) < len(split_files):
        tables = [f.name for f in split_files.values() if not _is_fasta(f)]
        raise InputError(f"split files mix labelled FASTA ({', '.join(fasta)}) and tables ({', '.join(tables)}); "
                         f"expected one format for all splits", root)
    if fasta:
        _check_fasta_options(root, sequence_column, label_columns)
    if split_files:
        for split, file in split_files.items():
            if fasta:
                _read_labelled_fasta(file, split, reader)
            else:
                _read_table(file, split, reader, delimiter, sequence_column, label_columns)
    elif split_dirs:
        _read_genomic_benchmarks(root, split_dirs, reader, genome, delimiter)
    else:
        raise InputError(
            "no split files found: expected train/dev/test.csv[.gz] (dev may be valid), labelled FASTA "
            "train/test.fna[.gz] (Nucleotide Transformer) or GenomicBenchmarks folders train/ and test/ holding "
            "<class>.csv[.gz]",
            root,
        )
