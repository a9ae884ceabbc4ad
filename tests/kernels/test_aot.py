"""Ahead-of-time compilation of every short_conv / selective_scan / SSD kernel configuration the
launchers can pick, for sm_80 (A100) and sm_90 (H100), without a GPU: compiles, no register spills,
shared memory within 164 / 227 KiB. (long_conv has its own AOT test in test_long_conv.py.)

Runs `python -m genoseq_kernels.aot --json` in a subprocess because the interpreter tests set
TRITON_INTERPRET=1 in this process. Needs ptxas (bundled with triton): if it is missing the test fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

if importlib.util.find_spec("triton") is None:  # not imported here: this process runs the interpreter
    pytest.skip("triton is not installed", allow_module_level=True)

MODULES = "short_conv,selective_scan,ssd"


@pytest.mark.slow
def test_every_launchable_configuration_compiles_for_sm80_and_sm90_without_spills():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    proc = subprocess.run([sys.executable, "-m", "genoseq_kernels.aot", "--json", "--modules", MODULES],
                          capture_output=True, text=True, env=env, timeout=900)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert rows, f"no AOT rows (ptxas missing?): {proc.stderr[-2000:]}"
    failed = [r for r in rows if not r["ok"]]
    assert not failed, "\n".join(f"{r['kernel']} {r['config']} {r['target']}: {r['error']}" for r in failed)
    assert proc.returncode == 0
    kernels = {r["kernel"] for r in rows}
    assert {"short_conv_fwd_kernel", "short_conv_bwd_kernel", "selective_scan_fwd_kernel",
            "selective_scan_bwd_kernel", "ssd_fwd_kernel", "ssd_bwd_state_kernel", "ssd_bwd_dx_kernel",
            "ssd_bwd_chunk_kernel"} <= kernels
    assert {r["target"] for r in rows} == {"sm_80", "sm_90"}
    for r in rows:
        assert r["spills"] == 0
        assert r["shared_bytes"] <= (164 if r["target"] == "sm_80" else 227) * 1024
        assert set(r) >= {"kernel", "config", "target", "registers", "spills", "shared_bytes", "wgmma"}


def test_doctor_compile_runs_the_aot_module_without_the_interpreter(monkeypatch):
    import genoseq.cli.doctor as doctor

    seen = {}

    def fake_run(cmd, env):
        seen.update(cmd=cmd, env=env)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setattr(subprocess, "run", fake_run)
    assert doctor.compile_report(as_json=True) == 0
    assert seen["cmd"][1:] == ["-m", "genoseq_kernels.aot", "--json"]
    assert "TRITON_INTERPRET" not in seen["env"]
