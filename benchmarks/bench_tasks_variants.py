"""Throughput of read_variants (VCF / bgzip / BCF / table; REF check through the block cache vs one
genome fetch per variant) and read_task (GUE-style CSV). Prints one JSON line per measurement.

    python benchmarks/bench_tasks_variants.py [--n 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from genoseq.data import variants as variants_mod
from genoseq.data.genome import Genome
from genoseq.data.tasks import read_task
from genoseq.data.variants import read_variants


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def make_inputs(folder: Path, n: int, seed: int = 0) -> tuple[Genome, dict[str, Path]]:
    import pysam

    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list("ACGT"), size=2_000_000))
    fasta = folder / "g.fa"
    fasta.write_text(">c1\n" + "\n".join(seq[i : i + 60] for i in range(0, len(seq), 60)) + "\n")
    genome = Genome(fasta, cache_dir=folder / "cache")
    positions = np.sort(rng.choice(np.arange(1, len(seq) + 1), size=n, replace=False))
    vcf = folder / "v.vcf"
    with open(vcf, "w") as fh:
        fh.write(f"##fileformat=VCFv4.2\n##contig=<ID=c1,length={len(seq)}>\n")
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for p in positions.tolist():
            ref = seq[p - 1]
            fh.write(f"c1\t{p}\t.\t{ref}\t{'C' if ref != 'C' else 'G'}\t.\t.\t.\n")
    pysam.tabix_compress(str(vcf), str(vcf) + ".gz", force=True)
    bcf = folder / "v.bcf"
    with pysam.VariantFile(str(vcf)) as src, pysam.VariantFile(str(bcf), "wb", header=src.header) as out:
        for rec in src:
            out.write(rec)
    table = folder / "v.tsv"
    with open(vcf) as src, open(table, "w") as out:
        for line in src:
            if not line.startswith("#"):
                out.write("\t".join(line.split("\t")[:5]) + "\n")
    task = folder / "train.csv.gz"
    with gzip.open(task, "wt") as fh:
        fh.write("sequence,label\n")
        for i in range(n // 10):
            start = int(rng.integers(0, len(seq) - 300))
            fh.write(f"{seq[start : start + 300]},{i % 2}\n")
    return genome, {"vcf": vcf, "vcf.gz": Path(str(vcf) + ".gz"), "bcf": bcf, "table": table, "task": task}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        genome, paths = make_inputs(Path(tmp), args.n)
        for fmt in ("vcf", "vcf.gz", "bcf", "table"):
            sec = best_of(lambda fmt=fmt: read_variants(paths[fmt]), args.repeat)
            print(json.dumps({"bench": "read_variants", "format": fmt, "genome": None, "n": args.n,
                              "seconds": round(sec, 3), "variants_per_s": round(args.n / sec)}))
        cached = variants_mod._GenomeChecker._fetch
        for mode in ("block_cache", "fetch_per_variant"):
            if mode == "fetch_per_variant":
                variants_mod._GenomeChecker._fetch = lambda self, name, start, end, length: str(  # type: ignore[method-assign]
                    self.genome.fetch(name, start, end)
                )
            try:
                sec = best_of(lambda: read_variants(paths["vcf"], genome=genome), args.repeat)
            finally:
                variants_mod._GenomeChecker._fetch = cached  # type: ignore[method-assign]
            print(json.dumps({"bench": "read_variants", "format": "vcf", "genome": mode, "n": args.n,
                              "seconds": round(sec, 3), "variants_per_s": round(args.n / sec)}))
        rows = args.n // 10
        sec = best_of(lambda: read_task(paths["task"]), args.repeat)
        print(json.dumps({"bench": "read_task", "format": "csv.gz 300 bp", "rows": rows, "seconds": round(sec, 3),
                          "rows_per_s": round(rows / sec)}))


if __name__ == "__main__":
    main()
