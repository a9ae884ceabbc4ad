"""Derive genoseq/bundled/tasks/ecoli_k12_cds.bed.gz from the staged NCBI GFF3 of E. coli K-12 MG1655.

Every GFF row of type ``CDS`` on NC_000913.3 without ``pseudo=true`` becomes one BED6 line
``NC_000913.3  start-1  end  cds  0  strand`` (GFF is 1-based closed, BED 0-based half-open); rows are
sorted by (start, end, strand) and written gzip-compressed with a zero timestamp, so the output is
byte-for-byte reproducible. Multi-row CDS features (programmed frameshifts such as prfB) give one line
per row; overlapping CDS rows are kept as they are (same class, merged by the reader).

    python benchmarks/make_ecoli_cds_bed.py \\
        ../shared/data/genomes/ecoli_k12_mg1655/GCF_000005845.2_ASM584v2_genomic.gff.gz \\
        genoseq/bundled/tasks/ecoli_k12_cds.bed.gz

Prints one JSON line with the counts, the covered bases and the output's md5/sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
from pathlib import Path

CONTIG = "NC_000913.3"
LENGTH = 4_641_652


def cds_rows(gff: Path) -> tuple[list[tuple[int, int, str]], int]:
    """(start0, end, strand) of every non-pseudo CDS row, and the number of pseudo CDS rows left out."""
    rows, pseudo = [], 0
    with gzip.open(gff, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            if len(f) != 9 or f[2] != "CDS":
                continue
            if f[0] != CONTIG:
                raise SystemExit(f"unexpected seqid {f[0]!r} in {gff}")
            if "pseudo=true" in f[8].split(";"):
                pseudo += 1
                continue
            start, end = int(f[3]) - 1, int(f[4])
            if not (0 <= start < end <= LENGTH) or f[6] not in "+-":
                raise SystemExit(f"unexpected CDS row: {line.strip()}")
            rows.append((start, end, f[6]))
    return sorted(rows), pseudo


def main(gff: str, out: str) -> None:
    rows, pseudo = cds_rows(Path(gff))
    text = "#chrom\tstart\tend\tname\tscore\tstrand\n" + "".join(
        f"{CONTIG}\t{s}\t{e}\tcds\t0\t{strand}\n" for s, e, strand in rows)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode())
    data = buf.getvalue()
    Path(out).write_bytes(data)
    covered = bytearray(LENGTH)
    for s, e, _ in rows:
        covered[s:e] = b"\x01" * (e - s)
    print(json.dumps({
        "out": out, "cds_rows": len(rows), "pseudo_cds_rows_left_out": pseudo,
        "plus": sum(r[2] == "+" for r in rows), "minus": sum(r[2] == "-" for r in rows),
        "cds_bases": sum(covered), "genome_bases": LENGTH, "bytes": len(data),
        "md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest(),
    }))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
