"""genoseq Mamba-2 vs the ``transformers`` Mamba2ForCausalLM torch slow path: CPU training step, same shape.

    pip install -e ".[bench]"                       # transformers (optional, benchmark only)
    python benchmarks/bench_mamba_hf.py             # L = 1k, 8k, 32k; fp32 and bf16 autocast (~15 min)
    python benchmarks/bench_mamba_hf.py --lengths 32768 --dtypes fp32 --rounds 2

Shape: ``bench-mamba2`` of benchmarks/bench_models.py (4 x S layers, d_model 128, d_state 64, head_dim 32,
expand 2, n_groups 1, d_conv 4, chunk 64, no MLP, RMSNorm, tied 16-row embedding) and the same
Mamba2Config (vocab 16 = genoseq's padded table, tie_word_embeddings, residual_in_fp32). The script first
checks, in process at L = 300: which path transformers takes (mamba_ssm / causal_conv1d / hub kernels must be
absent, so its functions are the reference torch ones), that the parameter counts are equal, and that with
genoseq's weights copied into the HF model both give the same hidden states (max abs difference printed).

Timing: each (model, L, dtype) case runs in a fresh child process (2 threads, batch 1); a training step =
forward + backward of the next-token loss (cross entropy of logits[:-1] vs ids[1:]), under
``torch.autocast("cpu", bfloat16)`` for bf16, with the default OpenMP wait policy (``--omp-passive`` sets
OMP_WAIT_POLICY=PASSIVE). After one warm-up step the child times ``--repeats`` steps (x 8192 / L for
L < 8192, at most 16) and reports the best wall time, its process CPU seconds and the peak RSS
(``ru_maxrss``). The two models alternate (genoseq, HF, genoseq, HF ... for ``--rounds``) so that load from
other processes hits both alike.
JSON lines: one per case, then one "ratio" line per (L, dtype) with genoseq / transformers for tokens per
wall second and tokens per CPU second (the fairer figure on a shared machine), and the load average.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time

from bench_models import run_child  # this directory: the script's own sys.path entry

os.environ.setdefault("USE_HUB_KERNELS", "0")  # transformers: never fetch kernels from the Hub
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHAPE = {"d_model": 128, "n_layer": 4, "layer_pattern": "S", "mlp_type": "none", "norm": "rmsnorm",
         "mamba2": {"d_state": 64, "head_dim": 32, "expand": 2, "chunk_size": 64, "d_conv": 4, "n_groups": 1}}
FAST_PACKAGES = ("mamba_ssm", "causal_conv1d")  # CPU-incapable fast paths transformers would take on CUDA
# (the Hub ``kernels`` package, a dependency of transformers >= 5, is kept off by USE_HUB_KERNELS=0 above)


def genoseq_model(chunk_size: int | None = None):
    from genoseq.model.build import build_model
    from genoseq.model.config import ModelConfig

    shape = json.loads(json.dumps(SHAPE))
    if chunk_size:
        shape["mamba2"]["chunk_size"] = chunk_size
    return build_model(ModelConfig.from_dict(shape))


def hf_model(chunk_size: int | None = None):
    from transformers import Mamba2Config, Mamba2ForCausalLM

    m2 = SHAPE["mamba2"]
    d_inner = m2["expand"] * SHAPE["d_model"]
    cfg = Mamba2Config(
        vocab_size=16, hidden_size=SHAPE["d_model"], num_hidden_layers=SHAPE["n_layer"], state_size=m2["d_state"],
        expand=m2["expand"], head_dim=m2["head_dim"], num_heads=d_inner // m2["head_dim"], n_groups=m2["n_groups"],
        conv_kernel=m2["d_conv"], chunk_size=chunk_size or m2["chunk_size"], tie_word_embeddings=True,
        use_cache=False, layer_norm_epsilon=1e-5, residual_in_fp32=True,
    )
    return Mamba2ForCausalLM(cfg)


def hf_path() -> dict:
    """Which implementation each kernel-dispatching function of transformers' Mamba-2 resolved to."""
    from transformers.models.mamba2 import modeling_mamba2 as mm

    def closure_cells(fn) -> dict:
        # transformers >= 5.2x wraps the dispatching function in a Func module whose forward closes over it
        if not hasattr(fn, "__code__") and hasattr(fn, "forward"):
            inner = dict(zip(fn.forward.__code__.co_freevars, fn.forward.__closure__ or (), strict=True))
            fn = inner["func"].cell_contents if "func" in inner else fn.forward
        return dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True))

    paths = {}
    for name in ("mamba2_chunk_scan", "causal_conv1d_fn", "mamba2_split_conv1d_scan_combined"):
        cells = closure_cells(getattr(mm, name))
        impl = cells["implementation"].cell_contents if "implementation" in cells else None
        torch_fn = cells["torch_function"].cell_contents if "torch_function" in cells else None
        paths[name] = "torch" if impl is not None and impl is torch_fn else f"{getattr(impl, '__module__', impl)}"
    installed = [p for p in FAST_PACKAGES if importlib.util.find_spec(p) is not None]
    return {"transformers_paths": paths, "fast_packages_installed": installed,
            "hub_kernels": os.environ.get("USE_HUB_KERNELS"),
            "slow_path": not installed and all(v == "torch" for v in paths.values())}


