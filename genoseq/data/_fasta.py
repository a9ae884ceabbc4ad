"""Low-level FASTA / GenBank reading for :mod:`genoseq.data.genome`.

One strict streaming scanner (:func:`iter_fasta`) reads plain, gzip and bgzip FASTA line by
line and reports malformed input as :class:`~genoseq.errors.InputError` naming the file and
line. It is the reference reader: the token cache is built from it, and it explains what is
wrong when pyfaidx refuses a file.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genoseq.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class FastaRecord:
    """One record. ``seq`` holds the raw sequence bytes with line breaks removed."""

    name: str
    header_line: int  # 1-based line number of the '>' line (record number for GenBank)
    seq: bytes


def sniff(path: Path) -> str:
    """Return "fasta", "gzip" (plain gzip FASTA), "bgzip" (bgzip FASTA) or "genbank".

    Raises InputError for an empty file or one that is neither FASTA nor GenBank.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(18)
    except FileNotFoundError:
        raise InputError("file not found; expected a FASTA, gzip/bgzip FASTA or GenBank file", path) from None
    except IsADirectoryError:
        raise InputError("is a directory; expected a FASTA, gzip/bgzip FASTA or GenBank file", path) from None
    if not head:
        raise InputError("empty file; expected a FASTA record ('>name' then sequence lines)", path)
    compressed = head[:2] == GZIP_MAGIC
    kind = "fasta"
    if compressed:
        # BGZF: FEXTRA flag set and an extra subfield 'BC' (SAM spec, section 4.1)
        kind = "bgzip" if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC" else "gzip"
    first = _first_text_line(path, compressed)
    if first is None:
        raise InputError("no content (only blank lines); expected a FASTA record", path)
    if first.startswith(b"LOCUS"):
        return "genbank"
    if not first.startswith(b">"):
        preview = first[:40].decode("ascii", "replace")
        looks = ""
        for prefix, what in _OTHER_FORMATS:
            if first.startswith(prefix):
                looks = f"this looks like {what}, which is not supported as a genome; "
                break
        raise InputError(
            f"{looks}expected a FASTA header line starting with '>' (or a GenBank 'LOCUS' line), got {preview!r}",
            path,
            1,
        )
    return kind


# first-line prefixes of formats people pass by mistake
_OTHER_FORMATS = (
    (b"@", "FASTQ (sequencing reads; FASTQ is not supported, expected FASTA)"),
    (b"##fileformat=VCF", "a VCF file (read it with read_variants)"),
    (b"BCF", "a BCF file (read it with read_variants)"),
    (b"##gff-version", "a GFF annotation file"),
)


def _first_text_line(path: Path, compressed: bool) -> bytes | None:
    try:
        with open_binary(path, compressed) as fh:
            for line in fh:
                if line.strip():
                    return line.lstrip()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise InputError(f"cannot read compressed file ({err})", path) from None
    return None


def open_binary(path: Path, compressed: bool | None = None) -> io.BufferedIOBase:
    """Open plain or gzip/bgzip ``path`` for binary line iteration."""
    if compressed is None:
        with open(path, "rb") as fh:
            compressed = fh.read(2) == GZIP_MAGIC
    if compressed:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb", buffering=1 << 20)


def header_name(line: bytes, path: Path, line_no: int) -> str:
    """Contig name from a '>' header line: its first whitespace-separated word."""
    fields = line[1:].split(None, 1)
    if not fields:
        raise InputError("header line '>' has an empty sequence name; expected '>name [description]'", path, line_no)
    try:
        return fields[0].decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("sequence name is not UTF-8 text", path, line_no) from None


_CHUNK = 1 << 24


