"""Write variant scores back into a copy of the input VCF (pysam), every record kept.

Each score column becomes an INFO field ``GENOSEQ_<COLUMN>`` (Number=A, Float: one value per ALT,
``.`` where that ALT was not scored) declared in the header, plus ``GENOSEQ_STATUS`` (String, one per ALT,
or one for a record whose ALT is ``.``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from genoseq.errors import DependencyError, InputError
from genoseq.infer.table import ScoreTable, atomic_path


def info_key(column: str) -> str:
    return "GENOSEQ_" + column.upper()


def write_scored_vcf(
    source: str | os.PathLike[str], out: str | os.PathLike[str], table: ScoreTable, columns: Sequence[str],
    method: str,
) -> Path:
    """Copy ``source`` to ``out`` (``.vcf`` or ``.vcf.gz``/``.bcf``) adding INFO fields for ``columns``."""
    try:
        import pysam
    except ImportError:
        raise DependencyError("pysam", "VCF output", extra="vcf") from None
    out = Path(out)
    by_key = {(row["record"], row.get("alt_index", 0)): row for row in table}
    try:
        vin = pysam.VariantFile(str(source))
    except (OSError, ValueError) as err:
        raise InputError(f"htslib cannot read it as VCF/BCF for VCF output ({err}); write .tsv instead",
                         source) from None
    with vin:
        header = vin.header.copy()
        for col in columns:
            header.info.add(info_key(col), "A", "Float", f"genoseq {method} score: {col}")
        header.info.add("GENOSEQ_STATUS", ".", "String",
                        "genoseq scoring status per ALT (ok or a skip reason); one value when the record has no ALT")
        name = out.name.lower()
        mode = "wb" if name.endswith(".bcf") else "wz" if name.endswith(".gz") else "w"
        with atomic_path(out) as tmp:
            with pysam.VariantFile(tmp, mode, header=header) as vout:
                for i, rec in enumerate(vin):
                    rec.translate(vout.header)
                    n_alt = len(rec.alts or ())
                    rows = [by_key.get((i, j)) for j in range(max(n_alt, 1))]
                    if not n_alt and rows[0] is not None:  # ALT "." : status only
                        rec.info["GENOSEQ_STATUS"] = (rows[0]["status"],)
                    elif any(r is not None for r in rows):
                        rec.info["GENOSEQ_STATUS"] = tuple(r["status"] if r else "not_scored" for r in rows)
                        for col in columns:
                            vals = tuple(_num(r.get(col)) if r else None for r in rows)
                            if any(v is not None for v in vals):
                                rec.info[info_key(col)] = vals
                    vout.write(rec)
    return out


def _num(value: object) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)
