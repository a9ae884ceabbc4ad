"""Peak memory and time of embedding one long sequence with chunked prefill.

The measurement runs in a child process (fresh interpreter) and reads its peak RSS with
``resource.getrusage(RUSAGE_CHILDREN)``; prints one JSON object per line.

    python benchmarks/bench_embed.py --length 1048576 --preset hyenadna-tiny --chunk-size 16384
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def child(length: int, preset: str, chunk: int, pooling: str, threads: int) -> None:
    import torch

    import genoseq.bundled
    from genoseq.data.genome import Genome
    from genoseq.infer.embed import embed
    from genoseq.model.build import build_model

    torch.manual_seed(0)
    if threads:
        torch.set_num_threads(threads)
    model = build_model(preset).eval()
    genome = Genome(genoseq.bundled.path("ecoli_k12"))
    name = next(iter(genome.contigs))
    ids = genome.tokens(name, 0, length).copy()
    t0, c0 = time.perf_counter(), time.process_time()
    result = embed(model, {f"{name}:0-{length}": ids}, pooling=pooling, chunk_size=chunk)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"shape": list(result.array.shape), "seconds": round(secs, 2), "cpu_seconds": round(cpu, 2),
                      "finite": bool(torch.isfinite(torch.from_numpy(result.array)).all()),
                      "threads": torch.get_num_threads()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--length", type=int, default=1_048_576)
    ap.add_argument("--preset", default="hyenadna-tiny")
    ap.add_argument("--chunk-size", type=int, default=16384)
    ap.add_argument("--pooling", default="mean")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.length, args.preset, args.chunk_size, args.pooling, args.threads)
        return
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", "--length", str(args.length), "--preset", args.preset,
                           "--chunk-size", str(args.chunk_size), "--pooling", args.pooling,
                           "--threads", str(args.threads)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    inner = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps({"bench": "embed_long", "preset": args.preset, "length": args.length,
                      "chunk_size": args.chunk_size, "pooling": args.pooling, "embed_seconds": inner["seconds"],
                      "embed_cpu_seconds": inner["cpu_seconds"], "torch_threads": inner["threads"],
                      "process_seconds": round(wall, 2), "peak_rss_mb": round(peak_mb, 1),
                      "shape": inner["shape"], "finite": inner["finite"]}))


if __name__ == "__main__":
    main()
