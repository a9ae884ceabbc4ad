"""Normalise the many ways a user can give variants into one list, with per-variant validation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from genoseq.errors import InputError
from genoseq.infer.windows import GenomeAccess

_BASES = set("ACGTN")


@dataclass
class VariantIn:
    """One variant to score (one ALT). ``pos`` is 1-based; ``start`` 0-based on the genome's contig."""

    index: int  # 0-based order of the input rows
    record: int  # record index in the source (VCF record number, or = index)
    chrom: str
    pos: int
    ref: str
    alt: str
    status: str = "ok"
    message: str = ""
    contig: str | None = None  # resolved genome contig name
    alt_index: int = 0  # index of this ALT among its record's ALTs (VCF input)

    @property
    def start(self) -> int:
        return self.pos - 1

    def skip(self, status: str, message: str) -> None:
        self.status, self.message = status, message


def normalize_variants(variants: Any) -> list[VariantIn]:
    """A VCF/TSV path, a DataFrame, a list of (chrom, pos, ref, alt) / dicts, or ``read_variants`` records."""
    if isinstance(variants, (str, os.PathLike)):
        from genoseq.data.variants import read_variants

        variants = read_variants(variants)
    if hasattr(variants, "to_dict") and hasattr(variants, "columns"):  # pandas DataFrame
        variants = variants.to_dict("records")
    out: list[VariantIn] = []
    for i, item in enumerate(variants):
        out.append(_one(i, item))
    return out


def _field(item: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(item, dict):
            for key in (name, name.upper(), name.capitalize()):
                if key in item:
                    return item[key]
        elif hasattr(item, name):
            return getattr(item, name)
    return default


def _one(i: int, item: Any) -> VariantIn:
    if isinstance(item, (tuple, list)):
        if len(item) < 4:
            raise InputError(f"variant {i}: expected (chrom, pos, ref, alt), got {item!r}")
        chrom, pos, ref, alt = item[:4]
        status, message, record, alt_index = "ok", "", i, 0
    else:
        chrom = _field(item, "chrom", "contig", "chromosome")
        pos = _field(item, "pos", "position")
        ref = _field(item, "ref")
        alt = _field(item, "alt")
        status = _field(item, "status", default="ok") or "ok"
        message = _field(item, "message", default="") or ""
        record = _field(item, "record_index", "record", "index", default=i)
        alt_index = _field(item, "alt_index", default=0)
    try:
        pos = int(pos)
    except (TypeError, ValueError):
        pos, status, message = 0, "invalid_position", f"position {pos!r} is not an integer"
    if isinstance(alt, (list, tuple)):
        alt = ",".join(str(a) for a in alt)
    rec = VariantIn(i, int(record) if isinstance(record, (int, np.integer)) else i, str(chrom), pos,
                    "" if ref is None else str(ref), "" if alt is None else str(alt), str(status), str(message))
    rec.alt_index = int(alt_index) if isinstance(alt_index, (int, np.integer)) else 0
    return rec


def validate(variants: list[VariantIn], genome: GenomeAccess, max_allele: int) -> None:
    """Mark each variant that cannot be scored with a status and a message (in place)."""
    for v in variants:
        if v.status != "ok":
            continue
        ref, alt = v.ref.upper(), v.alt.upper()
        if alt.startswith("<"):
            v.skip("skipped_symbolic", f"symbolic ALT allele {v.alt!r} cannot be scored")
            continue
        if "[" in alt or "]" in alt or alt.startswith(".") and len(alt) > 1 or alt.endswith(".") and len(alt) > 1:
            v.skip("skipped_breakend", f"breakend ALT {v.alt!r} cannot be scored")
            continue
        if alt in ("*", "."):
            v.skip("skipped_spanning_deletion" if alt == "*" else "skipped_missing_alt",
                   f"ALT {v.alt!r} is not a sequence allele")
            continue
        if "," in alt:
            v.skip("multiallelic", f"ALT {v.alt!r} lists several alleles; give one ALT per row")
            continue
        if not ref or not alt or not set(ref) <= _BASES or not set(alt) <= _BASES:
            v.skip("invalid_allele", f"REF {v.ref!r} / ALT {v.alt!r} must be non-empty A/C/G/T/N strings")
            continue
        if ref == alt:
            v.skip("no_change", "REF equals ALT")
            continue
        name = genome.resolve(v.chrom)
        if name is None:
            names = list(genome.lengths)
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            v.skip("unknown_contig", f"contig {v.chrom!r} is not in the genome and no alias matched "
                                     f"(genome contigs: {shown})")
            continue
        v.contig = name
        clen = genome.lengths[name]
        if v.pos < 1 or v.start + len(ref) > clen:
            v.skip("out_of_range", f"{v.chrom}:{v.pos} REF {v.ref} extends outside the contig (length {clen})")
            continue
        if max(len(ref), len(alt)) > max_allele:
            v.skip("allele_too_long", f"allele longer than the scoring window allows ({max_allele})")
            continue
        found = genome.tokens(name, v.start, v.start + len(ref))
        from genoseq.infer.windows import encode_allele

        if not np.array_equal(found, encode_allele(ref)):
            seq = "".join("ACGTN"[int(t) - 5] if 5 <= t <= 9 else "?" for t in found)
            v.skip("ref_mismatch", f"REF {v.ref} does not match the genome ({seq}) at {name}:{v.pos}")
