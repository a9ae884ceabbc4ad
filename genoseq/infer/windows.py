"""Genome access and window arithmetic shared by variant scoring and in-silico mutagenesis.

Coordinates are 0-based half-open unless a name says ``pos`` (VCF, 1-based).

Windows for a variant are centred on the midpoint of the REF allele and clipped at the contig
ends. Ref and alt windows always have the same length: for an indel the boundary *far from the
start of reading* moves (the right end on the forward strand, the left end on the reverse strand),
so on each strand ref and alt share the longest possible prefix. When a deletion near a contig
end leaves the alt window short, the ref window is trimmed at the same far end to match.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike

import numpy as np

from genoseq.errors import InputError
from genoseq.tokenizer import Tokenizer

_TOKENIZER = Tokenizer()


class GenomeAccess:
    """Uniform access to a genome: a :class:`genoseq.Genome`, a FASTA path, or a ``{name: sequence}`` dict.

    ``lengths`` maps contig -> length; :meth:`tokens` returns forward-strand uint8 ids;
    :meth:`resolve` maps a contig name (or a common alias of it) to a genome contig or None.
    """

    def __init__(self, genome: object) -> None:
        self._dict: dict[str, np.ndarray] | None = None
        self._genome = None
        if isinstance(genome, (str, PathLike)):
            from genoseq.data.genome import Genome

            genome = Genome(genome, aliases=True)
        if isinstance(genome, GenomeAccess):
            self._dict, self._genome, self.lengths = genome._dict, genome._genome, genome.lengths
            return
        if isinstance(genome, Mapping):
            self._dict = {
                str(k): _TOKENIZER.encode(v, unknown_to_n=True, source=f"contig {k}") for k, v in genome.items()
            }
            self.lengths = {k: len(v) for k, v in self._dict.items()}
        else:
            self._genome = genome
            contigs = genome.contigs
            self.lengths = {str(k): int(_length_of(v)) for k, v in contigs.items()}

    def resolve(self, chrom: str) -> str | None:
        """The genome's name for ``chrom``: itself, the genome's own alias table, or chr-prefix / MT aliases."""
        if chrom in self.lengths:
            return chrom
        if self._genome is not None:
            for attr in ("resolve", "resolve_contig"):
                fn = getattr(self._genome, attr, None)
                if callable(fn):
                    try:
                        name = fn(chrom)
                    except Exception:  # noqa: BLE001 - the genome's own lookup failed: try the fallbacks
                        name = None
                    if name is not None and str(name) in self.lengths:
                        return str(name)
        for cand in _aliases(chrom):
            if cand in self.lengths:
                return cand
        return None

    def tokens(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Forward-strand ids of ``chrom[start:end]`` (uint8, (end - start,))."""
        if self._dict is not None:
            return self._dict[chrom][start:end]
        return np.asarray(self._genome.tokens(chrom, start, end, "+"), dtype=np.uint8)


def _length_of(value: object) -> int:
    if isinstance(value, (int, np.integer)):
        return int(value)
    for attr in ("length", "len", "size"):
        if hasattr(value, attr):
            return int(getattr(value, attr))
    return len(value)  # type: ignore[arg-type]


def _aliases(chrom: str) -> list[str]:
    out = [chrom[3:]] if chrom.lower().startswith("chr") else ["chr" + chrom]
    mito = {"m", "mt", "chrm", "chrmt"}
    if chrom.lower() in mito:
        out += ["MT", "chrM", "M", "chrMT"]
    return out


def centered_window(start: int, ref_len: int, contig_len: int, width: int) -> tuple[int, int]:
    """Window of ``width`` centred on the REF allele [start, start + ref_len), clipped to [0, contig_len).

    The window start is ``start + (ref_len - width) // 2`` (floor). When ``width - ref_len`` is even
    the centring is exact, so scores are reverse-complement symmetric (scoring the reverse-complemented
    genome and variants gives the same values); otherwise the extra base goes to the right.
    """
    ws = start + (ref_len - width) // 2
    return max(0, ws), min(contig_len, ws + width)


@dataclass(frozen=True)
class AlleleWindows:
    """Ref and alt token windows (equal length) for one strand, in reading order.

    ``shared`` is the length of their common prefix: a causal model's log-probabilities of positions
    before ``shared`` are identical for ref and alt, so only positions ``>= shared`` can differ.
    """

    ref: np.ndarray  # (L,) uint8
    alt: np.ndarray  # (L,) uint8
    shared: int
    variant_offset: int  # offset of the first REF base in reading order (forward) / of its last base (reverse)


def allele_windows(
    genome: GenomeAccess, chrom: str, start: int, ref_ids: np.ndarray, alt_ids: np.ndarray, ws: int, we: int, strand: str
) -> AlleleWindows:
    """Build equal-length ref/alt windows for one strand (see the module docstring for indels)."""
    lr, la = len(ref_ids), len(alt_ids)
    clen = genome.lengths[chrom]
    length = we - ws
    if strand == "+":
        extra = max(lr - la, 0)
        right = genome.tokens(chrom, start + lr, min(clen, we + extra))
        alt = np.concatenate([genome.tokens(chrom, ws, start), alt_ids, right])[:length]
        ref = genome.tokens(chrom, ws, we)[: len(alt)]
        offset = start - ws
    else:
        extra = max(lr - la, 0)
        left = genome.tokens(chrom, max(0, ws - extra), start)
        alt = np.concatenate([left, alt_ids, genome.tokens(chrom, start + lr, we)])[-length:]
        ref = genome.tokens(chrom, ws, we)[length - len(alt):]
        offset = we - (start + lr)
        ref, alt = Tokenizer.reverse_complement(ref), Tokenizer.reverse_complement(alt)
    diff = np.flatnonzero(ref != alt)
    shared = int(diff[0]) if diff.size else len(ref)
    return AlleleWindows(np.ascontiguousarray(ref), np.ascontiguousarray(alt), shared, offset)


def encode_allele(allele: str) -> np.ndarray:
    """Ids of an allele string; raises InputError on non-nucleotide characters."""
    return _TOKENIZER.encode(allele.upper(), source="allele")


def check_region(genome: GenomeAccess, chrom: str, start: int, end: int) -> str:
    """Resolve ``chrom`` and validate [start, end) against its length. Returns the genome's contig name."""
    name = genome.resolve(chrom)
    if name is None:
        raise InputError(f"contig {chrom!r} is not in the genome (contigs: {', '.join(list(genome.lengths)[:10])})")
    if not 0 <= start < end <= genome.lengths[name]:
        raise InputError(f"region {chrom}:{start}-{end} is outside the contig (length {genome.lengths[name]})")
    return name
