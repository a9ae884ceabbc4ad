"""CLI skeleton: version, doctor, lazy import."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from genoseq import __version__
from genoseq.cli import app

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"genoseq {__version__}"


def test_doctor_json_reports_torch_and_operators(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["torch"]
    assert report["cuda_available"] in (True, False)
    assert isinstance(report["operators"], dict)
    assert report["cpu_fft"] in ("mkl", "torch")
    assert report["omp_wait_policy"] == "PASSIVE"


def test_import_genoseq_does_not_import_heavy_modules():
    code = "import sys, genoseq; bad=[m for m in ('torch','lightning','triton','matplotlib') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
