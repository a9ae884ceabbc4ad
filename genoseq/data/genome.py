"""Random access to a reference genome as text or token ids.

>>> g = Genome("genome.fa")                 # FASTA, bgzip FASTA, gzip FASTA or GenBank
>>> g.contigs                               # {"chr1": 248956422, ...}
>>> g.fetch("chr1", 100, 110, strand="-")   # 'acgtNNACGT' (case kept, reverse complement)
>>> g.tokens("chr1", -5, 10, pad=True)      # uint8 ids, PAD_ID where outside the contig

Coordinates are 0-based half-open ``[start, end)`` everywhere.

Two ways to read sequence:

- ``fetch`` reads the source file (pyfaidx index for plain and bgzip FASTA; records held in
  memory for GenBank, plain gzip and FASTA that pyfaidx cannot index, such as lines of
  uneven width). It returns the text as written, IUPAC codes and lowercase included.
- ``tokens`` (with ``use_cache=True``, the default) reads a memory-mapped token cache that
  is built once, on first use or by :meth:`Genome.build_cache`: one uint8 file per contig
  plus packed soft-mask bits, in ``<fasta>.gstok/`` beside the FASTA, in ``cache_dir`` when
  given, or (FASTA directory read-only) in ``$GENOSEQ_CACHE_DIR`` / ``~/.cache/genoseq/genomes``.
  A window is then a slice of a memory map: no parsing, no copy. The cache is rebuilt when
  the source file's size or modification time changes. With ``use_cache=False`` tokens are
  made by fetching and encoding each request (slow, but writes nothing).
"""

from __future__ import annotations

import hashlib
import operator
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np

from genoseq.data import _fasta, _token_cache
from genoseq.errors import InputError
from genoseq.tokenizer import PAD_ID, Tokenizer, reverse_complement_str

_SHOW_CONTIGS = 5


def _cache_root() -> Path:
    env = os.environ.get("GENOSEQ_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "genoseq" / "genomes"


_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # genoseq/: bundled data lives here


def _dir_writable(path: Path) -> bool:
    """May genoseq write caches/indexes into ``path``? By its permission bits (also when running as root,
    who may write anywhere), and never inside the genoseq package itself (bundled data stays pristine)."""
    try:
        if path.resolve().is_relative_to(_PACKAGE_DIR):
            return False
        return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)
    except OSError:
        return False


