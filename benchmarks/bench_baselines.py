"""The three baselines of ``genoseq.eval.baselines`` on one task, plus NCD compressors side by side.

Prints JSON lines: the load average; k-mer counting speed (20,000 random 100 bp sequences per k); one line
per baseline (train seconds = fit + dev selection, predict seconds, parameters, test metrics, details);
then ``ncd_knn`` with gzip, lzma and bz2 on the same train/dev subsample (seconds per compressed pair and
the ratio to gzip, test metrics).

    python benchmarks/bench_baselines.py --task ../shared/data/benchmarks/gue/prom/prom_core_tata
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from genoseq.data.tasks import read_task
from genoseq.eval._kmer import kmer_frequencies
from genoseq.eval.baselines import BASELINES, run_baseline
from genoseq.eval.metrics import classification_metrics


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in metrics.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="../shared/data/benchmarks/gue/prom/prom_core_tata")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baselines", nargs="*", default=list(BASELINES))
    parser.add_argument("--ncd-train", type=int, default=1000, help="train rows for the compressor comparison")
    parser.add_argument("--ncd-dev", type=int, default=300, help="dev rows for the compressor comparison")
    parser.add_argument("--compressors", nargs="*", default=["gzip", "lzma", "bz2"])
    args = parser.parse_args()

    emit(what="load", loadavg=os.getloadavg(), cpus=os.cpu_count())
    rng = np.random.default_rng(0)
    seqs = ["".join(s) for s in rng.choice(list("ACGT"), size=(20_000, 100)).tolist()]
    for k in (3, 4, 5, 6):
        start = time.perf_counter()
        kmer_frequencies(seqs, k)
        emit(what="kmer_frequencies", n=20_000, length=100, k=k, seconds=round(time.perf_counter() - start, 3))

    task = read_task(args.task)
    train, dev, test = task["train"], task["dev"], task["test"]
    sizes = {"n_train": len(train), "n_dev": len(dev), "n_test": len(test)}
    for name in args.baselines:
        start = time.perf_counter()
        fit = run_baseline(name, train, dev, test, task.n_classes, seed=args.seed)
        total = time.perf_counter() - start
        emit(what="baseline", task=args.task, baseline=name, **sizes, train_seconds=round(fit.train_seconds, 2),
             predict_seconds=round(total - fit.train_seconds, 2), parameters=fit.parameters,
             **rounded(classification_metrics(test.labels, fit.probs)), details=fit.details)

    gzip_per_pair = None
    for compressor in args.compressors:
        start = time.perf_counter()
        fit = run_baseline("ncd_knn", train, dev, test, task.n_classes, seed=args.seed, compressor=compressor,
                           max_train=args.ncd_train, max_dev=args.ncd_dev)
        total = time.perf_counter() - start
        pairs = (min(args.ncd_dev, len(dev)) + len(test)) * min(args.ncd_train, len(train))
        per_pair = total / pairs
        gzip_per_pair = per_pair if compressor == "gzip" else gzip_per_pair
        emit(what="ncd_compressor", task=args.task, compressor=compressor, pairs=pairs,
             seconds=round(total, 2), us_per_pair=round(per_pair * 1e6, 2),
             time_vs_gzip=None if gzip_per_pair is None else round(per_pair / gzip_per_pair, 2),
             **rounded(classification_metrics(test.labels, fit.probs)), details=fit.details)
    emit(what="load", loadavg=os.getloadavg())


if __name__ == "__main__":
    main()
