"""Time of `genoseq evaluate variants` work on a labelled table, beside score_variants alone on the same rows.

Table: the unit tests' table (``--table test``: 30 SNVs on phage lambda + one REF mismatch + one unknown
contig, random 0/1 labels) or the E. coli nonsense-vs-synonymous table of make_variant_table.py
(``--table ecoli``). Model: hyenadna-tiny with d_model 32 (untrained, seeded), as in the tests. Rounds
alternate (scorer alone, then the whole benchmark: read + label parsing + scoring + metrics, then the
outputs: scores.tsv, metrics.json, roc.png); one JSON object per line, the last with medians and ratios.

    python benchmarks/bench_variant_benchmark.py --table test --window 64 --rounds 5
    python benchmarks/bench_variant_benchmark.py --table ecoli --n 100 --window 256 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from genoseq import bundled
from genoseq.data.genome import Genome
from genoseq.eval.variant_benchmark import read_labelled_table, run_variant_benchmark, write_outputs
from genoseq.infer.variants import score_variants
from genoseq.model.build import build_model
from genoseq.model.presets import get_preset


def test_table(path: Path, genome: Genome) -> None:
    """The table of tests/eval/test_variant_benchmark.py (same seeds)."""
    contig = next(iter(genome.contigs))
    rng = np.random.default_rng(0)
    rows = []
    for pos in sorted(rng.choice(np.arange(200, 48000), 30, replace=False)):
        ref = genome.fetch(contig, int(pos) - 1, int(pos))
        rows.append((contig, int(pos), ref, "ACGT"[("ACGT".index(ref) + int(rng.integers(1, 4))) % 4]))
    c, p, r, _ = rows[3]
    rows += [(c, p, "ACGT"[("ACGT".index(r) + 1) % 4], r), ("chrZ", 100, "A", "G")]
    labels = np.random.default_rng(1).integers(0, 2, len(rows))
    with open(path, "w") as fh:
        fh.write("chrom\tpos\tref\talt\tlabel\n")
        for row, y in zip(rows, labels, strict=True):
            fh.write("\t".join(str(x) for x in (*row, y)) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", choices=["test", "ecoli"], default="test")
    ap.add_argument("--n", type=int, default=100, help="SNVs per class for --table ecoli")
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = get_preset("hyenadna-tiny").to_dict()
    cfg.update(d_model=32, max_len=max(128, args.window))
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    tmp = Path(tempfile.mkdtemp(prefix="bench_vb_"))
    table = tmp / "table.tsv"
    if args.table == "test":
        genome = Genome(bundled.path("phage_lambda"), aliases=True)
        test_table(table, genome)
    else:
        sys.path.insert(0, str(Path(__file__).parent))
        from make_variant_table import make_table

        genome = Genome(bundled.path("ecoli_k12"), aliases=True)
        with open(table, "w") as fh:
            fh.write("chrom\tpos\tref\talt\tstrand\tconsequence\tlabel\n")
            for row in make_table(args.n, 0):
                fh.write("\t".join(str(x) for x in row) + "\n")
    variants = read_labelled_table(table, "label").variants()
    score_variants(model, genome, variants, window=args.window)  # warm-up (allocations, caches)
    times: dict[str, list[float]] = {"score_variants": [], "run_variant_benchmark": [], "write_outputs": []}
    for r in range(args.rounds):
        t = time.perf_counter()
        score_variants(model, genome, variants, window=args.window)
        times["score_variants"].append(time.perf_counter() - t)
        t = time.perf_counter()
        result = run_variant_benchmark(model, genome, table, "label", window=args.window)
        times["run_variant_benchmark"].append(time.perf_counter() - t)
        t = time.perf_counter()
        write_outputs(result, tmp / "out")
        times["write_outputs"].append(time.perf_counter() - t)
        print(json.dumps({"round": r, **{k: round(v[-1], 4) for k, v in times.items()}}), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    m = result.metrics
    print(json.dumps({
        "table": args.table, "rows": m["n"], "n_scored": m["n_scored"], "skipped": m["skipped"],
        "window": args.window, "threads": args.threads, "auroc": m["auroc"], "auprc": m["auprc"],
        **{f"{k}_s": round(v, 4) for k, v in med.items()},
        "benchmark_over_scoring": round(med["run_variant_benchmark"] / med["score_variants"], 3),
        "variants_per_s": round(m["n_scored"] / med["run_variant_benchmark"], 1),
        "load": os.getloadavg()[0],
    }))


if __name__ == "__main__":
    main()