def default_cache_path(path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the token cache of ``path`` lives (see the module docstring)."""
    src = Path(path).resolve()
    tag = hashlib.sha1(str(src).encode()).hexdigest()[:12]
    if cache_dir is not None:
        return Path(cache_dir) / f"{src.name}.{tag}.gstok"
    if _dir_writable(src.parent):
        return src.with_name(src.name + ".gstok")
    return _cache_root() / f"{src.name}.{tag}.gstok"


def alias_candidates(name: str) -> list[str]:
    """Names that ``name`` may be written as in another naming scheme: chr1 <-> 1, chrM <-> MT <-> chrMT."""
    base = name[3:] if name[:3].lower() == "chr" else name
    bases = ["M", "MT"] if base.upper() in ("M", "MT") else [base]
    out = []
    for b in bases:
        for cand in (b, "chr" + b):
            if cand != name and cand not in out:
                out.append(cand)
    return out


class _FaidxSource:
    """Sequence text through a pyfaidx index (plain or bgzip FASTA)."""

    def __init__(self, path: Path, indexname: str | None, gzi_indexname: str | None) -> None:
        import pyfaidx

        self.path = path
        self.fasta = pyfaidx.Fasta(
            str(path), indexname=indexname, gzi_indexname=gzi_indexname, as_raw=True,
            sequence_always_upper=False, rebuild=True, build_index=True,
        )
        self.contigs = {name: int(rec.rlen) for name, rec in self.fasta.faidx.index.items()}

    def fetch(self, name: str, start: int, end: int) -> str:
        if end <= start:
            return ""
        try:
            return self.fasta.faidx.fetch(name, start + 1, end)
        except UnicodeDecodeError:
            raise InputError(f"contig {name!r} holds non-ASCII bytes in {start}..{end}", self.path) from None

    def close(self) -> None:
        self.fasta.close()


class _MemorySource:
    """Sequence bytes held in memory (GenBank, plain gzip, FASTA that pyfaidx cannot index)."""

    def __init__(self, path: Path, records: dict[str, bytes]) -> None:
        self.path = path
        self.records = records
        self.contigs = {name: len(seq) for name, seq in records.items()}

    def fetch(self, name: str, start: int, end: int) -> str:
        try:
            return self.records[name][start:end].decode("ascii")
        except UnicodeDecodeError:
            raise InputError(f"contig {name!r} holds non-ASCII bytes in {start}..{end}", self.path) from None

    def close(self) -> None:
        pass


class Genome:
    """A reference genome: contig lengths, sequence text and token ids.

    Args:
        path: FASTA (``.fa``), bgzip FASTA (``.fa.gz`` made by ``bgzip``), plain gzip FASTA, or
            GenBank (``.gbk``, first line ``LOCUS``). Contig names are the first word of each
            FASTA header, or the GenBank ``accession.version``.
        cache_dir: directory for the token cache and the pyfaidx index (``.fai``/``.gzi``), so
            nothing is written beside the FASTA. Default: beside the FASTA (``<fasta>.gstok/``,
            ``<fasta>.fai``) when its directory is writable (by permission bits), else
            ``$GENOSEQ_CACHE_DIR`` or ``~/.cache/genoseq/genomes``.
        aliases: resolve ``chr1`` <-> ``1``, ``chrX`` <-> ``X``, ``chrM`` <-> ``MT`` <-> ``chrMT``
            when the exact name is not in the genome.
        use_cache: ``tokens`` reads the memory-mapped token cache, building it on first use.
        unknown_to_n: read bytes that are not nucleotides or IUPAC codes as N instead of raising.
        tokenizer: the :class:`~genoseq.tokenizer.Tokenizer` whose ids are returned.

    Raises:
        InputError: file missing or empty, not FASTA/GenBank, a header without a name, duplicate
            names, sequence before the first header (each naming the file and line).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        cache_dir: str | os.PathLike[str] | None = None,
        aliases: bool = False,
        use_cache: bool = True,
        unknown_to_n: bool = False,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        self.path = Path(path)
        self.format = _fasta.sniff(self.path)
        self.aliases = aliases
        self.use_cache = use_cache
        self.unknown_to_n = unknown_to_n
        self.tokenizer = tokenizer or Tokenizer()
        self._cache_dir = cache_dir
        self.cache_path = default_cache_path(self.path, cache_dir)
        self._settings = {"unknown_to_n": unknown_to_n, "iupac_to_n": self.tokenizer.iupac_to_n}
        self._source: _FaidxSource | _MemorySource | None = None
        self._table: dict[str, _token_cache.CachedContig] | None = None
        self._maps: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        self._valid: np.ndarray | None = None
        table = _token_cache.load_index(self.cache_path, self.path, self._settings) if use_cache else None
        if table is not None:
            self._set_table(table)
            self._contigs = {c.name: c.length for c in table}
        else:
            self._contigs = dict(self._open_source().contigs)

    # ------------------------------------------------------------------ metadata
    @property
    def contigs(self) -> Mapping[str, int]:
        """Contig name -> length, in file order (a read-only view)."""
        return MappingProxyType(self._contigs)

    def __len__(self) -> int:
        return len(self._contigs)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.resolve(name)
        except InputError:
            return False
        return True

    def __repr__(self) -> str:
        return f"Genome({str(self.path)!r}, {len(self._contigs)} contigs, {sum(self._contigs.values())} bp)"

    def resolve(self, name: str) -> str:
        """The contig name in this genome for ``name`` (alias-aware when ``aliases=True``).

        Raises InputError listing a few available names, and the alias that would match.
        """
        if name in self._contigs:
            return name
        matches = [c for c in alias_candidates(str(name)) if c in self._contigs]
        if matches and self.aliases:
            return matches[0]
        names = list(self._contigs)
        shown = ", ".join(names[:_SHOW_CONTIGS]) + (", ..." if len(names) > _SHOW_CONTIGS else "")
        hint = f"; did you mean {matches[0]!r}? (pass aliases=True to match chr1<->1, chrM<->MT)" if matches else ""
        raise InputError(f"unknown contig {name!r}; the genome has {len(names)} contigs: {shown}{hint}", self.path)

    def length(self, name: str) -> int:
        return self._contigs[self.resolve(name)]

    # ------------------------------------------------------------------ sources
    def _open_source(self) -> _FaidxSource | _MemorySource:
        if self._source is not None:
            return self._source
        if self.format == "genbank":
            records = {r.name: r.seq for r in _fasta.iter_genbank(self.path)}
            self._source = _MemorySource(self.path, records)
        elif self.format == "gzip":  # plain gzip cannot be indexed: read it through once
            self._source = _MemorySource(self.path, {r.name: r.seq for r in _fasta.iter_fasta(self.path)})
        else:
            self._source = self._open_faidx()
        return self._source

    def _open_faidx(self) -> _FaidxSource | _MemorySource:
        import pyfaidx

        fai = Path(str(self.path) + ".fai")
        indexname = gzi = None
        fresh = fai.exists() and fai.stat().st_mtime >= self.path.stat().st_mtime
        if not fresh and (self._cache_dir is not None or not _dir_writable(self.path.parent)):
            side = self.cache_path.parent
            side.mkdir(parents=True, exist_ok=True)
            stem = self.cache_path.name.removesuffix(".gstok")
            indexname, gzi = str(side / (stem + ".fai")), str(side / (stem + ".gzi"))
        fai_existed = Path(indexname or fai).exists()
        try:
            return _FaidxSource(self.path, indexname, gzi)
        except (pyfaidx.FastaIndexingError, ValueError, KeyError, UnicodeDecodeError, OSError, EOFError) as err:
            if not fai_existed:
                Path(indexname or fai).unlink(missing_ok=True)
            # the strict scanner names the problem precisely, or reads what pyfaidx cannot index
            records = {r.name: r.seq for r in _fasta.iter_fasta(self.path)}
            hint = " (re-wrap the FASTA to a fixed line width to avoid this)" if "line length" in str(err).lower() else ""
            warnings.warn(
                f"{self.path}: pyfaidx cannot index this file ({err}); read it into memory instead{hint}",
                stacklevel=3,
            )
            return _MemorySource(self.path, records)

    def close(self) -> None:
        """Release the file handles and memory maps (reopened on the next access)."""
        if self._source is not None:
            self._source.close()
        self._source = None
        self._maps = {}

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        # DataLoader workers get a handle-free copy; pickling a memmap would copy the genome
        state = self.__dict__.copy()
        state["_source"] = None
        state["_maps"] = {}
        return state

    # ------------------------------------------------------------------ coordinates
    def _check(self, contig: str, start: int | None, end: int | None, strand: str, pad: bool) -> tuple[str, int, int]:
        name = self.resolve(contig)
        length = self._contigs[name]
        try:
            start = 0 if start is None else operator.index(start)
            end = length if end is None else operator.index(end)
        except TypeError:
            raise InputError(f"coordinates must be integers, got start={start!r} end={end!r}", self.path) from None
        if strand not in ("+", "-"):
            raise InputError(f"strand must be '+' or '-', got {strand!r}", self.path)
        if start > end:
            raise InputError(
                f"start {start} > end {end} for contig {name!r}; coordinates are 0-based half-open [start, end)",
                self.path,
            )
        if not pad and (start < 0 or end > length):
            raise InputError(
                f"range {name}:{start}-{end} is outside contig {name!r} (length {length}); "
                "expected 0 <= start <= end <= length, or pass pad=True to pad with PAD_ID",
                self.path,
            )
        return name, start, end

    # ------------------------------------------------------------------ text
    def fetch(self, contig: str, start: int | None = None, end: int | None = None, strand: str = "+") -> str:
        """Sequence text of ``contig[start:end]`` as written in the file (case and IUPAC kept).

        ``strand="-"`` returns the reverse complement. Out-of-range requests raise InputError.
        """
        name, start, end = self._check(contig, start, end, strand, pad=False)
        seq = self._open_source().fetch(name, start, end)
        return reverse_complement_str(seq) if strand == "-" else seq

    # ------------------------------------------------------------------ tokens
    def tokens(
        self,
        contig: str,
        start: int | None = None,
        end: int | None = None,
        strand: str = "+",
        pad: bool = False,
        return_soft_mask: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Token ids of ``contig[start:end]``. (end-start,) uint8.

        Args:
            strand: "-" gives the reverse complement (ids of the complementary bases, reversed).
            pad: positions before 0 or past the contig end become ``PAD_ID`` instead of an error.
            return_soft_mask: also return a (end-start,) bool array, True for lowercase bases.

        From the cache, a "+" strand request inside the contig is a read-only view of the
        memory map (zero copy); call ``.copy()`` to write into it. Otherwise a new array.
        """
        name, start, end = self._check(contig, start, end, strand, pad)
        length = self._contigs[name]
        lo, hi = max(start, 0), min(end, length)
        soft: np.ndarray | None = None
        if lo >= hi:
            ids = np.zeros(0, dtype=np.uint8)
            soft = np.zeros(0, dtype=bool)
        elif self.use_cache:
            ids_map, mask_map = self._maps.get(name) or self._map(name)
            ids = ids_map[lo:hi]
            if return_soft_mask:
                soft = _token_cache.unpack_mask(mask_map, lo, hi)
        else:
            raw = self._open_source().fetch(name, lo, hi).encode("ascii")
            ids, soft = self._encode(raw, name, lo)
        if lo != start or hi != end:
            full = np.full(end - start, PAD_ID, dtype=np.uint8)
            full[lo - start : hi - start] = ids
            ids = full
            if return_soft_mask:
                full_soft = np.zeros(end - start, dtype=bool)
                full_soft[lo - start : hi - start] = soft
                soft = full_soft
        if strand == "-":
            ids = Tokenizer.reverse_complement(ids)
            if return_soft_mask:
                soft = soft[::-1].copy()
        return (ids, soft) if return_soft_mask else ids

    def soft_mask(
        self, contig: str, start: int | None = None, end: int | None = None, strand: str = "+", pad: bool = False
    ) -> np.ndarray:
        """(end-start,) bool, True where the base is lowercase (soft-masked repeat) in the file."""
        return self.tokens(contig, start, end, strand=strand, pad=pad, return_soft_mask=True)[1]

    def _encode(self, raw: bytes, name: str, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """(L,) ASCII -> ((L,) uint8 ids, (L,) bool soft mask); invalid bytes named by contig and position."""
        if self._valid is None:
            self._valid = _fasta.valid_byte_table(self.tokenizer)
        arr = np.frombuffer(raw, dtype=np.uint8)
        bad = ~self._valid[arr]
        if bad.any() and not self.unknown_to_n:
            first = int(np.argmax(bad))
            pos = offset + first
            byte = int(arr[first])
            line = what = None
            if self.format == "genbank":
                line, what = list(self._contigs).index(name) + 1, "record"
            else:
                line = _fasta.locate(self.path, name, pos)
            raise InputError(
                f"invalid nucleotide {chr(byte)!r} (byte {byte}) in contig {name!r} at position {pos} (0-based); "
                f"expected A, C, G, T, N or an IUPAC code ({int(bad.sum())} invalid bytes in the range read); "
                "pass unknown_to_n=True to read them as N",
                self.path,
                line,
                what or "line",
            )
        return self.tokenizer.encode(arr, unknown_to_n=True, return_soft_mask=True)

    # ------------------------------------------------------------------ cache
    @property
    def has_cache(self) -> bool:
        """True when a valid token cache for the current source file exists."""
        return _token_cache.load_index(self.cache_path, self.path, self._settings) is not None

    def build_cache(self, force: bool = False) -> Path:
        """Convert the genome to the memory-mapped token cache (once); return its directory.

        Validates every base: an invalid character raises InputError naming contig, position
        and file line (unless ``unknown_to_n``).
        """
        table = None if force else _token_cache.load_index(self.cache_path, self.path, self._settings)
        if table is None:
            try:
                table = _token_cache.build(self.cache_path, self.path, self._settings, self._encoded_records())
            except PermissionError as err:
                raise InputError(
                    f"cannot write the token cache to {self.cache_path} ({err.strerror}); pass cache_dir=...",
                    self.path,
                ) from None
        self._set_table(table)
        names = [c.name for c in table]
        if names != list(self._contigs):
            raise InputError(
                f"the token cache lists contigs {names[:_SHOW_CONTIGS]} but the index lists "
                f"{list(self._contigs)[:_SHOW_CONTIGS]}; check the FASTA headers",
                self.path,
            )
        return self.cache_path

    def _encoded_records(self):
        records = _fasta.iter_genbank(self.path) if self.format == "genbank" else _fasta.iter_fasta(self.path)
        for rec in records:
            ids, soft = self._encode(rec.seq, rec.name, 0)
            yield rec.name, ids, soft

    def _set_table(self, table: list[_token_cache.CachedContig]) -> None:
        self._table = {c.name: c for c in table}
        self._maps = {}

    def _map(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        if self._table is None:
            self.build_cache()
        assert self._table is not None
        entry = self._table[name]
        try:
            maps = (_token_cache.open_tokens(self.cache_path, entry), _token_cache.open_mask(self.cache_path, entry))
        except OSError:  # another process replaced the cache directory meanwhile: reload it once
            self._table = None
            self.build_cache()
            entry = self._table[name]
            maps = (_token_cache.open_tokens(self.cache_path, entry), _token_cache.open_mask(self.cache_path, entry))
        self._maps[name] = maps
        return maps
