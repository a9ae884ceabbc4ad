"""Ahead-of-time compile every kernel configuration the dispatcher can launch (no GPU needed).

For each configuration listed by a kernel module's ``aot_configs()`` and each target
(sm_80 = A100, sm_90 = H100) this runs ``triton.compile`` on an ``ASTSource``, and reads the
cubin's resource usage. Checks: compiles, 0 spill bytes, shared memory within
the device limit (164 KiB on sm_80, 227 KiB on sm_90). Registers and spills come from
``cuobjdump -res-usage`` on the cubin (spills = local + stack bytes per thread). ``wgmma`` says whether the sm_90 PTX uses
Hopper warpgroup MMA instructions.

    python -m genoseq_kernels.aot [--json] [--modules ssd,short_conv]   (also: genoseq doctor --compile)

Configurations compile in parallel (forked workers, $GENOSEQ_AOT_JOBS, default: the CPU count).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass

TARGETS = {80: 164 * 1024, 90: 227 * 1024}  # compute capability -> max shared memory per block (bytes)
MODULES = ("short_conv", "selective_scan", "ssd", "long_conv")


@dataclass
class AotResult:
    kernel: str
    config: str
    target: str
    registers: int
    spills: int
    shared_bytes: int
    wgmma: bool
    ok: bool
    error: str = ""


def find_ptxas(capability: int = 90) -> str:
    """Path of the ptxas triton uses for this compute capability (fails loudly when there is none)."""
    from triton.backends.nvidia.compiler import get_ptxas

    path = get_ptxas(capability).path
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("ptxas not found: triton's bundled backends/nvidia/bin/ptxas is missing; set "
                           "TRITON_PTXAS_PATH to a CUDA ptxas (AOT compilation needs it)")
    return path


def find_cuobjdump() -> str:
    """Path of the cuobjdump bundled with triton (or on PATH)."""
    import triton

    bundled = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    path = bundled if os.access(bundled, os.X_OK) else shutil.which("cuobjdump")
    if not path:
        raise RuntimeError("cuobjdump not found (triton's backends/nvidia/bin/cuobjdump is missing)")
    return path


def _signature(fn, dtype: str, fp32_ptrs, constexprs: dict) -> dict:
    sig = {}
    for param in fn.params:
        if param.name in constexprs or param.is_constexpr:
            sig[param.name] = "constexpr"
        elif param.name.endswith("_ptr"):
            sig[param.name] = "*fp32" if param.name in fp32_ptrs else f"*{dtype}"
        else:
            sig[param.name] = "i32"
    return sig


def _resource_usage(cubin: bytes) -> tuple[int, int]:
    """(registers per thread, local-memory bytes per thread) of the cubin's kernel.

    Triton kernels use local memory only for register spills, so 0 local bytes <=> no spills.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "k.cubin")
        with open(path, "wb") as f:
            f.write(cubin)
        out = subprocess.run([find_cuobjdump(), "-res-usage", path], capture_output=True, text=True, check=True)
    match = re.search(r"REG:(\d+) STACK:(\d+) SHARED:\d+ LOCAL:(\d+)", out.stdout)
    if match is None:
        raise RuntimeError(f"cannot parse cuobjdump -res-usage output: {out.stdout[:200]}")
    return int(match.group(1)), int(match.group(2)) + int(match.group(3))


def configurations(modules=MODULES) -> Iterator[tuple[str, dict]]:
    """(module name, config dict) for every distinct kernel configuration the launchers can pick."""
    import importlib

    seen = set()
    for name in modules:
        module = importlib.import_module(f"genoseq_kernels.{name}")
        for cfg in module.aot_configs():
            key = (cfg["fn"].__name__, cfg["dtype"], tuple(sorted(cfg["constexprs"].items())), cfg["num_warps"],
                   cfg.get("num_stages", 3))
            if key not in seen:
                seen.add(key)
                yield name, cfg


def compile_one(cfg: dict, capability: int, ptxas: str | None = None) -> AotResult:
    """Compile one configuration for one target and check it (``ptxas`` is unused: triton picks its own)."""
    import triton
    from triton.backends.compiler import GPUTarget

    fn = cfg["fn"]
    kernel = fn.__name__
    target = f"sm_{capability}"
    try:
        src = triton.compiler.ASTSource(fn=fn, signature=_signature(fn, cfg["dtype"], cfg["fp32_ptrs"],
                                                                    cfg["constexprs"]),
                                        constexprs=cfg["constexprs"])
        compiled = triton.compile(src, target=GPUTarget("cuda", capability, 32),
                                  options={"num_warps": cfg["num_warps"], "num_stages": cfg.get("num_stages", 3)})
        ptx = compiled.asm["ptx"]
        regs, spills = _resource_usage(compiled.asm["cubin"])
    except Exception as exc:  # noqa: BLE001 - reported as a failed row
        return AotResult(kernel, cfg["config"], target, 0, 0, 0, False, False, f"{type(exc).__name__}: {exc}"[:300])
    shared = int(compiled.metadata.shared)
    ok = spills == 0 and shared <= TARGETS[capability]
    return AotResult(kernel, cfg["config"], target, regs, spills, shared, "wgmma" in ptx, ok,
                     "" if ok else f"spills={spills} shared={shared}")


def run_all(targets=tuple(TARGETS), modules=MODULES) -> list[AotResult]:
    """Compile every configuration for every target; returns one row each."""
    if os.environ.get("TRITON_INTERPRET", "") == "1":
        raise RuntimeError("AOT compilation needs real Triton JIT functions: unset TRITON_INTERPRET")
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    for cap in targets:
        find_ptxas(cap)
    jobs = [(cfg, cap) for _, cfg in configurations(modules) for cap in targets]
    workers = min(int(os.environ.get("GENOSEQ_AOT_JOBS", os.cpu_count() or 1)), len(jobs))
    if workers <= 1:
        return [compile_one(cfg, cap) for cfg, cap in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _JOBS
    _JOBS = jobs  # inherited by the forked workers (kernel functions do not pickle)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_compile_job, range(len(jobs))))


_JOBS: list = []


def _compile_job(index: int) -> AotResult:
    cfg, cap = _JOBS[index]
    return compile_one(cfg, cap)


def format_table(rows: list[AotResult]) -> str:
    head = f"{'kernel':<28} {'config':<26} {'target':<6} {'regs':>5} {'spills':>6} {'shared':>7} {'wgmma':>5}  ok"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.kernel:<28} {r.config:<26} {r.target:<6} {r.registers:>5} {r.spills:>6} "
                     f"{r.shared_bytes:>7} {'yes' if r.wgmma else 'no':>5}  {'ok' if r.ok else 'FAIL ' + r.error}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m genoseq_kernels.aot [--json] [--modules short_conv,ssd]``; exit 1 if any row fails."""
    argv = sys.argv[1:] if argv is None else argv
    modules = MODULES
    if "--modules" in argv:
        modules = tuple(argv[argv.index("--modules") + 1].split(","))
    rows = run_all(modules=modules)
    if "--json" in argv:
        for r in rows:
            print(json.dumps(asdict(r)))
    else:
        print(format_table(rows))
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
