"""Model throughput and memory on CPU: training step and (chunked) inference, one fresh process per case.

    python benchmarks/bench_models.py                      # the default matrix (long: ~30+ minutes)
    python benchmarks/bench_models.py --models hyenadna-tiny --modes train --lengths 131072 --dtypes fp32
    python benchmarks/bench_models.py --models hyenadna-tiny --modes infer --lengths 1048576

Each case runs in a child process (2 threads, batch 1) and prints one JSON line:
{"model", "mode", "length", "dtype", "max_len", "tokens_per_s", "seconds", "peak_rss_mb", "params"} or an
"error". Training = forward + backward of the next-token loss; inference = forward without grad, or
``embed_long`` chunked prefill (mean-pooled hidden states, bounded memory) for lengths above --chunk.
Each case times the last of ``--repeats`` runs (default: the second, warm one; inference above 32k tokens
times its only run). Peak RSS is the child's ``ru_maxrss``. ``tokens_per_cpu_s`` = tokens / process CPU seconds: on a machine
shared with other processes (wall time inflated), an idle 2-thread run lands between this and twice it.
The fused CPU ops (Hyena mixer, MLP, implicit filter) share their channel groups / position blocks among
``--group-threads`` worker threads (default: as many as ``--threads``). Like ``genoseq pretrain``, training
cases of 8,192+ positions of models without Mamba-1 layers run with OMP_WAIT_POLICY=PASSIVE (genoseq.omp_wait; ``--omp-wait default`` keeps
OpenMP's spinning threads, as the figures before 2026-12-07's fourth session were measured).

Models: the presets plus benchmark shapes of about hyenadna-tiny's size (~0.44M parameters):
``bench-mamba`` (4 x M, d 128), ``bench-mamba2`` (4 x S, d 128), ``bench-hybrid`` (H S M H, d 128; no
attention layer, whose O(L^2) cost would dominate at 131k). ``--max-len L`` sets config.max_len (Hyena's
filter position scale and support ~9 * max_len); by default training uses max_len = L (a filter spanning
the whole input, as HyenaDNA trained at that length) and inference keeps the preset's max_len. With
``--max-len L`` for inference (filters spanning the input, like HyenaDNA's 1M-token models), ``embed_long``
picks its layer-wise strategy (Backbone.embed_layerwise) for Hyena models; ``--chunk`` above L runs one
plain forward instead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from genoseq.omp_wait import prefer_passive_openmp

BENCH_SHAPES = {
    "bench-mamba": {"d_model": 128, "n_layer": 4, "layer_pattern": "M", "mlp_type": "none", "norm": "rmsnorm",
                    "mamba": {"d_state": 16, "expand": 2, "chunk_size": 64}},
    "bench-mamba2": {"d_model": 128, "n_layer": 4, "layer_pattern": "S", "mlp_type": "none", "norm": "rmsnorm",
                     "mamba2": {"d_state": 64, "head_dim": 32, "expand": 2, "chunk_size": 64}},
    "bench-hybrid": {"d_model": 128, "n_layer": 4, "layer_pattern": "HSMH", "mlp_type": "none",
                     "norm": "rmsnorm", "hyena": {"filter_dim": 64, "filter_pos_dim": 5},
                     "mamba": {"d_state": 16}, "mamba2": {"d_state": 64, "head_dim": 32}},
}


def _config(name: str, max_len: int | None):
    from genoseq.model.config import ModelConfig
    from genoseq.model.presets import get_preset

    cfg = ModelConfig.from_dict(BENCH_SHAPES[name]) if name in BENCH_SHAPES else get_preset(name)
    return cfg.replace(max_len=max_len) if max_len else cfg


def train_step(model, ids, autocast) -> None:
    """One training step on ids (1, L): the next-token loss under ``autocast``, backward, gradients dropped."""
    import torch.nn.functional as F

    model.train()
    with autocast:
        logits = model(ids)  # (1, L, V)
        loss = F.cross_entropy(logits[0, :-1].float(), ids[0, 1:])
    loss.backward()
    model.zero_grad(set_to_none=True)


def time_last(run, repeats: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the last of ``repeats`` calls of ``run``: the first ones pay for page faults,
    allocator growth and FFT plans."""
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds, cpu


def run_child(cmd: list[str], env: dict, timeout: int, case: dict) -> dict:
    """Run one benchmark child process; returns the last JSON line it printed, or ``case`` with an "error"
    (the timeout, or the last line of its stderr / stdout) when it failed."""
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {**case, "error": f"timeout after {timeout} s"}
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode or not lines:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or [f"exit {res.returncode}"]
        return {**case, "error": tail[0][:300]}
    return json.loads(lines[-1])


