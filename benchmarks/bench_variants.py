"""Variant scoring throughput: naive (two full forward passes per strand per variant) vs the fast path.

Both run in the same process on the same SNVs drawn on the bundled E. coli genome, and the script
checks that they give the same scores. Prints one JSON object per line.

    python benchmarks/bench_variants.py --preset hyenadna-tiny --window 8192 --n-naive 8 --n-fast 64
    python benchmarks/bench_variants.py --vcf-variants 10000 --window 1024   # score-variants on a VCF
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time

import numpy as np
import torch


def draw_snvs(genome, n: int, seed: int, margin: int) -> list[tuple[str, int, str, str]]:
    """``n`` random SNVs (chrom, pos 1-based, ref, alt) on A/C/G/T reference bases."""
    rng = np.random.default_rng(seed)
    contigs = list(genome.contigs.items())
    sizes = np.array([length for _, length in contigs], dtype=np.float64)
    out = []
    while len(out) < n:
        c = rng.choice(len(contigs), p=sizes / sizes.sum())
        name, length = contigs[c]
        pos0 = int(rng.integers(margin, max(margin + 1, length - margin)))
        ref = genome.fetch(name, pos0, pos0 + 1).upper()
        if ref not in "ACGT":
            continue
        alt = "ACGT"[(("ACGT".index(ref)) + int(rng.integers(1, 4))) % 4]
        out.append((name, pos0 + 1, ref, alt))
    return out


def write_vcf(path: str, variants: list[tuple[str, int, str, str]], contigs: dict[str, int]) -> None:
    variants = sorted(variants, key=lambda v: (v[0], v[1]))
    with open(path, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n")
        for name, length in contigs.items():
            fh.write(f"##contig=<ID={name},length={length}>\n")
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for chrom, pos, ref, alt in variants:
            fh.write(f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\t.\t.\n")


def timed(fn):  # noqa: ANN001, ANN201
    """(result, wall seconds, process CPU seconds). CPU time is the fair measure on a shared machine."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="hyenadna-tiny")
    ap.add_argument("--window", type=int, default=8192)
    ap.add_argument("--n-naive", type=int, default=8)
    ap.add_argument("--n-fast", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--vcf-variants", type=int, default=0, help="also time score_variants on a VCF of this many SNVs")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time = compute, robust to load)")
    ap.add_argument("--max-tokens", type=int, default=8192)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import genoseq.bundled
    from genoseq.data.genome import Genome
    from genoseq.infer.variants import score_variants
    from genoseq.model.build import build_model

    torch.manual_seed(args.seed)
    model = build_model(args.preset).eval()
    genome = Genome(genoseq.bundled.path("ecoli_k12"))
    info = {"preset": args.preset, "window": args.window, "threads": torch.get_num_threads(),
            "params": sum(p.numel() for p in model.parameters())}

    if args.n_naive or args.n_fast:
        snvs = draw_snvs(genome, max(args.n_naive, args.n_fast), args.seed, args.window)
        # warm-up (filter caches, allocator)
        score_variants(model, genome, snvs[:1], window=args.window)
        naive, t_naive, c_naive = timed(lambda: score_variants(model, genome, snvs[: args.n_naive],
                                                               window=args.window, fast=False))
        fast, t_fast, c_fast = timed(lambda: score_variants(model, genome, snvs[: args.n_fast], window=args.window,
                                                            batch_size=args.batch_size, max_tokens=args.max_tokens))
        diff = np.abs(np.array(naive["llr_sum"]) - np.array(fast["llr_sum"][: args.n_naive]))
        rate = {"naive": (args.n_naive / t_naive, args.n_naive / c_naive),
                "fast": (args.n_fast / t_fast, args.n_fast / c_fast)}
        for impl, n, wall, cpu in (("naive", args.n_naive, t_naive, c_naive), ("fast", args.n_fast, t_fast, c_fast)):
            row = {**info, "bench": "llr", "impl": impl, "variants": n, "wall_s": round(wall, 3),
                   "cpu_s": round(cpu, 3), "variants_per_wall_s": round(rate[impl][0], 4),
                   "variants_per_cpu_s": round(rate[impl][1], 4)}
            if impl == "fast":
                row["speedup_wall"] = round(rate["fast"][0] / rate["naive"][0], 2)
                row["speedup_cpu"] = round(rate["fast"][1] / rate["naive"][1], 2)
                row["max_abs_diff_vs_naive"] = float(diff.max())
            print(json.dumps(row), flush=True)

    if args.vcf_variants:
        from genoseq.data.variants import read_variants

        snvs = draw_snvs(genome, args.vcf_variants, args.seed + 1, 1)
        with tempfile.TemporaryDirectory() as tmp:
            vcf = os.path.join(tmp, "ecoli_snvs.vcf")
            write_vcf(vcf, snvs, genome.contigs)
            table, secs, cpu = timed(lambda: score_variants(model, genome, read_variants(vcf), window=args.window,
                                                            batch_size=args.batch_size, max_tokens=args.max_tokens))
            table.to_tsv(os.path.join(tmp, "out.tsv"))
        ok = sum(s == "ok" for s in table["status"])
        print(json.dumps({**info, "bench": "score_variants_vcf", "variants": len(table), "ok": ok,
                          "wall_s": round(secs, 2), "cpu_s": round(cpu, 2),
                          "variants_per_wall_s": round(len(table) / secs, 2),
                          "variants_per_cpu_s": round(len(table) / cpu, 2),
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))


if __name__ == "__main__":
    main()
