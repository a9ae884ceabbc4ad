"""genoseq's hyenadna-tiny beside a plain-PyTorch HyenaDNA model (``hyenadna_reference.py``), in one run.

The issue's targets are ratios to the original HyenaDNA code (>= 3x its tokens/s, <= half its training
peak RSS, 1M-token inference in <= 2 GB); its absolute reference points were measured at one time of day,
and this machine's pace moves by ~25% from hour to hour. So every round runs the baseline and genoseq one
after the other, each case in a fresh process, and prints the ratios of that round.

Before timing, the baseline is checked to compute the same function as genoseq (weights copied from a
genoseq model, float64 logits at L = 512, with genoseq's exact GELU; a ``check`` line with the largest
difference). The timed baseline uses HyenaDNA's tanh-approximated GELU.

Prints JSON lines: ``check``; one ``run`` line per process (``impl`` reference or genoseq, tokens/s, CPU
seconds, peak RSS); one ``ratio`` line per round and case (genoseq tokens/s over the baseline's, and peak RSS
genoseq / baseline).

    python benchmarks/bench_hyenadna_reference.py                       # train 32k, 131k; infer 1M; 2 rounds
    python benchmarks/bench_hyenadna_reference.py --cases train:32768 --rounds 3 --dtypes bf16
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys

from bench_models import run_child, time_last, train_step  # this directory: the script's own sys.path entry

HERE = os.path.dirname(os.path.abspath(__file__))


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def reference_child(mode: str, length: int, dtype: str, threads: int, repeats: int) -> dict:
    """Time the baseline in this process (training: forward + backward of the next-token loss)."""
    import torch
    from hyenadna_reference import HyenaDNALM

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = HyenaDNALM(max_len=length)
    ids = torch.randint(5, 9, (1, length))
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16")

    def run() -> None:
        if mode == "train":
            train_step(model, ids, autocast)
        else:
            model.eval()
            with torch.no_grad(), autocast:
                model(ids)

    seconds, cpu = time_last(run, repeats)  # as bench_models times genoseq
    return {"impl": "reference", "mode": mode, "length": length, "dtype": dtype,
            "tokens_per_s": round(length / seconds, 1), "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "threads": threads, "omp_wait": os.environ.get("OMP_WAIT_POLICY", "default")}


def check_same_function() -> float:
    """Largest |logit difference| between genoseq and the baseline with genoseq's weights, float64, L = 512."""
    import torch
    from hyenadna_reference import HyenaDNALM, copy_from_genoseq

    from genoseq.model.build import build_model

    L = 512
    torch.manual_seed(0)
    model = build_model("hyenadna-tiny").double().eval()
    ref = HyenaDNALM(max_len=model.config.max_len, gelu_approximate="none").double().eval()
    copy_from_genoseq(ref, model)
    ids = torch.randint(5, 9, (2, L))
    with torch.no_grad():
        ours = model(ids)  # (2, L, real vocab)
        theirs = ref(ids)[..., : ours.shape[-1]]
    return float((ours - theirs).abs().max())


def run_case(cmd: list[str], env: dict, timeout: int, case: dict) -> dict | None:
    """A child's result (bench_models.run_child), or None after printing an error line when it failed."""
    result = run_child(cmd, env, timeout, case)
    if "error" in result:
        emit(kind="error", **result)
        return None
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", default="train:32768,train:131072,infer:1048576",
                   help="comma list of mode:length (mode train or infer)")
    p.add_argument("--dtypes", default="bf16,fp32", help="genoseq's precisions (each against the same baseline)")
    p.add_argument("--reference-dtype", default="fp32", choices=["fp32", "bf16"],
                   help="the baseline's precision (the issue's reference points are float32)")
    p.add_argument("--reference-omp-wait", default="default", choices=["default", "passive"],
                   help="OMP_WAIT_POLICY of the baseline's process (default: OpenMP as configured)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--timeout", type=int, default=1200, help="seconds per process")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.child:  # mode:length:dtype:repeats
        mode, length, dtype, repeats = args.child.split(":")
        emit(**reference_child(mode, int(length), dtype, args.threads, int(repeats)))
        return

    cases = []
    for case in args.cases.split(","):
        mode, _, length = case.partition(":")
        if mode not in ("train", "infer") or not length.isdigit() or int(length) < 2:
            p.error(f"--cases: expected mode:length with mode train or infer and length >= 2, got {case!r}")
        cases.append((mode, int(length)))
    for dtype in args.dtypes.split(","):
        if dtype not in ("bf16", "fp32"):
            p.error(f"--dtypes: expected bf16 and/or fp32, got {dtype!r}")
    emit(kind="check", max_abs_logit_diff_float64=check_same_function())
    env = dict(os.environ)
    ref_env = dict(env)
    ref_env.pop("OMP_WAIT_POLICY", None)
    if args.reference_omp_wait == "passive":
        ref_env["OMP_WAIT_POLICY"] = "PASSIVE"
    for rnd in range(1, args.rounds + 1):
        for mode, L in cases:
            repeats = 2 if mode == "train" else 1  # training: a warm step; inference: one whole forward
            ref = run_case([sys.executable, __file__, "--threads", str(args.threads),
                            "--child", f"{mode}:{L}:{args.reference_dtype}:{repeats}"], ref_env, args.timeout,
                           {"impl": "reference", "mode": mode, "length": L, "dtype": args.reference_dtype})
            if ref:
                emit(kind="run", round=rnd, **ref)
            for dtype in args.dtypes.split(","):
                ours = run_case([sys.executable, os.path.join(HERE, "bench_models.py"), "--models", "hyenadna-tiny",
                                 "--modes", mode, "--lengths", str(L), "--dtypes", dtype, "--max-len", str(L),
                                 "--threads", str(args.threads), "--repeats", str(repeats)], env, args.timeout,
                                {"impl": "genoseq", "mode": mode, "length": L, "dtype": dtype})
                if not ours:
                    continue
                emit(kind="run", round=rnd, impl="genoseq", **{k: ours[k] for k in (
                    "mode", "length", "dtype", "tokens_per_s", "seconds", "cpu_seconds", "peak_rss_mb", "threads",
                    "omp_wait", "allocator")})
                if ref:
                    emit(kind="ratio", round=rnd, mode=mode, length=L, genoseq_dtype=dtype,
                         reference_dtype=args.reference_dtype,
                         speedup=round(ours["tokens_per_s"] / ref["tokens_per_s"], 2),
                         rss_ratio=round(ours["peak_rss_mb"] / ref["peak_rss_mb"], 3))


if __name__ == "__main__":
    main()
