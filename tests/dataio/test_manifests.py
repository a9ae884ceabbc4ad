"""Data manifests (data_manifests/*.yaml) and the bundled data (genoseq.bundled)."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import pytest

import genoseq.bundled as bundled
from genoseq.data.manifests import load_manifest, manifest_names, parse_manifest
from genoseq.errors import GenoseqError

REPO = Path(__file__).resolve().parents[2]
MANIFEST_DIR = REPO / "data_manifests"

VALID = """
name: toy
description: A toy data set.
citation: Nobody 2024.
licence: CC0
genome_build: null
format: fasta
loader: {function: Genome, file: toy.fa}
files:
  - name: toy.fa
    url: https://example.org/toy.fa
    size: 12
    sha256: null
"""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shipped_manifests_are_found_through_the_package():
    on_disk = sorted(p.stem for p in MANIFEST_DIR.glob("*.yaml"))
    assert manifest_names() == on_disk
    required = {
        "hg38",
        "hg38_hyenadna",
        "genomic_benchmarks",
        "nucleotide_transformer_revised",
        "gue",
        "bundled",
    }
    assert required <= set(on_disk)


@pytest.mark.parametrize("name", sorted(p.stem for p in MANIFEST_DIR.glob("*.yaml")))
def test_every_manifest_validates(name):
    m = load_manifest(name)
    assert m.name == name
    assert m.description and m.citation and m.licence and m.files
    for f in m.files:
        assert f.url.startswith(("https://", "bundled:")), f.url
        for digest, n in ((f.sha256, 64), (f.md5, 32)):
            assert digest is None or re.fullmatch(f"[0-9a-f]{{{n}}}", digest)
    # loading by path gives the same manifest
    assert load_manifest(MANIFEST_DIR / f"{name}.yaml") == m


def test_manifest_contents_that_other_code_relies_on():
    gb = load_manifest("genomic_benchmarks")
    assert len(gb.files) == 8 and gb.file("human_nontata_promoters_v0.zip").url.startswith(
        "https://zenodo.org/"
    )
    nt = load_manifest("nucleotide_transformer_revised")
    assert len(nt.files) == 36 and nt.loader["splits"] == ["train", "test"]
    hy = load_manifest("hg38_hyenadna")
    assert hy.loader == {
        "function": "read_bed",
        "file": "human-sequences.bed",
        "columns": ["chrom", "start", "end", "split"],
        "split_column": 3,
        "splits": ["train", "valid", "test"],
        "note": hy.loader["note"],
    }
    assert (
        hy.file("human-sequences.bed").url
        == "https://storage.googleapis.com/basenji_barnyard2/sequences_human.bed"
    )
    hg = load_manifest("hg38")
    assert hg.genome_build == "hg38" and hg.file("hg38.fa.gz").sha256 is None and hg.total_size is None


def test_bundled_manifest_checksums_match_the_bundled_files():
    m = load_manifest("bundled")
    root = Path(bundled.__file__).parent
    listed = {f.name for f in m.files}
    on_disk = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".md", ".pyc")
    }
    assert listed == on_disk
    data_md = (root / "DATA.md").read_text()
    for f in m.files:
        path = root / f.name
        assert path.stat().st_size == f.size
        assert _sha256(path) == f.sha256
        assert hashlib.md5(path.read_bytes()).hexdigest() == f.md5
        assert f.sha256 in data_md and f.name in data_md  # provenance table is in sync


def test_unknown_dataset_name_lists_the_known_ones():
    with pytest.raises(GenoseqError, match=r"unknown dataset 'hg19'; known datasets: bundled, .*hg38"):
        load_manifest("hg19")


def test_missing_manifest_file():
    with pytest.raises(GenoseqError, match=r"nope\.yaml: manifest file not found"):
        load_manifest("/nonexistent/nope.yaml")


def test_valid_minimal_manifest_parses():
    m = parse_manifest(VALID, source="toy.yaml")
    assert m.files[0].checksum is None and m.total_size == 12 and m.homepage is None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("licence: CC0", "license: CC0", "toy.yaml: unknown key 'license' (allowed: "),
        ("citation: Nobody 2024.\n", "", "toy.yaml: missing required key 'citation'"),
        ("genome_build: null\n", "", "toy.yaml: missing required key 'genome_build'"),
        (
            "    sha256: null",
            "    sha256: null\n    checksum: abc",
            "toy.yaml: unknown key files[0].'checksum'",
        ),
        ("    sha256: null", "", "toy.yaml: missing required key files[0].'sha256'"),
        ("    size: 12", "", "toy.yaml: missing required key files[0].'size'"),
        ("sha256: null", "sha256: abc123", "key 'files[0].sha256' must be 64 hex digits or null"),
        ("size: 12", "size: -1", "key 'files[0].size' must be a byte count or null"),
        ("url: https://example.org/toy.fa", "url: gopher://x/toy.fa", "key 'files[0].url'"),
        ("name: toy.fa", "name: ../toy.fa", "must be a relative path without '..'"),
        (
            "{function: Genome, file: toy.fa}",
            "{function: load_everything}",
            "key 'loader.function' is 'load_everything'",
        ),
        ("{function: Genome, file: toy.fa}", "{function: Genome, bogus: 1}", "unknown key loader.'bogus'"),
        ("{function: Genome, file: toy.fa}", "Genome", "key 'loader' must be a mapping"),
        ("name: toy\n", "name: Toy Data\n", "key 'name': 'Toy Data' must be lowercase"),
        ("description: A toy data set.", "description: ''", "key 'description' must be a non-empty string"),
    ],
)
def test_validator_names_file_and_key(old, new, expected):
    assert old in VALID
    with pytest.raises(GenoseqError) as info:
        parse_manifest(VALID.replace(old, new, 1), source="toy.yaml")
    assert expected in str(info.value)


def test_duplicate_file_names_and_bad_yaml():
    dup = VALID + "  - name: toy.fa\n    url: https://example.org/b\n    size: null\n    sha256: null\n"
    with pytest.raises(GenoseqError, match="duplicate file name 'toy.fa'"):
        parse_manifest(dup, source="toy.yaml")
    with pytest.raises(GenoseqError, match="toy.yaml: not valid YAML"):
        parse_manifest("name: [unclosed", source="toy.yaml")
    with pytest.raises(GenoseqError, match="toy.yaml: a manifest must be a YAML mapping"):
        parse_manifest("- a\n- b\n", source="toy.yaml")


def test_manifest_given_by_path_may_have_any_file_name(tmp_path):
    p = tmp_path / "other.yaml"
    p.write_text(VALID)
    assert load_manifest(p).name == "toy"


# ---------------------------------------------------------------- genoseq.bundled


def test_bundled_names_and_paths():
    assert bundled.names() == sorted(
        ["ecoli_k12", "ecoli_k12_cds", "phage_lambda", "human_chrM", "yeast_chrI", "gue_prom_core_tata",
         "gue_mouse_2"]
    )
    for name in bundled.names():
        p = bundled.path(name)
        assert p.exists(), name
        assert p.is_dir() == (bundled.describe(name).kind == "task")


def test_bundled_unknown_name_lists_valid_names():
    with pytest.raises(
        GenoseqError, match=r"unknown bundled data set 'ecoli'; valid names: ecoli_k12, ecoli_k12_cds, gue_mouse_2"
    ):
        bundled.path("ecoli")


def test_bundled_genomes_have_the_documented_content():
    lines = bundled.path("human_chrM").read_text().splitlines()
    assert lines[0] == ">HS#NC_012920.1"
    seq = "".join(lines[1:])
    assert len(seq) == 16569 and seq.count("N") == 1 and seq.index("N") == 3106  # 1-based position 3107
    with gzip.open(bundled.path("ecoli_k12"), "rt") as fh:
        header = fh.readline()
        n = sum(len(line.strip()) for line in fh)
    assert header.startswith(">NC_000913.3 ") and n == 4_641_652
    lam = bundled.path("phage_lambda").read_bytes()
    assert b"\r" not in lam and sum(len(x) for x in lam.splitlines()[1:]) == 48_502


@pytest.mark.parametrize(
    ("name", "sizes", "length"),
    [("gue_prom_core_tata", (4904, 613, 613), 70), ("gue_mouse_2", (2620, 328, 328), 101)],
)
def test_bundled_tasks_have_three_splits(name, sizes, length):
    folder = bundled.path(name)
    for split, n in zip(("train", "dev", "test"), sizes, strict=True):
        with gzip.open(folder / f"{split}.csv.gz", "rt") as fh:
            rows = fh.read().splitlines()
        assert rows[0] == "sequence,label"
        assert len(rows) - 1 == n
        seqs, labels = zip(*(r.split(",") for r in rows[1:]), strict=True)
        assert set(labels) == {"0", "1"} and {len(s) for s in seqs} == {length}
