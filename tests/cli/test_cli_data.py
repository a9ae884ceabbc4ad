"""`genoseq data list | info | fetch | bundled` through typer's CliRunner (local HTTP server only)."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genoseq.cli import app

runner = CliRunner()
PAYLOAD = bytes(range(256)) * 400
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


def _load_server_module():
    path = Path(__file__).resolve().parents[1] / "dataio" / "_http_server.py"
    spec = importlib.util.spec_from_file_location("genoseq_test_http_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


http_server = _load_server_module()


def _manifest(tmp_path: Path, url: str, sha256: str | None = SHA256) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(
        f"""name: toy
description: Toy data served from 127.0.0.1.
citation: none
licence: CC0
genome_build: null
format: binary
loader: {{function: none}}
files:
  - name: a.bin
    url: {url}/a.bin
    size: {len(PAYLOAD)}
    sha256: {sha256 or "null"}
  - name: sub/b.bin
    url: {url}/b.bin
    size: null
    sha256: null
"""
    )
    return path


@pytest.fixture()
def server():
    state = http_server.ServerState(files={"/a.bin": PAYLOAD, "/b.bin": PAYLOAD[:1000]})
    with http_server.serve(state) as base:
        yield base, state


def test_list_shows_every_manifest():
    result = runner.invoke(app, ["data", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "FILES", "SIZE", "DESCRIPTION"]
    names = {line.split()[0] for line in lines[1:]}
    assert {
        "bundled",
        "hg38",
        "hg38_hyenadna",
        "genomic_benchmarks",
        "nucleotide_transformer_revised",
        "gue",
    } <= names
    bundled_line = next(line for line in lines if line.startswith("bundled "))
    assert " 11 " in bundled_line and "2.0 MB" in bundled_line
    hg38_line = next(line for line in lines if line.startswith("hg38 "))
    assert " ? " in hg38_line  # size not recorded


def test_info_prints_the_whole_manifest():
    result = runner.invoke(app, ["data", "info", "hg38_hyenadna"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "https://storage.googleapis.com/basenji_barnyard2/sequences_human.bed" in out
    assert "function=read_bed" in out and "split_column=3" in out
    assert "checksum: not recorded (fetch prints the computed sha256)" in out
    assert "HyenaDNA" in out and "licence:" in out and "genome build:  hg38" in out


def test_info_bundled_shows_checksums_and_raw_yaml():
    result = runner.invoke(app, ["data", "info", "bundled"])
    assert result.exit_code == 0
    assert "sha256: 9d57e71f106cb25d02bc9a955598a8f2bf654c65a65b506a56681aa5e46c0a36" in result.output
    raw = runner.invoke(app, ["data", "info", "bundled", "--raw"])
    assert raw.exit_code == 0 and raw.output.startswith("# Small real data shipped inside genoseq")


def test_info_unknown_dataset_exits_2_with_the_list():
    result = runner.invoke(app, ["data", "info", "hg19"])
    assert result.exit_code == 2
    assert "error: unknown dataset 'hg19'; known datasets: bundled," in result.output


def test_fetch_from_manifest_path(server, tmp_path):
    base, _ = server
    manifest = _manifest(tmp_path, base)
    dest = tmp_path / "out"
    result = runner.invoke(app, ["data", "fetch", str(manifest), "--dir", str(dest), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "a.bin: downloaded, sha256 verified" in result.output
    sha_b = hashlib.sha256(PAYLOAD[:1000]).hexdigest()
    assert f"sub/b.bin: downloaded; no checksum recorded; computed sha256 = {sha_b}" in result.output
    assert (dest / "a.bin").read_bytes() == PAYLOAD and (dest / "sub" / "b.bin").read_bytes() == PAYLOAD[
        :1000
    ]
    again = runner.invoke(app, ["data", "fetch", str(manifest), "--dir", str(dest), "--no-progress"])
    assert "a.bin: already present, sha256 verified" in again.output


def test_fetch_with_progress_bar_and_file_selection(server, tmp_path):
    base, state = server
    manifest = _manifest(tmp_path, base)
    result = runner.invoke(
        app, ["data", "fetch", str(manifest), "-d", str(tmp_path / "o"), "--file", "sub/b.bin"]
    )
    assert result.exit_code == 0, result.output
    assert [p for p, _ in state.requests] == ["/b.bin"]
    bad = runner.invoke(app, ["data", "fetch", str(manifest), "-d", str(tmp_path / "o"), "--file", "c.bin"])
    assert bad.exit_code == 2 and "has no file 'c.bin'; its files: a.bin, sub/b.bin" in bad.output


def test_fetch_checksum_mismatch_exits_2(server, tmp_path):
    base, _ = server
    manifest = _manifest(tmp_path, base, sha256="f" * 64)
    result = runner.invoke(
        app, ["data", "fetch", str(manifest), "--dir", str(tmp_path / "o"), "--no-progress"]
    )
    assert result.exit_code == 2
    assert f"expected sha256 {'f' * 64}, got {SHA256}" in result.output


def test_fetch_offline_exits_2_with_hint(tmp_path):
    url = http_server.refused_url().rsplit("/", 1)[0]
    manifest = _manifest(tmp_path, url)
    result = runner.invoke(
        app, ["data", "fetch", str(manifest), "--dir", str(tmp_path / "o"), "--no-progress"]
    )
    assert result.exit_code == 2
    assert "error: could not reach 127.0.0.1:" in result.output and "are you offline?" in result.output


def test_fetch_bundled_by_name(tmp_path):
    args = ["data", "fetch", "bundled", "--dir", str(tmp_path), "--file", "genomes/NC_001416.1_lambda.fa"]
    result = runner.invoke(app, args + ["--no-progress"])
    assert result.exit_code == 0, result.output
    assert "genomes/NC_001416.1_lambda.fa: copied, sha256 verified" in result.output


def test_bundled_command_lists_paths():
    result = runner.invoke(app, ["data", "bundled"])
    assert result.exit_code == 0
    assert "gue_prom_core_tata" in result.output and "MT-human.fa" in result.output