def child(args: argparse.Namespace) -> dict:
    import torch

    from genoseq.cpu_allocator import tune_cpu_allocator
    from genoseq.model.build import build_model

    # as `genoseq pretrain / finetune / demo` do at start-up (embed and score-variants leave glibc as it is)
    want = args.allocator == "tuned" or (args.allocator == "auto" and args.mode == "train")
    tuned = want and tune_cpu_allocator()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    L = args.length
    max_len = args.max_len or (L if args.mode == "train" else None)
    cfg = _config(args.model, max_len)
    model = build_model(cfg.replace(checkpointing=args.checkpointing))
    ids = torch.randint(5, 9, (1, L))
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.dtype == "bf16")

    def run() -> None:
        if args.mode == "train":
            train_step(model, ids, autocast)
        else:
            model.eval()
            with torch.no_grad(), autocast:
                if L > args.chunk:
                    model.embed_long(ids, chunk_size=args.chunk, pooling="mean")
                else:
                    model(ids)

    repeats = args.repeats or (2 if L <= 32768 or args.mode == "train" else 1)
    seconds, cpu = time_last(run, repeats)
    return {"model": args.model, "mode": args.mode, "length": L, "dtype": args.dtype,
            "max_len": model.config.max_len, "tokens_per_s": round(L / seconds, 1), "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3), "tokens_per_cpu_s": round(L / cpu, 1),
            "checkpointing": args.checkpointing,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "params": model.num_parameters(), "threads": args.threads,
            "allocator": "tuned" if tuned else "default", "omp_wait": os.environ.get("OMP_WAIT_POLICY", "default")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", default="hyenadna-tiny", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="train", help=argparse.SUPPRESS)
    p.add_argument("--length", type=int, default=1024, help=argparse.SUPPRESS)
    p.add_argument("--dtype", default="fp32", help=argparse.SUPPRESS)
    p.add_argument("--models", default="hyenadna-tiny,bench-mamba,bench-mamba2,bench-hybrid")
    p.add_argument("--modes", default="train,infer")
    p.add_argument("--lengths", default=None, help="comma list; default train 1k,8k,32k,131k / infer 8k,131k,1M")
    p.add_argument("--dtypes", default="fp32,bf16")
    p.add_argument("--max-len", type=int, default=None, help="override config.max_len")
    p.add_argument("--chunk", type=int, default=16384, help="inference chunk size above which embed_long is used")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--checkpointing", default="none", choices=["none", "mlp", "block"],
                   help="activation checkpointing for training cases")
    p.add_argument("--timeout", type=int, default=900, help="seconds per case")
    p.add_argument("--repeats", type=int, default=None,
                   help="runs per case, the last one timed (default 2: a warm step; 1 for inference above 32k)")
    p.add_argument("--group-threads", type=int, default=None,
                   help="worker threads of the fused CPU ops (GENOSEQ_GROUP_THREADS; default: --threads)")
    p.add_argument("--omp-wait", default="auto", choices=["auto", "passive", "default"],
                   help="passive: OMP_WAIT_POLICY=PASSIVE in the children (idle OpenMP threads sleep instead of "
                        "spinning); default: OpenMP as configured; auto (default): passive for training cases of "
                        "at least genoseq.omp_wait.LONG_SEQUENCE positions, as `genoseq pretrain / finetune` run "
                        "such recipes")
    p.add_argument("--malloc-arena-max", type=int, default=None,
                   help="MALLOC_ARENA_MAX for the children: fewer glibc arenas hold less freed memory of the worker "
                        "threads (32k training, bf16: ~0.66 vs 0.74-0.78 GB peak RSS with 1, same speed)")
    p.add_argument("--allocator", default="auto", choices=["auto", "tuned", "default"],
                   help="tuned: genoseq.cpu_allocator.tune_cpu_allocator() in the child (freed memory kept for "
                        "reuse: no page faults on each step's large tensors); default: glibc as configured; auto "
                        "(default): tuned for training cases, as `genoseq pretrain / finetune` run")
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)), flush=True)
        return
    default_lengths = {"train": [1024, 8192, 32768, 131072], "infer": [8192, 131072, 1048576]}
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    if args.malloc_arena_max:
        env["MALLOC_ARENA_MAX"] = str(args.malloc_arena_max)
    if args.group_threads:
        env["GENOSEQ_GROUP_THREADS"] = str(args.group_threads)
    for mode in args.modes.split(","):
        lengths = [int(x) for x in args.lengths.split(",")] if args.lengths else default_lengths[mode]
        for model in args.models.split(","):
            for dtype in args.dtypes.split(","):
                for L in lengths:
                    cmd = [sys.executable, __file__, "--child", "--model", model, "--mode", mode, "--length",
                           str(L), "--dtype", dtype, "--chunk", str(args.chunk), "--threads", str(args.threads)]
                    cmd += ["--checkpointing", args.checkpointing, "--allocator", args.allocator]
                    if args.max_len:
                        cmd += ["--max-len", str(args.max_len)]
                    if args.repeats:
                        cmd += ["--repeats", str(args.repeats)]
                    case = {"model": model, "mode": mode, "length": L, "dtype": dtype}
                    case_env = dict(env)
                    if args.omp_wait == "passive":
                        case_env["OMP_WAIT_POLICY"] = "PASSIVE"
                    elif args.omp_wait == "auto" and mode == "train":
                        layers = _config(model, args.max_len or L).layer_types
                        prefer_passive_openmp([L], layers, case_env, torch_loaded=False)  # what the CLI does
                    print(json.dumps(run_child(cmd, case_env, args.timeout, case)), flush=True)


if __name__ == "__main__":
    main()
