"""Benchmark the Mamba scans on CPU: chunked selective_scan / ssd against their sequential oracles.

Prints one JSON object per line: op, impl, L, dtype, pass ("fwd" or "fwd+bwd"), seconds, tokens/s.

    python benchmarks/bench_scans.py                       # L = 8192 and 32768, float32 and bf16
    python benchmarks/bench_scans.py --lengths 8192 --dtypes float32 --no-ref
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from genoseq.ops.selective_scan import selective_scan, selective_scan_ref
from genoseq.ops.ssd import ssd, ssd_sequential

DTYPES = {"float32": torch.float32, "bf16": torch.bfloat16, "float64": torch.float64}


def scan_inputs(length: int, d_inner: int, d_state: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "u": torch.randn(1, d_inner, length, generator=g).to(dtype),
        "delta": (torch.randn(1, d_inner, length, generator=g) * 0.5 - 3).to(dtype),
        "A": -torch.arange(1, d_state + 1.0).repeat(d_inner, 1).to(dtype),
        "B": torch.randn(1, d_state, length, generator=g).to(dtype),
        "C": torch.randn(1, d_state, length, generator=g).to(dtype),
        "D": torch.ones(d_inner).to(dtype),
        "z": torch.randn(1, d_inner, length, generator=g).to(dtype),
        "delta_bias": torch.zeros(d_inner).to(dtype),
    }


def ssd_inputs(
    length: int, d_inner: int, head_dim: int, d_state: int, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    heads = d_inner // head_dim
    return {
        "x": torch.randn(1, length, heads, head_dim, generator=g).to(dtype),
        "dt": torch.nn.functional.softplus(torch.randn(1, length, heads, generator=g) - 3).to(dtype),
        "A": -torch.linspace(1, 16, heads).to(dtype),
        "B": torch.randn(1, length, 1, d_state, generator=g).to(dtype),
        "C": torch.randn(1, length, 1, d_state, generator=g).to(dtype),
        "D": torch.ones(heads).to(dtype),
    }


def timed(fn, inputs: dict[str, torch.Tensor], backward: bool, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        leaves = {k: v.clone().requires_grad_(backward and v.is_floating_point()) for k, v in inputs.items()}
        start = time.perf_counter()
        with torch.set_grad_enabled(backward):
            y = fn(**leaves)
            if backward:
                y.float().square().mean().backward()
        best = min(best, time.perf_counter() - start)
    return best


def report(op: str, impl: str, length: int, dtype: str, mode: str, seconds: float, extra: dict) -> None:
    row = {"op": op, "impl": impl, "L": length, "dtype": dtype, "pass": mode, "seconds": round(seconds, 4)}
    row["tokens_per_s"] = round(length / seconds)
    row.update(extra)
    print(json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[8192, 32768])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bf16"], choices=sorted(DTYPES))
    parser.add_argument("--d-inner", type=int, default=256)
    parser.add_argument("--d-state", type=int, default=16)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--chunk-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-ref", action="store_true", help="skip the sequential oracles")
    parser.add_argument("--no-backward", action="store_true")
    parser.add_argument("--ops", nargs="+", default=["selective_scan", "ssd"])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    shape = {"d_inner": args.d_inner, "d_state": args.d_state, "threads": torch.get_num_threads()}
    for length in args.lengths:
        for dname in args.dtypes:
            dtype = DTYPES[dname]
            if "selective_scan" in args.ops:
                inp = scan_inputs(length, args.d_inner, args.d_state, dtype)

                def fast(**kw):
                    return selective_scan(**kw, delta_softplus=True, chunk_size=args.chunk_size)

                def ref(**kw):
                    return selective_scan_ref(**kw, delta_softplus=True)

                report(
                    "selective_scan",
                    "chunked",
                    length,
                    dname,
                    "fwd",
                    timed(fast, inp, False, args.repeats),
                    shape,
                )
                if not args.no_backward:
                    sec = timed(fast, inp, True, args.repeats)
                    report("selective_scan", "chunked", length, dname, "fwd+bwd", sec, shape)
                if not args.no_ref:
                    report(
                        "selective_scan",
                        "sequential_ref",
                        length,
                        dname,
                        "fwd",
                        timed(ref, inp, False, 1),
                        shape,
                    )
            if "ssd" in args.ops:
                inp = ssd_inputs(length, args.d_inner, args.head_dim, args.d_state, dtype)
                ssd_shape = {**shape, "head_dim": args.head_dim}

                def fast_ssd(**kw):
                    return ssd(**kw, chunk_size=args.chunk_size)

                report(
                    "ssd",
                    "chunked",
                    length,
                    dname,
                    "fwd",
                    timed(fast_ssd, inp, False, args.repeats),
                    ssd_shape,
                )
                if not args.no_backward:
                    sec = timed(fast_ssd, inp, True, args.repeats)
                    report("ssd", "chunked", length, dname, "fwd+bwd", sec, ssd_shape)
                if not args.no_ref:
                    sec = timed(ssd_sequential, inp, False, 1)
                    report("ssd", "sequential_ref", length, dname, "fwd", sec, ssd_shape)


if __name__ == "__main__":
    main()
