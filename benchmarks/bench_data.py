"""Genome window throughput: memory-mapped token cache vs pyfaidx fetch + tokenisation.

Run:  python benchmarks/bench_data.py [--ecoli PATH] [--synthetic-mb 200] [--window 131072]

For the bundled E. coli genome and a generated FASTA of ``--synthetic-mb`` megabases (written
to a temporary directory), prints one JSON line per (genome, path) with windows/s and tokens/s
of random windows, plus a summary line with the ratios. Paths measured, single thread:

- ``naive``:  ``Genome(use_cache=False).tokens`` = pyfaidx fetch + Tokenizer.encode per window
- ``slice``:  ``Genome.tokens`` from the warm token cache (a zero-copy view of the memory map)
- ``copy``:   the same plus ``np.array(view)`` (one memcpy into a fresh uint8 array)
- ``dataset``: ``GenomeWindowDataset[i]`` (copy + int64 conversion into a torch tensor)
- ``dataset_uint8``: the same with ``dtype=torch.uint8`` (one copy, no widening)
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genoseq.data.datasets import GenomeWindowDataset  # noqa: E402
from genoseq.data.genome import Genome  # noqa: E402
from genoseq.data.windows import RandomWindows  # noqa: E402

ECOLI_NAME = "GCF_000005845.2_ASM584v2_genomic.fna.gz"
ECOLI_CANDIDATES = [
    REPO / "genoseq" / "bundled" / "genomes" / ECOLI_NAME,
    Path("/work/shared/data/genomes/ecoli_k12_mg1655") / ECOLI_NAME,
]


def write_synthetic_fasta(path: Path, megabases: int, contigs: int = 4, width: int = 60, seed: int = 0) -> None:
    """Random ACGT contigs with soft-masked stretches and N runs, ``width``-column lines."""
    rng = np.random.default_rng(seed)
    per = megabases * 1_000_000 // contigs
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    with open(path, "wb") as fh:
        for c in range(contigs):
            seq = letters[rng.integers(0, 4, per, dtype=np.uint8)]
            for s in rng.integers(0, per - 10_000, 50):  # lowercase (soft-masked) stretches
                seq[s : s + 5_000] |= 0x20
            for s in rng.integers(0, per - 2_000, 10):  # N runs
                seq[s : s + 1_000] = ord("N")
            n_full = per // width
            lines = np.empty((n_full, width + 1), dtype=np.uint8)  # (lines, width + newline)
            lines[:, :width] = seq[: n_full * width].reshape(n_full, width)
            lines[:, width] = ord("\n")
            fh.write(f">synthetic{c + 1}\n".encode())
            fh.write(lines.tobytes())
            if per % width:
                fh.write(seq[n_full * width :].tobytes() + b"\n")


def time_loop(fn, starts: list[tuple[str, int]], window: int, min_seconds: float) -> tuple[float, int]:
    """Run ``fn(contig, start)`` over ``starts`` (cycling) for at least ``min_seconds``; (seconds, windows)."""
    done = 0
    t0 = time.perf_counter()
    while True:
        for contig, start in starts:
            fn(contig, start)
        done += len(starts)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return elapsed, done


def bench_genome(label: str, path: Path, cache_dir: Path, window: int, n_naive: int, seconds: float) -> list[dict]:
    rows = []
    t0 = time.perf_counter()
    cached = Genome(path, cache_dir=cache_dir)
    cached.build_cache()
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    naive = Genome(path, cache_dir=cache_dir, use_cache=False)
    naive.fetch(next(iter(naive.contigs)), 0, 1)
    naive_open_s = time.perf_counter() - t0
    total = sum(cached.contigs.values())
    sampler = RandomWindows(cached, window, 2000, seed=0)
    starts = [(w.contig, w.start) for w in sampler]
    # warm the page cache: touch every contig once
    for name in cached.contigs:
        int(np.asarray(cached.tokens(name)).sum(dtype=np.int64))

    def naive_fn(contig, start):
        naive.tokens(contig, start, start + window)

    def slice_fn(contig, start):
        cached.tokens(contig, start, start + window)

    def copy_fn(contig, start):
        np.array(cached.tokens(contig, start, start + window))

    dataset = GenomeWindowDataset(cached, sampler)
    dataset_u8 = GenomeWindowDataset(cached, sampler, dtype=torch.uint8)
    index = iter(range(10**12))

    def dataset_fn(contig, start):
        dataset[next(index) % len(dataset)]

    def dataset_u8_fn(contig, start):
        dataset_u8[next(index) % len(dataset_u8)]

    # correctness check before timing: both paths agree
    for contig, start in starts[:5]:
        assert np.array_equal(naive.tokens(contig, start, start + window), cached.tokens(contig, start, start + window))
    for name, fn, subset in [
        ("naive", naive_fn, starts[:n_naive]),
        ("slice", slice_fn, starts),
        ("copy", copy_fn, starts),
        ("dataset", dataset_fn, starts),
        ("dataset_uint8", dataset_u8_fn, starts),
    ]:
        elapsed, done = time_loop(fn, subset, window, seconds)
        rows.append({
            "bench": "genome_windows", "genome": label, "genome_bp": total, "path": name, "window": window,
            "windows": done, "seconds": round(elapsed, 4), "windows_per_s": round(done / elapsed, 1),
            "tokens_per_s": float(f"{done * window / elapsed:.4g}"),
        })
    naive_source = type(naive._open_source()).__name__.strip("_").replace("Source", "").lower()
    for row in rows:
        row["naive_source"] = naive_source  # "faidx" (pyfaidx index) or "memory" (plain gzip read in once)
        row["cache_build_s"] = round(build_s, 3)
        row["naive_open_s"] = round(naive_open_s, 3)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ecoli", type=Path, default=None, help="E. coli FASTA (default: bundled, else shared data)")
    parser.add_argument("--synthetic-mb", type=int, default=200, help="size of the generated FASTA (0 = skip)")
    parser.add_argument("--window", type=int, default=131_072)
    parser.add_argument("--naive-windows", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum timing per path")
    args = parser.parse_args(argv)
    ecoli = args.ecoli or next((p for p in ECOLI_CANDIDATES if p.exists()), None)
    torch.set_num_threads(1)
    env = {"bench": "env", "python": platform.python_version(), "numpy": np.__version__,
           "machine": platform.machine(), "threads": 1}
    print(json.dumps(env), flush=True)
    with tempfile.TemporaryDirectory(prefix="genoseq-bench-") as tmp:
        tmp = Path(tmp)
        genomes = []
        if ecoli is not None:
            genomes.append(("ecoli_k12", ecoli))
        if args.synthetic_mb:
            fa = tmp / "synthetic.fa"
            t0 = time.perf_counter()
            write_synthetic_fasta(fa, args.synthetic_mb)
            print(json.dumps({"bench": "generate", "megabases": args.synthetic_mb,
                              "seconds": round(time.perf_counter() - t0, 2)}), flush=True)
            genomes.append((f"synthetic_{args.synthetic_mb}mb", fa))
        for label, path in genomes:
            rows = bench_genome(label, path, tmp / "cache", args.window, args.naive_windows, args.seconds)
            for row in rows:
                print(json.dumps(row), flush=True)
            by = {r["path"]: r["tokens_per_s"] for r in rows}
            print(json.dumps({
                "bench": "genome_windows_summary", "genome": label,
                "slice_vs_naive": round(by["slice"] / by["naive"], 1),
                "copy_vs_naive": round(by["copy"] / by["naive"], 1),
                "dataset_vs_naive": round(by["dataset"] / by["naive"], 1),
                "dataset_uint8_vs_naive": round(by["dataset_uint8"] / by["naive"], 1),
                "copy_tokens_per_s_ge_1e9": by["copy"] >= 1e9,
            }), flush=True)


if __name__ == "__main__":
    main()
