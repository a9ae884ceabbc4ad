"""A labelled SNV table on the bundled E. coli K-12 genome for `genoseq evaluate variants`.

Nonsense SNVs (a sense codon becomes TAA/TAG/TGA inside a CDS; label 1, the damaging class) against
synonymous SNVs (same amino acid, bacterial code 11; label 0), drawn from the bundled CDS intervals
(``ecoli_k12_cds``, both strands; first and last codon excluded). A genomic language model trained on
E. coli should give nonsense SNVs a lower ``llr_sum`` than synonymous ones, so AUROC of ``-llr_sum``
above 0.5 is the signal (an untrained model gives about 0.5). Deterministic for a given ``--seed``.

    python benchmarks/make_variant_table.py --out ecoli_nonsense_vs_synonymous.tsv --n 200
    genoseq evaluate variants --model runs/tiny_ecoli/model --genome genoseq/bundled/genomes/GCF_000005845.2_ASM584v2_genomic.fna.gz \
        --table ecoli_nonsense_vs_synonymous.tsv --label-column label --window 1024 --out eval_variants
"""

from __future__ import annotations

import argparse
import gzip
import json

import numpy as np
from Bio.Data.CodonTable import unambiguous_dna_by_id

from genoseq import bundled
from genoseq.data.genome import Genome

COMPLEMENT = str.maketrans("ACGT", "TGCA")


def cds_intervals() -> list[tuple[str, int, int, str]]:
    out = []
    with gzip.open(bundled.path("ecoli_k12_cds"), "rt") as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            chrom, start, end, _name, _score, strand = line.rstrip("\n").split("\t")[:6]
            if (int(end) - int(start)) % 3 == 0 and int(end) - int(start) >= 9:
                out.append((chrom, int(start), int(end), strand))
    return out


def make_table(n: int, seed: int) -> list[tuple[str, int, str, str, str, str, int]]:
    """``n`` nonsense and ``n`` synonymous SNVs: (chrom, pos 1-based, ref, alt, strand, consequence, label)."""
    table = unambiguous_dna_by_id[11]
    stops = set(table.stop_codons)
    genome = Genome(bundled.path("ecoli_k12"))
    cds = cds_intervals()
    rng = np.random.default_rng(seed)
    found: dict[str, list] = {"nonsense": [], "synonymous": []}
    seen = set()
    while min(len(v) for v in found.values()) < n:
        chrom, start, end, strand = cds[int(rng.integers(len(cds)))]
        n_codons = (end - start) // 3
        k = int(rng.integers(1, n_codons - 1))  # not the start or stop codon
        seq = genome.fetch(chrom, start, end).upper()
        coding = seq if strand == "+" else seq.translate(COMPLEMENT)[::-1]
        codon = coding[3 * k : 3 * k + 3]
        if codon in stops or codon not in table.forward_table:
            continue
        j = int(rng.integers(3))
        base = "ACGT"[("ACGT".index(codon[j]) + int(rng.integers(1, 4))) % 4]
        mutant = codon[:j] + base + codon[j + 1 :]
        if mutant in stops:
            kind = "nonsense"
        elif table.forward_table.get(mutant) == table.forward_table[codon]:
            kind = "synonymous"
        else:
            continue  # missense: not part of this binary table
        offset = 3 * k + j  # in coding orientation
        gpos0 = start + offset if strand == "+" else end - 1 - offset
        ref, alt = (codon[j], base) if strand == "+" else (codon[j].translate(COMPLEMENT), base.translate(COMPLEMENT))
        if (chrom, gpos0, alt) in seen or len(found[kind]) >= n:
            continue
        seen.add((chrom, gpos0, alt))
        assert genome.fetch(chrom, gpos0, gpos0 + 1).upper() == ref
        found[kind].append((chrom, gpos0 + 1, ref, alt, strand, kind, int(kind == "nonsense")))
    return sorted(found["nonsense"] + found["synonymous"], key=lambda r: (r[0], r[1], r[3]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=200, help="SNVs per class")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = make_table(args.n, args.seed)
    with open(args.out, "w") as fh:
        fh.write("chrom\tpos\tref\talt\tstrand\tconsequence\tlabel\n")
        for row in rows:
            fh.write("\t".join(str(x) for x in row) + "\n")
    print(json.dumps({"out": args.out, "rows": len(rows), "nonsense": sum(r[6] for r in rows), "seed": args.seed}))


if __name__ == "__main__":
    main()