def iter_fasta(path: Path, chunk_size: int = _CHUNK) -> Iterator[FastaRecord]:
    """Stream the records of a (gzip/bgzip) FASTA file, validating structure.

    Reads ``chunk_size`` blocks and splits records with ``bytes.find`` (no per-line Python
    loop). Raises InputError naming file and line for: no records, text before the first
    header, an empty name, a duplicate name. Sequence characters are not checked here; line
    breaks (LF or CRLF) and blank lines are dropped.
    """
    seen: dict[str, int] = {}
    try:
        with open_binary(path) as fh:
            buf = bytearray(fh.read(chunk_size))
            eof = len(buf) < chunk_size
            line_no = 1  # file line of buf[pos]
            pos = 0
            # preamble: blank lines may precede the first header, nothing else may
            while True:
                nl = buf.find(b"\n", pos)
                if nl < 0 and not eof:
                    more = fh.read(chunk_size)
                    eof = len(more) < chunk_size
                    buf += more
                    continue
                line = buf[pos : (len(buf) if nl < 0 else nl)]
                if line[:1] == b">":
                    break
                if line.strip():
                    raise InputError(
                        "sequence data before the first '>' header line; expected '>name' first", path, line_no
                    )
                if nl < 0:
                    raise InputError("no FASTA records found; expected '>name' followed by sequence lines", path)
                pos, line_no = nl + 1, line_no + 1
            while True:  # buf[pos] == ">" at file line line_no
                searched = pos
                while True:
                    nxt = buf.find(b"\n>", searched)
                    if nxt >= 0 or eof:
                        break
                    searched = max(pos, len(buf) - 1) - pos
                    del buf[:pos]  # compact only when reading more, so many small records stay O(n)
                    pos = 0
                    more = fh.read(chunk_size)
                    eof = len(more) < chunk_size
                    buf += more
                stop = len(buf) if nxt < 0 else nxt + 1
                nl = buf.find(b"\n", pos, stop)
                header_end = stop if nl < 0 else nl
                name = header_name(bytes(buf[pos:header_end]), path, line_no)
                if name in seen:
                    raise InputError(
                        f"duplicate sequence name {name!r} (first defined at line {seen[name]}); expected unique names",
                        path,
                        line_no,
                    )
                seen[name] = line_no
                seq = bytes(buf[header_end:stop]).translate(None, b"\r\n")
                yield FastaRecord(name, line_no, seq)
                if nxt < 0:
                    return
                line_no += buf.count(b"\n", pos, stop)
                pos = stop
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise InputError(f"cannot read file ({err})", path) from None


def locate(path: Path, name: str, position: int) -> int | None:
    """1-based file line holding 0-based ``position`` of record ``name`` (for error messages)."""
    offset = 0
    inside = False
    try:
        with open_binary(path) as fh:
            for line_no, line in enumerate(fh, 1):
                if line[:1] == b">":
                    if inside:
                        return None
                    fields = line[1:].split(None, 1)
                    inside = bool(fields) and fields[0] == name.encode("utf-8")
                    continue
                if inside:
                    n = len(line.rstrip(b"\r\n"))
                    if offset + n > position:
                        return line_no
                    offset += n
    except (OSError, EOFError):
        return None
    return None


def iter_genbank(path: Path) -> Iterator[FastaRecord]:
    """Records of a GenBank file through biopython (``record.id`` is the contig name)."""
    try:
        from Bio import SeqIO
    except ImportError as err:  # pragma: no cover - biopython is a core dependency
        from genoseq.errors import DependencyError

        raise DependencyError("biopython", "reading GenBank files") from err
    seen: dict[str, int] = {}
    compressed = open(path, "rb").read(2) == GZIP_MAGIC
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rt", encoding="ascii", errors="strict") as fh:
            for number, record in enumerate(SeqIO.parse(fh, "genbank"), 1):
                name = record.id or record.name
                if not name or name == "<unknown id>":
                    raise InputError("GenBank record without a LOCUS name or VERSION", path, number, "record")
                if name in seen:
                    raise InputError(
                        f"duplicate record id {name!r} (first is record {seen[name]})", path, number, "record"
                    )
                seen[name] = number
                try:
                    seq = bytes(record.seq)
                except Exception as err:  # biopython raises UndefinedSequenceError for CONTIG-only records
                    raise InputError(f"record {name!r} has no sequence ({err})", path, number, "record") from None
                yield FastaRecord(name, number, seq)
    except InputError:
        raise
    except UnicodeDecodeError as err:
        raise InputError(f"GenBank file is not ASCII text (byte offset {err.start})", path) from None
    except ValueError as err:
        raise InputError(f"malformed GenBank file: {err}", path) from None
    if not seen:
        raise InputError("no GenBank records found", path)


def valid_byte_table(tokenizer) -> np.ndarray:
    """(256,) bool: which bytes ``tokenizer`` encodes without error."""
    table = np.zeros(256, dtype=bool)
    for byte in range(256):
        try:
            tokenizer.encode(bytes([byte]))
        except InputError:
            continue
        table[byte] = True
    return table
