"""Peak memory and time of one Mamba training step (forward + backward) at long L on CPU.

Each configuration runs in a fresh subprocess so that its peak resident memory (ru_maxrss) is its own.
Prints one JSON object per line.

    python benchmarks/bench_mamba_memory.py                          # L = 131072, ~0.47M params
    python benchmarks/bench_mamba_memory.py --lengths 16384 131072 --pattern S --checkpointing none block
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def run_one(
    length: int, pattern: str, d_model: int, n_layer: int, checkpointing: str, threads: int, mlp_type: str
) -> dict:
    import torch

    if threads > 0:
        torch.set_num_threads(threads)

    from genoseq.model.build import build_model
    from genoseq.model.config import ModelConfig

    torch.manual_seed(0)
    config = ModelConfig(
        d_model=d_model,
        n_layer=n_layer,
        layer_pattern=pattern,
        max_len=length,
        checkpointing=checkpointing,
        mlp_type=mlp_type,
    )
    model = build_model(config).train()
    params = sum(p.numel() for p in model.parameters())
    ids = torch.randint(5, 9, (1, length))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    logits = model(ids)
    loss = torch.nn.functional.cross_entropy(logits[0, :-1].float(), ids[0, 1:])
    loss.backward()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "L": length,
        "pattern": pattern,
        "d_model": d_model,
        "n_layer": n_layer,
        "params": params,
        "checkpointing": checkpointing,
        "mlp_type": mlp_type,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(length / seconds),
        "peak_rss_gib": round(peak / 2**20, 2),
        "step_rss_gib": round((peak - base) / 2**20, 2),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[131072])
    parser.add_argument("--pattern", default="M", help="layer pattern: M = Mamba-1, S = Mamba-2")
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument(
        "--checkpointing", nargs="+", default=["none", "block"], choices=["none", "mlp", "block"]
    )
    parser.add_argument("--mlp-type", default="none", help="ModelConfig.mlp_type (none = mixers only)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    parser.add_argument("--child", nargs=2, metavar=("L", "CHECKPOINTING"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        length, ckpt = int(args.child[0]), args.child[1]
        row = run_one(length, args.pattern, args.d_model, args.n_layer, ckpt, args.threads, args.mlp_type)
        print(json.dumps(row), flush=True)
        return
    for length in args.lengths:
        for ckpt in args.checkpointing:
            cmd = [sys.executable, __file__, "--child", str(length), ckpt, "--pattern", args.pattern]
            cmd += ["--d-model", str(args.d_model), "--n-layer", str(args.n_layer)]
            cmd += ["--threads", str(args.threads), "--mlp-type", args.mlp_type]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(json.dumps({"L": length, "checkpointing": ckpt, "error": proc.stderr.strip()[-500:]}))
            else:
                print(proc.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
