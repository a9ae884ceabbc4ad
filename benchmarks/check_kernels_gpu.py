"""Check the Triton kernels on a CUDA GPU against the PyTorch paths in float64, forward and backward.

    python benchmarks/check_kernels_gpu.py            # every kernel, small to long shapes, fp32 and bf16
    python benchmarks/check_kernels_gpu.py --quick    # fewer shapes

The interpreter tests (tests/kernels) cover small shapes on CPU; this script covers what only a GPU can:
compiled code at long lengths (the 3- and 5-pass long_conv plans, many scan chunks), bf16 inputs, state
chaining, and a whole hybrid model routed through the kernels by the dispatcher. Each check prints one JSON
line ``{"check", "shape", "dtype", "tensor", "rel_rmse", "tol", "ok"}``; the last line sums up. The oracle
is the PyTorch path on float64 copies of the same (already rounded) inputs, on the GPU. Tolerances are
relative RMSE: fp32 inputs 2e-3 (tl.dot may use tf32 on tensor cores), bf16 inputs 3e-2. Exit status 1 if
any check fails. Needs CUDA: without a GPU it prints one line and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

TOL = {"float32": 2e-3, "bfloat16": 3e-2}
failures: list[str] = []


def rel_rmse(got, ref) -> float:
    """||got - ref|| / ||ref||; where the exact gradient is zero (dA at L = 1 with no initial state), the
    error is taken relative to sqrt(numel) instead, so fp32 rounding residue (~1e-7) does not read as 1e23."""
    ref = ref.double()
    scale = ref.norm() if ref.norm() > 0 else ref.numel() ** 0.5
    return ((got.double() - ref).norm() / scale).item()


def report(check: str, shape: str, dtype: str, tensor: str, err: float, tol: float) -> None:
    ok = bool(err == err and err < tol)  # NaN never passes
    if not ok:
        failures.append(f"{check} {shape} {dtype} {tensor}: {err:.3g} >= {tol:g}")
    print(json.dumps({"check": check, "shape": shape, "dtype": dtype, "tensor": tensor,
                      "rel_rmse": float(f"{err:.3g}"), "tol": tol, "ok": ok}), flush=True)


def compare(check: str, shape: str, dtype, fast: Callable, ref: Callable, inputs: dict, grad_names: list[str]):
    """Run fast(**inputs in dtype) and ref(**inputs in float64); compare outputs and input gradients."""
    import torch

    name = str(dtype).replace("torch.", "")
    tol = TOL[name]
    low = {k: (v.to(dtype) if torch.is_tensor(v) and v.dtype == torch.float64 and k not in _FP32_ARGS else
               v.float() if torch.is_tensor(v) and v.dtype == torch.float64 else v) for k, v in inputs.items()}
    for k in grad_names:
        low[k] = low[k].detach().requires_grad_(True)
    high = {k: (v.to(low[k].dtype).double() if torch.is_tensor(v) else v) for k, v in inputs.items()}
    for k in grad_names:
        high[k] = high[k].detach().requires_grad_(True)
    out = fast(**low)
    out = out[0] if isinstance(out, tuple) else out
    out_ref = ref(**high)
    out_ref = out_ref[0] if isinstance(out_ref, tuple) else out_ref
    report(check, shape, name, "y", rel_rmse(out, out_ref), tol)
    gy = torch.randn_like(out_ref)
    grads = torch.autograd.grad(out.float(), [low[k] for k in grad_names], gy.float())
    grads_ref = torch.autograd.grad(out_ref, [high[k] for k in grad_names], gy)
    for k, g, gr in zip(grad_names, grads, grads_ref, strict=True):
        report(check, shape, name, "d" + k, rel_rmse(g, gr), tol)


# parameters that stay float32 whatever the activation dtype (as in the models)
_FP32_ARGS = {"k", "skip", "weight", "bias", "A", "D", "delta_bias", "dt"}


def check_long_conv(dev, lengths, dtypes) -> None:
    import torch
    from genoseq_kernels.long_conv import long_conv as fast

    from genoseq.ops.fftconv import long_conv as ref

    for L in lengths:
        for bidirectional in (False, True):
            B, H = (2, 8) if L >= 1 << 19 else (3, 16)
            kl = 2 * L - 1 if bidirectional else L
            for dtype in dtypes:
                ins = dict(u=torch.randn(B, H, L, device=dev, dtype=torch.float64),
                           k=torch.randn(H, kl, device=dev, dtype=torch.float64) / L ** 0.5,
                           skip=torch.randn(H, device=dev, dtype=torch.float64),
                           pre_gate=torch.randn(B, H, L, device=dev, dtype=torch.float64),
                           post_gate=torch.randn(B, H, L, device=dev, dtype=torch.float64),
                           bidirectional=bidirectional)
                compare("long_conv" + ("_bidir" if bidirectional else ""), f"B{B} H{H} L{L}", dtype, fast, ref,
                        ins, ["u", "k", "skip", "pre_gate", "post_gate"])


def check_short_conv(dev, lengths, dtypes) -> None:
    import torch
    from genoseq_kernels.short_conv import short_conv as fast

    from genoseq.ops.short_conv import short_conv as ref

    for L in lengths:
        for K in (2, 4):
            for dtype in dtypes:
                B, C = 2, 96
                ins = dict(x=torch.randn(B, C, L, device=dev, dtype=torch.float64),
                           weight=torch.randn(C, K, device=dev, dtype=torch.float64),
                           bias=torch.randn(C, device=dev, dtype=torch.float64),
                           gate=torch.randn(B, C, L, device=dev, dtype=torch.float64),
                           state=torch.randn(B, C, K - 1, device=dev, dtype=torch.float64),
                           activation="silu")
                compare("short_conv", f"B{B} C{C} L{L} K{K}", dtype, fast, ref, ins,
                        ["x", "weight", "bias", "gate", "state"])


def _scan_inputs(dev, B, Dm, L, N, G):
    import torch

    f = dict(device=dev, dtype=torch.float64)
    return dict(u=torch.randn(B, Dm, L, **f), delta=torch.randn(B, Dm, L, **f) * 0.5,
                A=-torch.rand(Dm, N, **f) - 0.5, B=torch.randn(B, G, N, L, **f), C=torch.randn(B, G, N, L, **f),
                D=torch.randn(Dm, **f), z=torch.randn(B, Dm, L, **f), delta_bias=torch.randn(Dm, **f) * 0.1,
                delta_softplus=True)


def check_selective_scan(dev, lengths, dtypes, chain_len: int = 4096) -> None:
    import torch
    from genoseq_kernels.selective_scan import selective_scan as fast

    from genoseq.ops.selective_scan import selective_scan as ref

    for L in lengths:
        for N, G in ((16, 1), (16, 2)):
            for dtype in dtypes:
                B, Dm = 2, 64
                ins = _scan_inputs(dev, B, Dm, L, N, G)
                compare("selective_scan", f"B{B} D{Dm} L{L} N{N} G{G}", dtype, fast, ref, ins,
                        ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"])
    # state chaining: two calls carrying the state == one call (fp32)
    ins = {k: (v.float() if torch.is_tensor(v) else v) for k, v in _scan_inputs(dev, 2, 64, chain_len, 16, 1).items()}
    whole = fast(**ins)
    h = None
    parts = []
    for sl in (slice(0, chain_len // 3), slice(chain_len // 3, chain_len)):
        part = {k: (v[..., sl] if torch.is_tensor(v) and v.dim() >= 3 else v) for k, v in ins.items()}
        y, h = fast(**part, initial_state=h, return_final_state=True)
        parts.append(y)
    report("selective_scan_chain", f"L{chain_len // 3}+{chain_len - chain_len // 3}", "float32", "y", rel_rmse(torch.cat(parts, -1), whole), 1e-5)


def _ssd_inputs(dev, B, L, H, P, G, N):
    import torch

    f = dict(device=dev, dtype=torch.float64)
    return dict(x=torch.randn(B, L, H, P, **f), dt=torch.rand(B, L, H, **f) * 0.1 + 1e-3,
                A=-torch.rand(H, **f) - 0.5, B=torch.randn(B, L, G, N, **f), C=torch.randn(B, L, G, N, **f),
                D=torch.randn(H, **f))


def check_ssd(dev, lengths, dtypes, chain_len: int = 4096) -> None:
    import torch
    from genoseq_kernels.ssd import ssd as fast

    from genoseq.ops.ssd import ssd as ref

    for L in lengths:
        for H, P, G, N in ((4, 64, 1, 64), (4, 32, 2, 16)):
            for dtype in dtypes:
                B = 2
                ins = _ssd_inputs(dev, B, L, H, P, G, N)
                compare("ssd", f"B{B} L{L} H{H} P{P} G{G} N{N}", dtype, fast, ref, ins, ["x", "dt", "A", "B", "C", "D"])
    ins = {k: v.float() for k, v in _ssd_inputs(dev, 2, chain_len, 4, 64, 1, 64).items()}
    whole = fast(**ins)
    h = None
    parts = []
    for sl in (slice(0, chain_len // 3), slice(chain_len // 3, chain_len)):
        part = {k: (v[:, sl] if v.dim() >= 3 else v) for k, v in ins.items()}
        y, h = fast(**part, initial_state=h, return_final_state=True)
        parts.append(y)
    report("ssd_chain", f"L{chain_len // 3}+{chain_len - chain_len // 3}", "float32", "y", rel_rmse(torch.cat(parts, 1), whole), 1e-4)


def check_model(dev) -> None:
    """A tiny H/M/S/A hybrid: logits and every parameter gradient, kernels (auto on CUDA) vs torch paths."""
    import torch

    from genoseq import ModelConfig, build_model
    from genoseq.ops import _dispatch

    torch.manual_seed(0)
    cfg = ModelConfig(d_model=64, n_layer=4, layer_pattern="HMSA", max_len=2048)
    model = build_model(cfg).to(dev)
    ids = torch.randint(0, 12, (2, 2048), device=dev)
    results = {}
    for impl in ("torch", "triton"):
        _dispatch.set_impl(None, impl)
        model.zero_grad()
        logits = model(ids)
        logits = logits.logits if hasattr(logits, "logits") else logits
        logits.float().square().mean().backward()
        results[impl] = (logits.detach().float(), [p.grad.detach().clone() for p in model.parameters()])
    _dispatch.set_impl(None, None)
    report("model_hybrid_HMSA", "B2 L2048 d64", "float32", "logits",
           rel_rmse(results["triton"][0], results["torch"][0]), TOL["float32"])
    num = sum((a - b).double().square().sum() for a, b in zip(results["triton"][1], results["torch"][1], strict=True))
    den = sum(b.double().square().sum() for b in results["torch"][1])
    report("model_hybrid_HMSA", "B2 L2048 d64", "float32", "all_param_grads", float((num / den).sqrt()),
           TOL["float32"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ops", default="long_conv,short_conv,selective_scan,ssd,model")
    parser.add_argument("--cpu-dry-run", action="store_true",
                        help="tiny shapes on CPU through the Triton interpreter (TRITON_INTERPRET=1): checks this script")
    args = parser.parse_args(argv)
    import torch

    if args.cpu_dry_run:
        dev = torch.device("cpu")
        small = [1, 7, 64]
        plan = {"long_conv": lambda: check_long_conv(dev, small, [torch.float32]),
                "short_conv": lambda: check_short_conv(dev, small, [torch.float32]),
                "selective_scan": lambda: check_selective_scan(dev, small, [torch.float32], chain_len=100),
                "ssd": lambda: check_ssd(dev, small, [torch.float32], chain_len=100),
                "model": lambda: None}
        for op in args.ops.split(","):
            plan[op]()
        print(json.dumps({"check": "summary", "device": "cpu (interpreter)", "failures": failures}))
        return 1 if failures else 0
    if not torch.cuda.is_available():
        print(json.dumps({"check": "kernels_gpu", "skipped": "needs CUDA (no GPU visible)"}))
        return 0
    torch.manual_seed(0)
    dev = torch.device("cuda")
    dtypes = [torch.float32, torch.bfloat16]
    short = [1, 7, 300, 4096] if args.quick else [1, 7, 300, 4096, 65537, 1 << 20]
    longs = [1, 300, 4097, 131072] if args.quick else [1, 2, 300, 1000, 4097, 65536, 131072, 1 << 20, 1 << 21]
    scans = [1, 130, 4096] if args.quick else [1, 130, 4096, 65536, 262144]
    ops = args.ops.split(",")
    plan = {"long_conv": lambda: check_long_conv(dev, longs, dtypes),
            "short_conv": lambda: check_short_conv(dev, short, dtypes),
            "selective_scan": lambda: check_selective_scan(dev, scans, dtypes),
            "ssd": lambda: check_ssd(dev, scans, dtypes),
            "model": lambda: check_model(dev)}
    for op in ops:
        try:
            plan[op]()
        except Exception as exc:  # noqa: BLE001 - report and go on with the other kernels
            failures.append(f"{op}: {type(exc).__name__}: {exc}"[:400])
            print(json.dumps({"check": op, "error": f"{type(exc).__name__}: {exc}"[:400]}), flush=True)
        torch.cuda.empty_cache()
    print(json.dumps({"check": "summary", "device": torch.cuda.get_device_name(), "torch": torch.__version__,
                      "failures": failures}), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
