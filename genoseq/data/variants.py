"""Variant records from VCF/BCF files, plain tables and Python objects.

:func:`read_variants` returns a :class:`VariantSet`: a list of :class:`Variant` rows, one per
(record, ALT allele). Nothing is dropped: a record that cannot be scored (symbolic allele,
breakend, ``*``, missing ALT, REF that disagrees with the genome, ...) is kept with a
``status`` other than ``"ok"`` and a ``message`` that names the record, so callers filter
with :meth:`VariantSet.ok` and report :meth:`VariantSet.summary`.

Statuses (see :data:`STATUSES`): ``ok``, ``skipped_symbolic``, ``skipped_breakend``,
``skipped_spanning_deletion``, ``skipped_missing_alt``, ``invalid_allele``, ``unknown_contig``,
``out_of_range``, ``ref_mismatch``.

VCF/BCF (plain, gzip or bgzip) are read with pysam (htslib), imported only when needed.
Text that is not a VCF (``chrom pos ref alt`` or the VCF column order ``chrom pos id ref alt``,
tab/comma/space separated, with or without a header line) is read without pysam.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import shutil
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from genoseq.errors import DependencyError, GenoseqError, InputError

# what reading a damaged (b)gzip or text file can raise
_READ_ERRORS = (OSError, EOFError, zlib.error)
# what pysam raises on a file htslib cannot read (a damaged BGZF block gives NotImplementedError)
_PYSAM_ERRORS = (ValueError, OSError, NotImplementedError, RuntimeError)

__all__ = ["STATUSES", "Variant", "VariantSet", "read_variants"]

STATUSES: dict[str, str] = {
    "ok": "a sequence variant that can be scored",
    "skipped_symbolic": "symbolic ALT allele such as <DEL>, <*>, <NON_REF>",
    "skipped_breakend": "breakend ALT such as ]chr1:123]A, A[chr2:5[ or .A",
    "skipped_spanning_deletion": "ALT '*' (allele missing because of an overlapping deletion)",
    "skipped_missing_alt": "ALT '.' (no alternate allele)",
    "invalid_allele": "REF or ALT holds characters other than nucleotides (A C G T N or IUPAC codes)",
    "unknown_contig": "the contig is not in the genome",
    "out_of_range": "POS < 1, or REF runs past the end of the contig",
    "ref_mismatch": "REF differs from the genome at that position (case-insensitive)",
}

_NUCLEOTIDES = frozenset("ACGTNRYKMSWBDHVacgtnrykmswbdhv")
_CHROM_NAMES = ("chrom", "chr", "chromosome", "contig", "seqname", "seqid", "region")
_POS_NAMES = ("pos", "position")  # not "start": that is 0-based in BED-like tables
_ID_NAMES = ("id", "name", "variant_id", "rsid")


@dataclass(frozen=True, slots=True)
class Variant:
    """One (record, ALT allele) pair.

    Attributes:
        record: 0-based index of the input record (VCF data line, table row, list item).
        line: 1-based line number in the input file, when known (None for BCF and Python input).
        chrom: contig as written in the input.
        pos: 1-based position of the first REF base.
        ref: REF allele as written.
        alt: this ALT allele as written (``"."`` when the record has none).
        id: the ID column, or None when missing (``.``).
        alt_index: 0-based index of ``alt`` among the record's ALT alleles.
        status: ``"ok"`` or a reason code from :data:`STATUSES`.
        message: why the status is not ``"ok"``, naming the record; empty when ok.
        contig: the genome's name for ``chrom`` when a genome was given and the contig was found
            (differs from ``chrom`` when an alias such as ``1`` -> ``chr1`` was resolved).
    """

    record: int
    line: int | None
    chrom: str
    pos: int
    ref: str
    alt: str
    id: str | None = None
    alt_index: int = 0
    status: str = "ok"
    message: str = ""
    contig: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def start(self) -> int:
        """0-based start of REF (half-open interval ``[start, end)``)."""
        return self.pos - 1

    @property
    def end(self) -> int:
        """0-based exclusive end of REF."""
        return self.pos - 1 + len(self.ref)

    @property
    def is_snv(self) -> bool:
        return self.ok and len(self.ref) == 1 and len(self.alt) == 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class VariantSet(list):
    """A list of :class:`Variant` plus where it came from and what the reader noticed.

    Attributes:
        source: the file it was read from (None for Python input).
        n_records: number of input records (a multi-allelic record gives several variants).
        warnings: warnings htslib printed while reading (e.g. contigs missing from the header).
    """

    def __init__(
        self,
        variants: Iterable[Variant] = (),
        source: str | None = None,
        n_records: int = 0,
        warnings: list[str] | None = None,
    ) -> None:
        super().__init__(variants)
        self.source = source
        self.n_records = n_records
        self.warnings = list(warnings or [])

    def summary(self) -> Counter[str]:
        """Counter of statuses, e.g. ``Counter({'ok': 9, 'skipped_symbolic': 2})``."""
        return Counter(v.status for v in self)

    def ok(self) -> VariantSet:
        """Only the variants with status ``"ok"``."""
        return VariantSet((v for v in self if v.ok), self.source, self.n_records, self.warnings)

    def report(self) -> str:
        """One line for logs: ``'12 variants from 10 records in x.vcf: ok 9, skipped_symbolic 3'``."""
        where = f" in {self.source}" if self.source else ""
        counts = ", ".join(f"{status} {n}" for status, n in sorted(self.summary().items()))
        return f"{len(self)} variants from {self.n_records} records{where}: {counts or 'none'}"


# --------------------------------------------------------------------------- public entry point


def read_variants(
    source: str | PathLike[str] | Iterable[Any],
    genome: Any = None,
    *,
    format: str | None = None,
    delimiter: str | None = None,
    region: str | None = None,
) -> VariantSet:
    """Read variants and, with a genome, check them against it.

    Args:
        source: a path to a VCF/BCF (plain, gzip or bgzip) or to a variant table; or a list of
            tuples ``(chrom, pos, ref, alt)`` / ``(chrom, pos, ref, alt, id)`` or dicts with those
            keys; or a pandas-like DataFrame with columns ``chrom, pos, ref, alt`` (``id`` optional).
            Positions are 1-based as in VCF. ALT may list several alleles separated by commas.
        genome: a :class:`genoseq.Genome` (or a FASTA path) to check REF against. Without one,
            only the alleles are classified.
        format: ``"vcf"`` or ``"table"`` to skip content sniffing.
        delimiter: column separator of a table (default: sniffed; tab, comma or whitespace).
        region: ``"chr1:10000-20000"`` (1-based, inclusive) or ``"chr1"``: only records there, from
            an indexed bgzip VCF or BCF (``.tbi``/``.csi`` beside it). ``record`` then counts from the
            first record of the region and ``line`` is None.

    Returns:
        A :class:`VariantSet` with at least one row per input record.

    Raises:
        InputError: a malformed file or record, naming the file and the line or record.
        DependencyError: a VCF/BCF was given and pysam is not installed.

    Example::

        variants = genoseq.read_variants("calls.vcf.gz", genome=genoseq.Genome("hg38.fa"))
        print(variants.report())
        for v in variants.ok():
            print(v.chrom, v.pos, v.ref, v.alt)
    """
    if genome is not None and isinstance(genome, (str, PathLike)):
        from genoseq.data.genome import Genome

        genome = Genome(genome)
    checker = None if genome is None else _GenomeChecker(genome)
    if region is not None and not isinstance(source, (str, PathLike)):
        raise InputError("region= needs an indexed VCF/BCF file, not Python objects")
    if isinstance(source, (str, PathLike)):
        variants = _read_path(Path(source), format, delimiter, checker, region)
    elif _is_dataframe(source):
        variants = _read_rows(_dataframe_rows(source), None, checker)
    elif isinstance(source, Iterable) and not isinstance(source, (bytes, Mapping)):
        variants = _read_rows(_python_rows(source), None, checker)
    else:
        raise InputError(
            f"read_variants expects a path, a list of (chrom, pos, ref, alt) tuples or a DataFrame, "
            f"got {type(source).__name__}"
        )
    return variants


# --------------------------------------------------------------------------- allele classification


def _classify(record: int, line: int | None, chrom: str, pos: int, ref: str, alt: str) -> tuple[str, str]:
    """(status, message) for one allele pair, independent of any genome."""
    if alt == ".":
        status, why = "skipped_missing_alt", "ALT is '.' (no alternate allele)"
    elif alt == "*":
        status, why = "skipped_spanning_deletion", "ALT '*' marks an allele removed by an upstream deletion"
    elif alt.startswith("<") and alt.endswith(">"):
        status, why = "skipped_symbolic", f"symbolic ALT {alt} has no explicit sequence"
    elif "[" in alt or "]" in alt or (len(alt) > 1 and (alt.startswith(".") or alt.endswith("."))):
        status, why = "skipped_breakend", f"breakend ALT {alt!r} describes a rearrangement, not a sequence"
    elif pos < 1:
        status, why = "out_of_range", f"POS {pos} is before the first base (VCF positions start at 1)"
    elif not ref or not set(ref) <= _NUCLEOTIDES:
        status, why = "invalid_allele", f"REF {ref!r} is not a nucleotide sequence (A C G T N)"
    elif not alt or not set(alt) <= _NUCLEOTIDES:
        status, why = "invalid_allele", f"ALT {alt!r} is not a nucleotide sequence (A C G T N)"
    else:
        return "ok", ""
    return status, f"{_where(record, line, chrom, pos)}: {why}"


def _where(record: int, line: int | None, chrom: str, pos: int) -> str:
    text = f"record index {record}"
    if line is not None:
        text += f" (line {line})"
    return f"{text} at {chrom}:{pos}"


def _make_variants(
    record: int,
    line: int | None,
    chrom: str,
    pos: int,
    ref: str,
    alts: list[str],
    vid: str | None,
    checker: _GenomeChecker | None,
) -> list[Variant]:
    """One Variant per ALT allele (a record without ALT gives one row with alt '.'), checked
    against the genome when ``checker`` is given."""
    out = []
    for alt_index, alt in enumerate(alts or ["."]):
        status, message = _classify(record, line, chrom, pos, ref, alt)
        contig = None
        if status == "ok" and checker is not None:
            status, message, contig = checker.check(record, line, chrom, pos, ref)
        out.append(Variant(record, line, chrom, pos, ref, alt, vid, alt_index, status, message, contig))
    return out


def _clean_id(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text in ("", ".") else text


# --------------------------------------------------------------------------- genome checks


class _GenomeChecker:
    """Resolves contig names and checks REF against a Genome-like object
    (``.contigs`` name -> length, ``.fetch(contig, start, end)`` 0-based half-open)."""

    def __init__(self, genome: Any) -> None:
        self.genome = genome
        self.lengths: Mapping[str, int] = genome.contigs
        self._resolved: dict[str, tuple[str | None, str]] = {}
        self._blocks: dict[tuple[str, int], str] = {}

    def resolve(self, chrom: str) -> tuple[str | None, str]:
        """(genome contig name or None, explanation when None). Uses the genome's own
        ``resolve(name)`` (alias-aware in :class:`genoseq.Genome` with ``aliases=True``) when it has one."""
        if chrom in self._resolved:
            return self._resolved[chrom]
        result: tuple[str | None, str]
        if chrom in self.lengths:
            result = (chrom, "")
        elif callable(getattr(self.genome, "resolve", None)):
            try:
                name = self.genome.resolve(chrom)
                result = (name, "") if name in self.lengths else (None, f"contig {chrom!r} is not in the genome")
            except GenoseqError as err:
                result = (None, getattr(err, "reason", str(err)))
        else:
            hint = ""
            for candidate in _alias_candidates(chrom):
                if candidate in self.lengths:
                    hint = f"; the genome has {candidate!r}: open it with aliases enabled to match them"
                    break
            shown = ", ".join(list(self.lengths)[:5]) + (", ..." if len(self.lengths) > 5 else "")
            result = (None, f"contig {chrom!r} is not in the genome (contigs: {shown}){hint}")
        self._resolved[chrom] = result
        return result

    def check(self, record: int, line: int | None, chrom: str, pos: int, ref: str) -> tuple[str, str, str | None]:
        """(status, message, genome contig name) for a variant whose alleles are valid."""
        name, why = self.resolve(chrom)
        if name is None:
            return "unknown_contig", f"{_where(record, line, chrom, pos)}: {why}", None
        length = int(self.lengths[name])
        start, end = pos - 1, pos - 1 + len(ref)
        if end > length:
            return "out_of_range", (
                f"{_where(record, line, chrom, pos)}: REF of length {len(ref)} ends at {end}, past the end of "
                f"contig {name!r} (length {length})"
            ), name
        try:
            found = self._fetch(name, start, end, length)
        except GenoseqError as err:
            return "out_of_range", f"{_where(record, line, chrom, pos)}: {err}", name
        if found.upper() != ref.upper():
            return "ref_mismatch", (
                f"{_where(record, line, chrom, pos)}: REF is {ref!r} but the genome has {found!r} at {name}:{pos}"
            ), name
        return "ok", "", name

    def _fetch(self, name: str, start: int, end: int, length: int) -> str:
        """Genome text ``[start, end)`` through a small cache of 64 kb blocks (VCFs are mostly sorted)."""
        block = start >> _BLOCK_BITS
        if end > (block + 1) << _BLOCK_BITS:  # spans a block boundary: ask the genome directly
            return str(self.genome.fetch(name, start, end))
        key = (name, block)
        text = self._blocks.get(key)
        if text is None:
            if len(self._blocks) >= 16:
                self._blocks.pop(next(iter(self._blocks)))
            lo = block << _BLOCK_BITS
            text = str(self.genome.fetch(name, lo, min(lo + (1 << _BLOCK_BITS), length)))
            self._blocks[key] = text
        offset = start - (block << _BLOCK_BITS)
        return text[offset : offset + end - start]


_BLOCK_BITS = 16


def _alias_candidates(chrom: str) -> list[str]:
    """Common spellings of the same contig (UCSC 'chr1'/'chrM' vs Ensembl '1'/'MT')."""
    out = []
    bare = chrom[3:] if chrom.lower().startswith("chr") else chrom
    out += [bare, "chr" + bare]
    if bare.upper() in ("M", "MT"):
        out += ["MT", "M", "chrM", "chrMT"]
    return [c for c in out if c != chrom]


# --------------------------------------------------------------------------- files


def _read_path(
    path: Path, format: str | None, delimiter: str | None, checker: _GenomeChecker | None, region: str | None
) -> VariantSet:
    if not path.exists():
        raise InputError("no such file", path)
    if path.is_dir():
        raise InputError("is a directory; expected a VCF/BCF file or a variant table", path)
    if path.name.lower().endswith((".tbi", ".csi", ".gzi", ".fai")):
        raise InputError("is an index file, not variants; pass the VCF/BCF it indexes", path)
    kind = format or _sniff(path)
    if kind == "vcf":
        return _read_vcf(path, checker, region)
    if region is not None:
        raise InputError("region= needs an indexed VCF/BCF (bgzip + tabix); this is a plain table", path)
    if kind == "table":
        return _read_table(path, delimiter, checker)
    raise InputError(f"unknown format {format!r}; expected 'vcf' or 'table'", path)


def _open_bytes(path: Path) -> io.BufferedIOBase:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _sniff(path: Path) -> str:
    """'vcf' for VCF/BCF content (by magic bytes / ##fileformat line), else 'table'."""
    try:
        with _open_bytes(path) as fh:
            head = fh.read(64)
    except _READ_ERRORS as err:
        raise InputError(f"cannot read the file: {err}", path) from None
    if not head:
        raise InputError("empty file; expected a VCF/BCF (starting with ##fileformat=VCF) or a variant table", path)
    if head.startswith((b"TBI\x01", b"CSI\x01")):
        raise InputError("is a tabix/CSI index, not variants; pass the VCF/BCF it indexes", path)
    if head.startswith(b"BCF\x02") or head.startswith(b"##fileformat=VCF"):
        return "vcf"
    if head.startswith(b"##fileformat=") or path.name.lower().endswith((".bcf",)):
        return "vcf"  # let htslib say what is wrong
    return "table"


def _import_pysam() -> Any:
    try:
        import pysam
    except ImportError:
        raise DependencyError("pysam", "reading VCF/BCF", extra="vcf") from None
    return pysam


class _StderrCapture:
    """Captures what htslib writes to file descriptor 2 while reading, so its diagnostics can go
    into genoseq's error messages and ``VariantSet.warnings`` instead of the terminal.

    The redirection is process-wide: another thread writing to stderr meanwhile is captured too.
    htslib prints some warnings only once per process, so they are a courtesy, not a contract."""

    def __enter__(self) -> _StderrCapture:
        import sys

        self._tmp: Any = None
        self._saved: int | None = None
        self.captured: list[str] = []
        try:
            sys.stderr.flush()
            tmp = tempfile.TemporaryFile()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no fd 2 (embedded interpreters): do not capture
            return self
        os.dup2(tmp.fileno(), 2)
        self._tmp, self._saved = tmp, saved
        return self

    def text(self) -> str:
        if self._tmp is None:
            return ""
        data = os.pread(self._tmp.fileno(), 1 << 20, 0)
        return data.decode("utf-8", errors="replace")

    def lines(self) -> list[str]:
        return [line.strip() for line in self.text().splitlines() if line.strip()]

    def __exit__(self, *exc: object) -> None:
        if self._saved is None:
            return
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self.captured = self.lines()
        self._tmp.close()


def _htslib_messages(lines: list[str], kind: str) -> list[str]:
    """htslib's ``[E::...]`` or ``[W::...]`` lines, without the harmless 'no index file' notice."""
    return [line for line in lines if line.startswith(f"[{kind}::") and "idx_find_and_load" not in line]


def _htslib_errors(lines: list[str], fallback: str) -> str:
    """htslib's error lines; when it printed none, its last warnings (they often name the cause)."""
    errors = _htslib_messages(lines, "E")[:3]
    if errors:
        return " | ".join(errors)
    return " | ".join([*_htslib_messages(lines, "W")[-2:], fallback])


def _read_vcf(path: Path, checker: _GenomeChecker | None, region: str | None = None) -> VariantSet:
    pysam = _import_pysam()
    if region is not None and _is_plain_gzip(path):
        raise InputError("region= needs a bgzip-compressed, indexed VCF; this is plain gzip (use bgzip + tabix)", path)
    if _is_plain_gzip(path):  # htslib reads bgzip, not plain gzip: read a decompressed copy
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "plain.vcf"
            try:
                with gzip.open(path, "rb") as src, open(copy, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except _READ_ERRORS as err:
                raise InputError(f"cannot decompress the file: {err}", path) from None
            try:
                variants = _read_vcf(copy, checker)
            except InputError as err:  # name the user's file, not the copy
                raise InputError(err.reason.replace(str(copy), str(path)), path, err.line) from None
        variants.source = str(path)
        return variants
    is_text = _is_text_vcf(path)
    n_header, width = _scan_header(path) if is_text and region is None else (None, None)
    rows: list[tuple[str, int, str | None, str, tuple[str, ...] | None]] = []
    with _StderrCapture() as log:
        try:
            vcf = pysam.VariantFile(str(path))
        except _PYSAM_ERRORS as err:
            diag = _diagnose_header(path) if is_text else None
            detail = _htslib_errors(log.lines(), str(err))
            if diag is not None:
                raise InputError(f"{diag[1]} (htslib: {detail})", path, diag[0]) from None
            raise InputError(f"not a valid VCF/BCF header (htslib: {detail})", path) from None
        records = vcf
        if region is not None:
            try:
                records = vcf.fetch(region=region)
            except _PYSAM_ERRORS as err:
                vcf.close()
                raise InputError(
                    f"cannot read region {region!r}: {err} (region= needs a .tbi/.csi index beside the file "
                    "and a contig that is in the header)",
                    path,
                ) from None
        try:
            with vcf:
                for rec in records:
                    rows.append((rec.chrom, rec.pos, rec.id, rec.ref, rec.alts))
        except _PYSAM_ERRORS as err:
            index = len(rows)
            detail = _htslib_errors(log.lines(), str(err))
            line = None if n_header is None else n_header + index + 1
            diag = _diagnose_record(path, line, width) if line is not None else None
            reason = diag or "htslib could not parse this record"
            raise InputError(f"record index {index}: {reason} (htslib: {detail})", path, line) from None
    warnings = _htslib_messages(log.captured, "W")
    variants: list[Variant] = []
    for index, (chrom, pos, vid, ref, alts) in enumerate(rows):
        line = None if n_header is None else n_header + index + 1
        variants += _make_variants(index, line, chrom, int(pos), ref or ".", list(alts or ()), _clean_id(vid), checker)
    return VariantSet(variants, str(path), len(rows), warnings)


def _is_plain_gzip(path: Path) -> bool:
    """True for gzip that is not BGZF (BGZF members carry a 'BC' extra subfield)."""
    with open(path, "rb") as fh:
        head = fh.read(14)
    return head[:2] == b"\x1f\x8b" and not (head[3] & 4 and head[12:14] == b"BC")


def _is_text_vcf(path: Path) -> bool:
    try:
        with _open_bytes(path) as fh:
            return not fh.read(4).startswith(b"BCF")
    except _READ_ERRORS as err:
        raise InputError(f"cannot read the file: {err}", path) from None


def _iter_text_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with _open_bytes(path) as fh:
        for number, raw in enumerate(fh, start=1):
            yield number, raw.rstrip(b"\r\n")


def _scan_header(path: Path) -> tuple[int, int | None]:
    """(number of header lines, number of columns on the #CHROM line) of a text VCF."""
    count, width = 0, None
    try:
        for _, raw in _iter_text_lines(path):
            if not raw.startswith(b"#"):
                break
            count += 1
            if raw.startswith(b"#CHROM"):
                width = len(raw.split(b"\t"))
    except _READ_ERRORS:
        pass  # a truncated gzip stream: htslib reports it with more context
    return count, width


_FIXED = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]


def _diagnose_header(path: Path) -> tuple[int | None, str] | None:
    """(line, explanation) for the first problem in a text VCF header, if one is recognisable."""
    try:
        for number, raw in _iter_text_lines(path):
            text = raw.decode("utf-8", errors="replace")
            if number == 1 and not text.startswith("##fileformat=VCF"):
                return 1, f"expected '##fileformat=VCFv4.x' on the first line, found {text[:40]!r}"
            if text.startswith("##"):
                continue
            if not text.startswith("#CHROM"):
                return number, "expected the '#CHROM POS ID REF ALT QUAL FILTER INFO' column header line"
            fields = text.split("\t")
            if len(fields) < 8 and len(text.split()) >= 8:
                return number, "the #CHROM header line is separated by spaces; VCF columns must be separated by tabs"
            if fields[:8] != _FIXED:
                return number, f"the #CHROM header line must start with {' '.join(_FIXED)} (tab-separated)"
            if any(not f.strip() for f in fields[8:]):
                return number, "the #CHROM header line has an empty sample name (trailing tab or space?)"
            return number, "invalid VCF header"
    except _READ_ERRORS as err:
        return None, f"cannot read the file: {err}"
    return None, "no '#CHROM' column header line"


def _diagnose_record(path: Path, line: int, width: int | None) -> str | None:
    """What is wrong with data line ``line`` of a text VCF whose #CHROM line has ``width`` columns,
    when it is something simple."""
    try:
        for number, raw in _iter_text_lines(path):
            if number < line:
                continue
            text = raw.decode("utf-8", errors="replace")
            fields = text.split("\t")
            if not text.strip():
                return "empty line in the record section"
            if len(fields) < 8:
                return f"expected at least 8 tab-separated columns (CHROM POS ID REF ALT QUAL FILTER INFO), found {len(fields)}"
            if not fields[1].isdigit():
                return f"POS {fields[1]!r} is not a non-negative integer"
            if width is not None and width > 8 and len(fields) != width:
                return f"expected {width} tab-separated columns as on the #CHROM line, found {len(fields)}"
            if len(fields) > 8:
                keys = fields[8].split(":")
                dups = sorted({k for k in keys if keys.count(k) > 1})
                if dups:
                    return f"duplicate FORMAT key {dups[0]!r} in {fields[8]!r}"
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return f"bytes that are not UTF-8 text at column {err.start + 1}"
            return None
    except _READ_ERRORS:
        return "the compressed file is truncated or corrupt"
    return None


def split_table_lines(path: Path, delimiter: str | None = None) -> tuple[str | None, list[tuple[int, list[str]]]]:
    """The rows of a delimited text table (plain, gzip or bgzip): ``(line number, stripped fields)`` for every
    line that is not blank and does not start with ``##``. ``delimiter=None`` sniffs it from the first such
    line: a tab if it has one, else a comma (CSV quoting honoured), else whitespace. Returns the delimiter used
    and the rows. Raises InputError naming the file (and line) for bytes that are not UTF-8 or a file that
    cannot be read."""
    rows: list[tuple[int, list[str]]] = []
    try:
        for number, raw in _iter_text_lines(path):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(
                    f"bytes that are not UTF-8 text at column {err.start + 1}; expected a text table", path, number
                ) from None
            if not text.strip() or text.startswith("##"):
                continue
            if delimiter is None:
                delimiter = "\t" if "\t" in text else ("," if "," in text else " ")
            if delimiter == ",":
                fields = next(csv.reader([text]))
            elif delimiter == " ":
                fields = text.split()
            else:
                fields = text.split(delimiter)
            rows.append((number, [f.strip() for f in fields]))
    except _READ_ERRORS as err:
        raise InputError(f"cannot read the file: {err}", path) from None
    return delimiter, rows


def _read_table(path: Path, delimiter: str | None, checker: _GenomeChecker | None) -> VariantSet:
    """A variant table: ``chrom pos ref alt`` or ``chrom pos id ref alt [...]``, header optional."""
    delimiter, rows = split_table_lines(path, delimiter)
    if not rows:
        raise InputError("no variant rows; expected columns chrom, pos, ref, alt", path)
    columns = _header_columns(rows[0][1])
    if columns is not None:
        rows = rows[1:]
    else:
        width = len(rows[0][1])
        if width < 4:
            raise InputError(
                f"expected at least 4 columns (chrom, pos, ref, alt) separated by {delimiter!r}, found {width}",
                path,
                rows[0][0],
            )
        # headerless: 4 columns = chrom pos ref alt; 5+ = VCF order chrom pos id ref alt
        columns = {"chrom": 0, "pos": 1, "ref": 2, "alt": 3} if width == 4 else {
            "chrom": 0, "pos": 1, "id": 2, "ref": 3, "alt": 4
        }
    need = max(columns.values()) + 1
    variants: list[Variant] = []
    for index, (number, fields) in enumerate(rows):
        if len(fields) < need:
            raise InputError(
                f"expected at least {need} columns separated by {delimiter!r}, found {len(fields)} "
                f"(record index {index})",
                path,
                number,
            )
        chrom, pos_text = fields[columns["chrom"]], fields[columns["pos"]]
        try:
            pos = int(pos_text)
        except ValueError:
            raise InputError(f"POS {pos_text!r} is not an integer (expected a 1-based position)", path, number) from None
        vid = _clean_id(fields[columns["id"]]) if "id" in columns else None
        alts = [a.strip() for a in fields[columns["alt"]].split(",")]
        variants += _make_variants(index, number, chrom, pos, fields[columns["ref"]], alts, vid, checker)
    return VariantSet(variants, str(path), len(rows))


def _header_columns(fields: list[str]) -> dict[str, int] | None:
    """Column indices when ``fields`` is a header line naming chrom/pos/ref/alt, else None."""
    names = [f.lstrip("#").strip().lower() for f in fields]
    found: dict[str, int] = {}
    for key, aliases in (("chrom", _CHROM_NAMES), ("pos", _POS_NAMES), ("id", _ID_NAMES), ("ref", ("ref",)),
                         ("alt", ("alt",))):
        for i, name in enumerate(names):
            if name in aliases:
                found[key] = i
                break
    if not {"chrom", "pos", "ref", "alt"} <= found.keys():
        return None
    return found


def _parse_pos(text: Any, error: Any) -> int:
    try:
        if isinstance(text, bool):
            raise ValueError
        if isinstance(text, float):
            if not text.is_integer():
                raise ValueError
            return int(text)
        return int(str(text).strip())
    except (TypeError, ValueError):
        raise error(f"POS {text!r} is not an integer (expected a 1-based position)") from None


# --------------------------------------------------------------------------- Python input


def _is_dataframe(obj: Any) -> bool:
    return hasattr(obj, "columns") and hasattr(obj, "itertuples")


def _dataframe_rows(df: Any) -> Iterator[dict[str, Any]]:
    columns = [str(c) for c in df.columns]
    for values in df.itertuples(index=False, name=None):
        yield dict(zip(columns, values, strict=False))


def _python_rows(items: Iterable[Any]) -> Iterator[Any]:
    yield from items


def _read_rows(rows: Iterable[Any], source: str | None, checker: _GenomeChecker | None) -> VariantSet:
    variants: list[Variant] = []
    count = 0
    for index, row in enumerate(rows):
        count += 1

        def error(msg: str, index: int = index) -> InputError:
            return InputError(msg, source, index, what="record index")

        if isinstance(row, Mapping):
            lowered = {str(k).lstrip("#").lower(): v for k, v in row.items()}
            cols = _header_columns(list(lowered))
            if cols is None:
                raise error(f"expected keys chrom, pos, ref, alt; got {sorted(lowered)}")
            values = list(lowered.values())
            chrom, pos, ref, alt = (values[cols[k]] for k in ("chrom", "pos", "ref", "alt"))
            vid = values[cols["id"]] if "id" in cols else None
        elif isinstance(row, (tuple, list)):
            if len(row) == 4:
                chrom, pos, ref, alt = row
                vid = None
            elif len(row) == 5:
                chrom, pos, ref, alt, vid = row
            else:
                raise error(f"expected a tuple (chrom, pos, ref, alt[, id]), got {len(row)} items")
        else:
            raise error(f"expected a tuple (chrom, pos, ref, alt[, id]) or a dict, got {type(row).__name__}")
        alts = list(alt) if isinstance(alt, (tuple, list)) else [a.strip() for a in str(alt).split(",")]
        variants += _make_variants(
            index, None, str(chrom), _parse_pos(pos, error), str(ref), [str(a) for a in alts], _clean_id(vid),
            checker,
        )
    return VariantSet(variants, source, count)
