"""`genoseq doctor`: what this machine can run and which kernel path each operator takes."""

from __future__ import annotations

import importlib.util
import json
import os
import platform

import typer


def environment_report() -> dict:
    """Versions and availability of torch, CUDA, triton and the optional packages."""
    import torch

    report: dict = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "bf16_cpu": torch.backends.mkldnn.is_available(),
    }
    from genoseq.ops import cpu_fft

    report["cpu_fft"] = cpu_fft.backend()  # "mkl": reused MKL plans; "torch": torch.fft
    # set for long-sequence training runs (genoseq.omp_wait); read by OpenMP when torch loads
    report["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY", "default (threads spin between regions)")
    for name in ("triton", "lightning", "pysam", "pyfaidx", "Bio", "sklearn"):
        spec = importlib.util.find_spec(name)
        report[name] = None
        if spec is not None:
            try:
                from importlib.metadata import version

                dist = {"Bio": "biopython", "sklearn": "scikit-learn"}.get(name, name)
                report[name] = version(dist)
            except Exception:  # noqa: BLE001 - a version we cannot read is still "installed"
                report[name] = "installed"
    try:
        from genoseq.ops import _dispatch
    except ImportError:
        report["operators"] = {}
    else:
        report["operators"] = _dispatch.describe()
    return report


def compile_report(as_json: bool) -> int:
    """AOT-compile every Triton kernel configuration for sm_80 and sm_90 (no GPU needed); print a table
    (or one JSON object per line) and return the exit code (1 when a configuration fails)."""
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("triton") is None:
        from genoseq.errors import DependencyError

        raise DependencyError("triton", "genoseq doctor --compile")
    # a fresh interpreter: TRITON_INTERPRET=1 in this process would turn the kernels into interpreted ones
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    cmd = [sys.executable, "-m", "genoseq_kernels.aot"] + (["--json"] if as_json else [])
    return subprocess.run(cmd, env=env).returncode


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        as_json: bool = typer.Option(False, "--json", help="Print JSON (one object; with --compile one per line)."),
        compile_: bool = typer.Option(
            False, "--compile", help="AOT-compile every Triton kernel configuration for sm_80/sm_90 and report "
            "registers, spills, shared memory and wgmma use."),
    ) -> None:
        """Report torch/CUDA/triton availability and the kernel path of each operator."""
        if compile_:
            raise typer.Exit(compile_report(as_json))
        report = environment_report()
        if as_json:
            typer.echo(json.dumps(report))
            return
        for key, value in report.items():
            if key == "operators":
                continue
            typer.echo(f"{key:>16}: {value if value is not None else 'not installed'}")
        typer.echo("       operators:")
        if not report["operators"]:
            typer.echo("                  (all on the PyTorch reference path)")
        for op, path in report["operators"].items():
            typer.echo(f"{op:>24} -> {path}")