def copy_weights(g, h) -> None:
    """genoseq model g -> transformers Mamba2ForCausalLM h (same shape)."""
    import torch

    sd = {"backbone.embeddings.weight": g.backbone.embedding.weight,
          "backbone.norm_f.weight": g.backbone.norm_f.weight}
    for i, blk in enumerate(g.backbone.blocks):
        mx, p = blk.mixer, f"backbone.layers.{i}."
        sd |= {p + "norm.weight": blk.norm1.weight, p + "mixer.in_proj.weight": mx.in_proj.weight,
               p + "mixer.conv1d.weight": mx.conv_weight[:, None, :], p + "mixer.conv1d.bias": mx.conv_bias,
               p + "mixer.dt_bias": mx.dt_bias, p + "mixer.A_log": mx.A_log, p + "mixer.D": mx.D,
               p + "mixer.norm.weight": mx.norm_weight, p + "mixer.out_proj.weight": mx.out_proj.weight}
    with torch.no_grad():
        target = dict(h.named_parameters())
        for k, v in sd.items():
            target[k].copy_(v)


def check() -> dict:
    """Path, parameter counts and hidden-state agreement (genoseq weights copied into the HF model)."""
    import torch

    torch.manual_seed(0)
    g, h = genoseq_model(), hf_model()
    res = {"check": True, **hf_path(), "params_genoseq": sum(p.numel() for p in g.parameters()),
           "params_transformers": sum(p.numel() for p in h.parameters())}
    copy_weights(g, h)
    ids = torch.randint(5, 9, (1, 300))
    with torch.no_grad():
        a = g.backbone(ids)
        b = h.backbone(input_ids=ids, use_cache=False).last_hidden_state
    res["hidden_max_abs_diff_fp32"] = float((a - b).abs().max())
    res["hidden_max_abs"] = float(a.abs().max())
    return res


