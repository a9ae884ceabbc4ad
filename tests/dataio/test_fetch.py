"""genoseq.data.fetch against a local HTTP server (tests/dataio/_http_server.py); never the real network."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import pytest

from genoseq.data.fetch import fetch_file, fetch_manifest, file_digests
from genoseq.data.manifests import ManifestFile, load_manifest
from genoseq.errors import GenoseqError


def _load_server_module():
    path = Path(__file__).with_name("_http_server.py")
    spec = importlib.util.spec_from_file_location("genoseq_test_http_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


http_server = _load_server_module()

# 3 MiB + a bit of deterministic, non-repeating bytes: larger than one read chunk (1 MiB)
PAYLOAD = b"".join(hashlib.sha256(i.to_bytes(4, "little")).digest() for i in range(100_000))[
    : 3 * 2**20 + 123
]
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


@pytest.fixture()
def server():
    state = http_server.ServerState(files={"/data/file.bin": PAYLOAD})
    with http_server.serve(state) as base:
        yield base, state


def entry(url: str, **kw) -> ManifestFile:
    kw.setdefault("size", len(PAYLOAD))
    return ManifestFile(name=kw.pop("name", "file.bin"), url=url, **kw)


def test_download_verifies_sha256_and_renames(server, tmp_path):
    base, state = server
    calls = []
    result = fetch_file(
        entry(f"{base}/data/file.bin", sha256=SHA256), tmp_path, progress=lambda *a: calls.append(a)
    )
    assert result.status == "downloaded" and result.verified and result.sha256 == SHA256
    assert result.message == "file.bin: downloaded, sha256 verified"
    assert (tmp_path / "file.bin").read_bytes() == PAYLOAD
    assert not (tmp_path / "file.bin.part").exists()
    assert calls[-1] == ("file.bin", len(PAYLOAD), len(PAYLOAD))
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)  # monotone progress
    assert state.requests == [("/data/file.bin", None)]


def test_md5_only_entry_is_verified(server, tmp_path):
    base, _ = server
    result = fetch_file(entry(f"{base}/data/file.bin", md5=MD5), tmp_path)
    assert result.verified and result.message.endswith("md5 verified")


def test_no_checksum_reports_computed_sha256(server, tmp_path):
    base, _ = server
    result = fetch_file(entry(f"{base}/data/file.bin", size=None), tmp_path)
    assert not result.verified
    assert result.message == f"file.bin: downloaded; no checksum recorded; computed sha256 = {SHA256}"


def test_checksum_mismatch_keeps_bad_file_and_says_expected_vs_got(server, tmp_path):
    base, _ = server
    wrong = "0" * 64
    with pytest.raises(GenoseqError) as info:
        fetch_file(entry(f"{base}/data/file.bin", sha256=wrong), tmp_path)
    msg = str(info.value)
    assert f"expected sha256 {wrong}, got {SHA256}" in msg
    assert "checksum mismatch for file.bin" in msg and "file.bin.bad" in msg
    assert not (tmp_path / "file.bin").exists() and not (tmp_path / "file.bin.part").exists()
    assert (tmp_path / "file.bin.bad").read_bytes() == PAYLOAD


def test_size_mismatch_is_reported(server, tmp_path):
    base, _ = server
    with pytest.raises(GenoseqError, match=f"expected 10 bytes, got {len(PAYLOAD)}"):
        fetch_file(entry(f"{base}/data/file.bin", size=10), tmp_path)


def test_truncated_transfer_keeps_part_then_resumes_with_range(server, tmp_path):
    base, state = server
    state.truncate_next = 1_500_000
    e = entry(f"{base}/data/file.bin", sha256=SHA256)
    with pytest.raises(GenoseqError) as info:
        fetch_file(e, tmp_path)
    msg = str(info.value)
    assert f"ended early: got 1500000 of {len(PAYLOAD)} bytes" in msg
    assert "file.bin.part" in msg and "run the same fetch again to resume" in msg
    part = tmp_path / "file.bin.part"
    assert part.read_bytes() == PAYLOAD[:1_500_000]
    assert not (tmp_path / "file.bin").exists()

    result = fetch_file(e, tmp_path)
    assert result.status == "resumed" and result.verified
    assert state.requests[-1] == ("/data/file.bin", "bytes=1500000-")
    assert (tmp_path / "file.bin").read_bytes() == PAYLOAD
    assert not part.exists()


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    base, state = server
    state.ignore_range = True
    (tmp_path / "file.bin.part").write_bytes(b"garbage that must be discarded")
    result = fetch_file(entry(f"{base}/data/file.bin", sha256=SHA256), tmp_path)
    assert result.status == "downloaded"
    assert (tmp_path / "file.bin").read_bytes() == PAYLOAD


def test_complete_part_file_answered_416_is_verified(server, tmp_path):
    base, state = server
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD)
    result = fetch_file(entry(f"{base}/data/file.bin", sha256=SHA256), tmp_path)
    assert result.status == "resumed" and result.verified
    assert state.requests == [("/data/file.bin", f"bytes={len(PAYLOAD)}-")]


def test_present_verified_file_is_skipped_without_request(server, tmp_path):
    base, state = server
    (tmp_path / "file.bin").write_bytes(PAYLOAD)
    result = fetch_file(entry(f"{base}/data/file.bin", sha256=SHA256), tmp_path)
    assert result.status == "present" and result.message == "file.bin: already present, sha256 verified"
    assert state.requests == []


def test_present_corrupt_file_is_an_error_and_left_alone(server, tmp_path):
    base, state = server
    (tmp_path / "file.bin").write_bytes(b"not it")
    with pytest.raises(GenoseqError, match="already there but expected sha256"):
        fetch_file(entry(f"{base}/data/file.bin", sha256=SHA256), tmp_path)
    assert (tmp_path / "file.bin").read_bytes() == b"not it"
    assert state.requests == []


def test_connection_refused_says_offline_and_where_to_put_the_file(tmp_path):
    url = http_server.refused_url()
    with pytest.raises(GenoseqError) as info:
        fetch_file(entry(url), tmp_path, timeout=5)
    msg = str(info.value)
    assert msg.startswith("could not reach 127.0.0.1: ")
    assert "refused" in msg.lower()
    assert f"are you offline? download {url} manually to {tmp_path / 'file.bin'}" in msg


def test_html_page_instead_of_file_is_refused(server, tmp_path):
    base, _ = server
    with pytest.raises(GenoseqError, match="returned an HTML page instead of file.bin"):
        fetch_file(entry(f"{base}/html/confirm", size=None, sha256=None), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_http_error_status_is_reported(server, tmp_path):
    base, _ = server
    with pytest.raises(GenoseqError, match=r"/data/missing.bin: server answered HTTP 404"):
        fetch_file(entry(f"{base}/data/missing.bin", sha256=None), tmp_path)


def test_nested_file_name_creates_folders(server, tmp_path):
    base, _ = server
    result = fetch_file(entry(f"{base}/data/file.bin", name="a/b/file.bin", sha256=SHA256), tmp_path)
    assert result.path == tmp_path / "a" / "b" / "file.bin" and result.path.read_bytes() == PAYLOAD


def test_fetch_bundled_manifest_copies_and_verifies(tmp_path):
    m = load_manifest("bundled")
    results = fetch_manifest(m, tmp_path, only=["genomes/MT-human.fa", "tasks/gue_mouse_2/dev.csv.gz"])
    assert [r.status for r in results] == ["copied", "copied"] and all(r.verified for r in results)
    assert (
        file_digests(tmp_path / "genomes" / "MT-human.fa")["sha256"] == m.file("genomes/MT-human.fa").sha256
    )
    again = fetch_manifest(m, tmp_path, only=["genomes/MT-human.fa"])
    assert again[0].status == "present"


def test_fetch_manifest_unknown_file_name_lists_files():
    with pytest.raises(GenoseqError, match="has no file 'nope'; its files: genomes/"):
        fetch_manifest(load_manifest("bundled"), "unused", only=["nope"])


def test_fetch_by_manifest_path(server, tmp_path):
    from genoseq.data.fetch import fetch

    base, _ = server
    manifest = tmp_path / "toy.yaml"
    manifest.write_text(
        "name: toy\ndescription: d\ncitation: c\nlicence: CC0\ngenome_build: null\nformat: bin\n"
        "loader: {function: none}\n"
        f"files:\n  - name: file.bin\n    url: {base}/data/file.bin\n    size: {len(PAYLOAD)}\n    sha256: {SHA256}\n"
    )
    (result,) = fetch(manifest, tmp_path / "out")
    assert result.verified and (tmp_path / "out" / "file.bin").read_bytes() == PAYLOAD
