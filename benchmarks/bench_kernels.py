"""Triton kernels vs the PyTorch paths: time, TFLOP/s and GB/s, one JSON line per measurement.

    python benchmarks/bench_kernels.py                      # all ops, L = 4k, 32k, 131k, 1M, d = 768, 1024
    python benchmarks/bench_kernels.py --ops ssd --lengths 131072 --d 1024 --backward

Batch 8, bf16 inputs (fp32 parameters). FLOPs and bytes are the *algorithmic minimum* of each op (see
kernels/README.md for the formulas), so GB/s compares how close each implementation gets to moving only the
bytes it must. Shapes that do not fit in GPU memory print {"skipped": "out of memory"}. Needs CUDA: on a
machine without a GPU it prints one "needs CUDA" line and exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import sys


def _inputs(op: str, b: int, d: int, L: int, dev, dt):
    import torch

    def r(*shape, dtype=dt, scale=1.0):
        return torch.randn(*shape, device=dev, dtype=dtype) * scale

    if op == "long_conv":  # Hyena: d channels, causal filter of length L, both gates and skip
        return dict(u=r(b, d, L), k=r(d, L, dtype=torch.float32, scale=0.02), skip=r(d, dtype=torch.float32),
                    pre_gate=r(b, d, L), post_gate=r(b, d, L))
    if op == "short_conv":  # Mamba in_proj output: 2d channels, K = 4, SiLU
        return dict(x=r(b, 2 * d, L), weight=r(2 * d, 4, dtype=torch.float32), bias=r(2 * d, dtype=torch.float32),
                    activation="silu")
    if op == "selective_scan":  # Mamba-1: d_inner = 2d, N = 16
        Dm, N = 2 * d, 16
        return dict(u=r(b, Dm, L), delta=r(b, Dm, L, scale=0.5), A=-torch.rand(Dm, N, device=dev) - 0.5,
                    B=r(b, N, L), C=r(b, N, L), D=r(Dm, dtype=torch.float32), z=r(b, Dm, L),
                    delta_bias=r(Dm, dtype=torch.float32), delta_softplus=True)
    if op == "ssd":  # Mamba-2: d_inner = 2d, head_dim 64, d_state 64, one group
        H, P, N = 2 * d // 64, 64, 64
        return dict(x=r(b, L, H, P), dt=torch.rand(b, L, H, device=dev, dtype=torch.float32) * 0.1,
                    A=-torch.rand(H, device=dev) - 0.5, B=r(b, L, 1, N), C=r(b, L, 1, N),
                    D=r(H, dtype=torch.float32))
    raise ValueError(op)


def cost(op: str, b: int, d: int, L: int) -> tuple[float, float]:
    """(algorithmic FLOPs, minimum HBM bytes) of one forward call, bf16 activations."""
    if op == "long_conv":
        n = 2 ** math.ceil(math.log2(2 * L))
        flops = b * d * (2 * 2.5 * n * math.log2(n) + 6 * n)  # forward + inverse real FFT, complex product
        return flops, 2 * (4 * b * d * L) + 4 * d * L  # u, pre, post, y (bf16) + filter (fp32)
    if op == "short_conv":
        c = 2 * d
        return b * c * L * (2 * 4 + 5), 2 * (2 * b * c * L)  # x in, y out
    if op == "selective_scan":
        Dm, N = 2 * d, 16
        return b * Dm * L * (N * 9 + 10), 2 * (4 * b * Dm * L + 2 * b * N * L)  # u, delta, z, y + B, C
    if op == "ssd":
        H, P, N, Q = 2 * d // 64, 64, 64, 32
        per_token = 2 * Q * (N + P) + 4 * N * P  # C B^T, M x, C h^T, state update
        return b * L * H * per_token, 2 * (2 * b * L * H * P + 2 * b * L * N) + 4 * b * L * H
    raise ValueError(op)


def _fns(op: str):
    # the PyTorch paths (genoseq.ops.<op> itself is the dispatcher)
    from genoseq.ops.fftconv import long_conv as torch_long_conv
    from genoseq.ops.selective_scan import selective_scan as torch_selective_scan
    from genoseq.ops.short_conv import short_conv as torch_short_conv
    from genoseq.ops.ssd import ssd as torch_ssd

    torch_fn = {"long_conv": torch_long_conv, "short_conv": torch_short_conv,
                "selective_scan": torch_selective_scan, "ssd": torch_ssd}[op]
    from genoseq_kernels import long_conv, selective_scan, short_conv, ssd

    triton_fn = {"long_conv": long_conv.long_conv, "short_conv": short_conv.short_conv,
                 "selective_scan": selective_scan.selective_scan, "ssd": ssd.ssd}[op]
    return {"torch": torch_fn, "triton": triton_fn}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", default="long_conv,short_conv,selective_scan,ssd")
    parser.add_argument("--lengths", default="4096,32768,131072,1048576")
    parser.add_argument("--d", default="768,1024")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--backward", action="store_true", help="time forward + backward")
    parser.add_argument("--impls", default="torch,triton")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print(json.dumps({"bench": "kernels", "skipped": "needs CUDA (no GPU visible); nothing measured"}))
        return 0
    from triton.testing import do_bench

    dev = torch.device("cuda")
    for op in args.ops.split(","):
        fns = _fns(op)
        for d in (int(x) for x in args.d.split(",")):
            for L in (int(x) for x in args.lengths.split(",")):
                flops, nbytes = cost(op, args.batch, d, L)
                for impl in args.impls.split(","):
                    row = {"bench": "kernels", "op": op, "impl": impl, "batch": args.batch, "d": d, "L": L,
                           "dtype": "bfloat16", "backward": args.backward,
                           "device": torch.cuda.get_device_name()}
                    try:
                        kw = _inputs(op, args.batch, d, L, dev, torch.bfloat16)
                        if args.backward:
                            for v in kw.values():
                                if isinstance(v, torch.Tensor) and v.is_floating_point():
                                    v.requires_grad_(True)

                        def call(fn=fns[impl], kw=kw):
                            out = fn(**kw)
                            out = out[0] if isinstance(out, tuple) else out
                            if args.backward:
                                out.float().sum().backward()
                            return out

                        ms = do_bench(call, warmup=5, rep=50)
                        row.update(ms=round(ms, 4), tflops=round(flops / ms / 1e9, 3),
                                   gbps=round(nbytes / ms / 1e6, 1), min_bytes=nbytes, flops=flops)
                    except torch.cuda.OutOfMemoryError:
                        row["skipped"] = "out of memory"
                    except Exception as exc:  # noqa: BLE001 - one failed shape must not stop the sweep
                        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
                    finally:
                        kw = None
                        torch.cuda.empty_cache()
                    print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