def child(args: argparse.Namespace) -> dict:
    import torch
    import torch.nn.functional as F

    from genoseq.cpu_allocator import tune_cpu_allocator

    tuned = args.allocator == "tuned" and tune_cpu_allocator()  # same setting for both models
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    L = args.length
    if args.model == "genoseq":
        model = genoseq_model(args.chunk_size)

        def logits_of(ids):
            return model(ids)
    else:
        model = hf_model(args.chunk_size)

        def logits_of(ids):
            return model(input_ids=ids, use_cache=False).logits

    model.train()
    ids = torch.randint(5, 9, (1, L))
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.dtype == "bf16")

    def step() -> None:
        with autocast:
            logits = logits_of(ids)  # (1, L, V)
            loss = F.cross_entropy(logits[0, :-1].float(), ids[0, 1:])
        loss.backward()
        model.zero_grad(set_to_none=True)

    best = None
    repeats = min(16, args.repeats * max(1, 8192 // L))  # short sequences: more steps (each is quick and noisy)
    for i in range(repeats + 1):  # the first run warms up caches and the allocator
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if i and (best is None or wall < best[0]):
            best = (wall, cpu)
    wall, cpu = best
    return {"model": args.model, "length": L, "dtype": args.dtype, "seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 3), "tokens_per_s": round(L / wall, 1), "tokens_per_cpu_s": round(L / cpu, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "params": sum(p.numel() for p in model.parameters()), "threads": args.threads,
            "load_avg_1m": round(os.getloadavg()[0], 2), "allocator": "tuned" if tuned else "default"}


def run_case(args: argparse.Namespace, model: str, L: int, dtype: str, env: dict) -> dict:
    cmd = [sys.executable, __file__, "--child", "--model", model, "--length", str(L), "--dtype", dtype,
           "--threads", str(args.threads), "--repeats", str(args.repeats), "--allocator", args.allocator]
    if args.chunk_size:
        cmd += ["--chunk-size", str(args.chunk_size)]
    return run_child(cmd, env, args.timeout, {"model": model, "length": L, "dtype": dtype})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", default="genoseq", help=argparse.SUPPRESS)
    p.add_argument("--length", type=int, default=1024, help=argparse.SUPPRESS)
    p.add_argument("--dtype", default="fp32", help=argparse.SUPPRESS)
    p.add_argument("--lengths", default="1024,8192,32768")
    p.add_argument("--dtypes", default="fp32,bf16")
    p.add_argument("--rounds", type=int, default=1, help="alternations genoseq, transformers per (L, dtype)")
    p.add_argument("--repeats", type=int, default=2, help="timed steps per child after one warm-up (best kept)")
    p.add_argument("--chunk-size", type=int, default=None, help="override the SSD chunk size of both models")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--timeout", type=int, default=1800, help="seconds per case")
    p.add_argument("--omp-passive", action="store_true",
                   help="OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning (on a shared machine "
                        "spinning inflates CPU seconds; it also slows code made of many small operations)")
    p.add_argument("--skip-check", action="store_true", help="skip the path / parameter / agreement check")
    p.add_argument("--allocator", default="default", choices=["tuned", "default"],
                   help="default: glibc as configured (the reference setup); tuned: "
                        "genoseq.cpu_allocator.tune_cpu_allocator() in both models' processes (as `genoseq "
                        "pretrain` runs; the transformers slow path gains 1.6-1.9x from it at 32k)")
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args)), flush=True)
        return
    if importlib.util.find_spec("transformers") is None:
        sys.exit("transformers is not installed: pip install -e '.[bench]'")
    print(json.dumps({"uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}),
          flush=True)
    if not args.skip_check:
        print(json.dumps(check()), flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    if args.omp_passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    for dtype in args.dtypes.split(","):
        for L in (int(x) for x in args.lengths.split(",")):
            best: dict[str, dict] = {}
            for _ in range(args.rounds):
                for model in ("genoseq", "transformers"):
                    r = run_case(args, model, L, dtype, env)
                    print(json.dumps(r), flush=True)
                    if "error" not in r and (model not in best or r["seconds"] < best[model]["seconds"]):
                        best[model] = r
            if len(best) == 2:
                g, h = best["genoseq"], best["transformers"]
                print(json.dumps({
                    "ratio": "genoseq/transformers", "length": L, "dtype": dtype,
                    "tokens_per_s": [g["tokens_per_s"], h["tokens_per_s"]],
                    "speedup_wall": round(g["tokens_per_s"] / h["tokens_per_s"], 2),
                    "tokens_per_cpu_s": [g["tokens_per_cpu_s"], h["tokens_per_cpu_s"]],
                    "speedup_cpu": round(g["tokens_per_cpu_s"] / h["tokens_per_cpu_s"], 2),
                    "peak_rss_mb": [g["peak_rss_mb"], h["peak_rss_mb"]],
                    "load_avg_1m": round(os.getloadavg()[0], 2)}), flush=True)
    print(json.dumps({"uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}),
          flush=True)


if __name__ == "__main__":
    main()
