"""read_variants: VCF/BCF/table/Python input, allele statuses, genome checks, malformed input."""

from __future__ import annotations

import sys
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from genoseq.data.variants import STATUSES, Variant, VariantSet, read_variants
from genoseq.errors import DependencyError, GenoseqError, InputError

DATA = Path(__file__).resolve().parents[1] / "data" / "variants"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"

CHR1 = "ACGTACGTAACCGGTTAACCGGATCCAAGTTTGACCAGTACGATCGATCGGGCCTTAAGG"  # tests/data/variants/tiny.fa
CHR2 = "TTTTGGGGCCCCAAAANNNNACGT"


class StubGenome:
    """The Genome interface read_variants relies on: .contigs and 0-based half-open .fetch."""

    def __init__(self, seqs: dict[str, str], aliases: dict[str, str] | None = None) -> None:
        self.seqs = seqs
        self.aliases = aliases or {}

    @property
    def contigs(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.seqs.items()}

    def resolve(self, name: str) -> str:
        if name in self.seqs:
            return name
        if name in self.aliases:
            return self.aliases[name]
        raise InputError(f"unknown contig {name!r}")

    def fetch(self, contig: str, start: int, end: int, strand: str = "+") -> str:
        if not 0 <= start <= end <= len(self.seqs[contig]):
            raise InputError(f"{contig}:{start}-{end} out of range")
        return self.seqs[contig][start:end]


@pytest.fixture
def stub() -> StubGenome:
    return StubGenome({"chr1": CHR1, "chr2": CHR2})


def real_genome(tmp_path: Path, aliases: bool = False):
    genome_mod = pytest.importorskip("genoseq.data.genome")
    return genome_mod.Genome(DATA / "tiny.fa", cache_dir=tmp_path, aliases=aliases)


def rows(vs: VariantSet) -> list[tuple]:
    return [(v.record, v.alt_index, v.chrom, v.pos, v.ref, v.alt, v.status) for v in vs]


# ----------------------------------------------------------------------------- VCF / BCF


MULTI_ROWS = [
    (0, 0, "chr1", 2, "C", "A", "ok"),
    (0, 1, "chr1", 2, "C", "G", "ok"),
    (0, 2, "chr1", 2, "C", "T", "ok"),
    (1, 0, "chr1", 5, "AC", "A", "ok"),
    (1, 1, "chr1", 5, "AC", "ACC", "ok"),
    (2, 0, "chr2", 21, "A", "G", "ok"),
]


@pytest.mark.parametrize("name", ["multiallelic.vcf", "multiallelic.vcf.gz", "multiallelic.bcf", "crlf.vcf"])
def test_multiallelic_split_one_row_per_alt(name: str) -> None:
    vs = read_variants(DATA / name)
    assert rows(vs) == MULTI_ROWS
    assert vs.n_records == 3
    assert [v.id for v in vs] == ["rs1", "rs1", "rs1", "rs2", "rs2", None]
    assert vs.summary() == Counter(ok=6)
    if name.endswith(".bcf"):
        assert all(v.line is None for v in vs)
    else:  # 4 header lines, then one line per record
        assert [v.line for v in vs] == [5, 5, 5, 6, 6, 7]


def test_variant_coordinates() -> None:
    v = read_variants(DATA / "multiallelic.vcf")[3]
    assert (v.start, v.end, v.is_snv, v.ok) == (4, 6, False, True)
    assert read_variants(DATA / "multiallelic.vcf")[0].is_snv


def test_header_only_vcf_is_empty_not_an_error() -> None:
    vs = read_variants(DATA / "header_only.vcf")
    assert len(vs) == 0 and vs.n_records == 0 and vs.summary() == Counter()


def test_symbolic_breakend_star_missing_kept_with_status() -> None:
    vs = read_variants(DATA / "symbolic.vcf")
    assert [(v.record, v.alt, v.status) for v in vs] == [
        (0, "<DEL>", "skipped_symbolic"),
        (1, "<*>", "skipped_symbolic"),
        (2, "G", "ok"),
        (2, "<NON_REF>", "skipped_symbolic"),
        (3, "]chr1:30]G", "skipped_breakend"),
        (4, "G[chr2:3[", "skipped_breakend"),
        (5, "*", "skipped_spanning_deletion"),
        (6, ".", "skipped_missing_alt"),
        (7, ".A", "skipped_breakend"),
    ]
    assert {v.record for v in vs} == set(range(vs.n_records))  # every record gives a row
    assert vs.summary() == Counter(
        skipped_symbolic=3, skipped_breakend=3, ok=1, skipped_spanning_deletion=1, skipped_missing_alt=1
    )
    assert "record index 0 (line 5) at chr1:10" in vs[0].message and "<DEL>" in vs[0].message
    assert [v.alt for v in vs.ok()] == ["G"]
    assert set(vs.summary()) <= set(STATUSES)
    assert vs.report().startswith("9 variants from 8 records in ")


def test_genome_checks_with_stub(stub: StubGenome) -> None:
    vs = read_variants(DATA / "ref_mismatch.vcf", genome=stub)
    assert [v.status for v in vs] == ["ok", "ref_mismatch", "ok", "ok", "unknown_contig", "unknown_contig"]
    assert "REF is 'G' but the genome has 'A' at chr1:1" in vs[1].message
    assert vs[2].contig == "chr1"  # lowercase REF 'g' matches 'G'
    assert vs[5].contig is None and "'chrUn'" in vs[5].message


def test_contig_alias_resolved_by_genome(stub: StubGenome) -> None:
    stub.aliases = {"1": "chr1"}
    v = read_variants(DATA / "ref_mismatch.vcf", genome=stub)[4]
    assert (v.chrom, v.contig, v.status) == ("1", "chr1", "ok")


def test_past_contig_end(stub: StubGenome) -> None:
    vs = read_variants(DATA / "past_end.vcf", genome=stub)
    assert [v.status for v in vs] == ["ok", "out_of_range", "out_of_range", "ok"]
    assert "ends at 61, past the end of contig 'chr1' (length 60)" in vs[1].message
    assert "record index 2 (line 7) at chr1:75" in vs[2].message


def test_skipped_alleles_are_not_genome_checked(stub: StubGenome) -> None:
    vs = read_variants(DATA / "symbolic.vcf", genome=stub)
    assert vs.summary()["ok"] == 1 and vs.summary()["skipped_symbolic"] == 3


def test_real_genome(tmp_path: Path) -> None:
    genome = real_genome(tmp_path)
    vs = read_variants(DATA / "ref_mismatch.vcf", genome=genome)
    assert [v.status for v in vs] == ["ok", "ref_mismatch", "ok", "ok", "unknown_contig", "unknown_contig"]
    assert "aliases=True" in vs[4].message  # the genome's own hint: chr1 exists
    with_alias = read_variants(DATA / "ref_mismatch.vcf", genome=real_genome(tmp_path, aliases=True))
    assert (with_alias[4].contig, with_alias[4].status) == ("chr1", "ok")
    assert [v.status for v in read_variants(DATA / "past_end.vcf", genome=genome)] == [
        "ok", "out_of_range", "out_of_range", "ok"
    ]


# ----------------------------------------------------------------------------- tables and Python input


def test_headerless_table_splits_alts() -> None:
    vs = read_variants(DATA / "table_headerless.tsv")
    assert rows(vs) == [
        (0, 0, "chr1", 2, "C", "A", "ok"),
        (0, 1, "chr1", 2, "C", "G", "ok"),
        (1, 0, "chr2", 21, "A", "G", "ok"),
        (2, 0, "chr1", 1, "A", "<DEL>", "skipped_symbolic"),
    ]
    assert [v.line for v in vs] == [1, 1, 2, 3]


def test_table_in_vcf_column_order_gzip_and_header_csv(stub: StubGenome) -> None:
    vs = read_variants(DATA / "table_vcf_order.tsv.gz", genome=stub)
    assert [(v.id, v.pos, v.ref, v.alt, v.status) for v in vs] == [("v1", 3, "G", "T", "ok"), ("v2", 4, "T", "C", "ok")]
    vs = read_variants(DATA / "table_header.csv", genome=stub)
    assert [(v.id, v.chrom, v.pos, v.line, v.status) for v in vs] == [("a", "chr1", 2, 2, "ok"), ("b", "chr2", 1, 3, "ok")]


def test_python_tuples_dicts_and_dataframe_like(stub: StubGenome) -> None:
    vs = read_variants([("chr1", 2, "C", "T"), ("chr1", "5", "AC", "A,G", "x"), {"chrom": "chr2", "pos": 1,
                        "ref": "T", "alt": "A"}], genome=stub)
    assert rows(vs) == [
        (0, 0, "chr1", 2, "C", "T", "ok"),
        (1, 0, "chr1", 5, "AC", "A", "ok"),
        (1, 1, "chr1", 5, "AC", "G", "ok"),
        (2, 0, "chr2", 1, "T", "A", "ok"),
    ]
    assert vs[1].id == "x" and vs[0].line is None

    class FakeFrame:  # the two pandas.DataFrame members read_variants uses
        columns = ["CHROM", "POS", "REF", "ALT"]

        def itertuples(self, index: bool = True, name: str | None = "Pandas"):
            return iter([("chr1", 3, "G", "C"), ("chr1", 4, "X", "C")])

    vs = read_variants(FakeFrame())
    assert [(v.pos, v.status) for v in vs] == [(3, "ok"), (4, "invalid_allele")]


def test_python_input_errors() -> None:
    with pytest.raises(InputError, match=r"record index 1: POS 'abc' is not an integer"):
        read_variants([("chr1", 2, "C", "T"), ("chr1", "abc", "C", "T")])
    with pytest.raises(InputError, match=r"record index 0: expected a tuple \(chrom, pos, ref, alt\[, id\]\), got 2"):
        read_variants([("chr1", 2)])
    with pytest.raises(InputError, match="expects a path"):
        read_variants(42)  # type: ignore[arg-type]


def test_pos_zero_and_invalid_allele() -> None:
    vs = read_variants([("chr1", 0, "A", "C"), ("chr1", 1, "A", "ACXT"), ("chr1", 1, ".", "A")])
    assert [v.status for v in vs] == ["out_of_range", "invalid_allele", "invalid_allele"]
    assert "POS 0 is before the first base" in vs[0].message


# ----------------------------------------------------------------------------- malformed input


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.vcf"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty.vcf: empty file"):
        read_variants(empty)


def test_index_files_are_refused(tmp_path: Path) -> None:
    import shutil

    pysam = pytest.importorskip("pysam")
    vcf = tmp_path / "m.vcf.gz"
    shutil.copy(DATA / "multiallelic.vcf.gz", vcf)
    pysam.tabix_index(str(vcf), preset="vcf", force=True)
    with pytest.raises(InputError, match=r"m.vcf.gz.tbi: is an index file"):
        read_variants(str(vcf) + ".tbi")
    renamed = tmp_path / "index.bin"
    shutil.copy(str(vcf) + ".tbi", renamed)
    with pytest.raises(InputError, match=r"index.bin: is a tabix/CSI index"):
        read_variants(renamed)
    assert len(read_variants(vcf)) == 6  # the indexed file still reads


def test_missing_file() -> None:
    with pytest.raises(InputError, match="no such file"):
        read_variants(DATA / "nope.vcf")


def test_header_with_spaces_names_line() -> None:
    with pytest.raises(InputError) as err:
        read_variants(DATA / "spaces_header.vcf")
    assert err.value.path == str(DATA / "spaces_header.vcf") and err.value.line == 4
    assert "separated by spaces; VCF columns must be separated by tabs" in str(err.value)


def test_non_integer_pos_names_record_and_line() -> None:
    with pytest.raises(InputError) as err:
        read_variants(DATA / "bad_pos.vcf")
    assert err.value.line == 6
    assert "record index 1: POS '2x' is not a non-negative integer" in str(err.value)


def test_short_row_names_column_count() -> None:
    with pytest.raises(InputError) as err:
        read_variants(DATA / "short_row.vcf")
    assert err.value.line == 6
    assert "expected at least 8 tab-separated columns" in str(err.value) and "found 4" in str(err.value)


def test_table_bad_pos_and_too_few_columns(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"table_bad_pos.tsv, line 2: POS 'abc' is not an integer"):
        read_variants(DATA / "table_bad_pos.tsv")
    bad = tmp_path / "three.tsv"
    bad.write_text("chr1\t2\tC\n")
    with pytest.raises(InputError, match=r"three.tsv, line 1: expected at least 4 columns"):
        read_variants(bad)
    binary = tmp_path / "bin.tsv"
    binary.write_bytes(b"chr1\t2\tC\tA\n\xff\xfe\t1\tA\tC\n")
    with pytest.raises(InputError, match=r"bin.tsv, line 2: bytes that are not UTF-8"):
        read_variants(binary)


def test_non_utf8_vcf_record(tmp_path: Path) -> None:
    text = (DATA / "multiallelic.vcf").read_bytes() + b"\xff\xfe\t5\t.\tA\tC\t.\t.\t.\n"
    path = tmp_path / "bin.vcf"
    path.write_bytes(text)
    with pytest.raises(InputError) as err:
        read_variants(path)
    assert err.value.line == 8 and "not UTF-8" in str(err.value)


def test_missing_pysam_is_a_dependency_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pysam", None)
    with pytest.raises(DependencyError, match=r"reading VCF/BCF needs the package 'pysam'.*genoseq\[vcf\]"):
        read_variants(DATA / "multiallelic.vcf")
    assert len(read_variants(DATA / "table_headerless.tsv")) == 4  # tables need no pysam


def test_htslib_stderr_is_captured_into_warnings(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "nocontig.vcf"
    path.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchrZ\t3\t.\tA\tC\t.\t.\t.\n")
    vs = read_variants(path)
    assert [v.chrom for v in vs] == ["chrZ"]
    assert any("chrZ" in w for w in vs.warnings)
    assert "chrZ" not in capfd.readouterr().err


def test_variant_is_frozen_dataclass() -> None:
    v = Variant(0, None, "chr1", 1, "A", "C")
    assert v.to_dict()["status"] == "ok"
    with pytest.raises(AttributeError):
        v.pos = 3  # type: ignore[misc]


@pytest.mark.skipif(not (SHARED / "genomes" / "model_organisms_1pct").exists(), reason="../shared/data not present")
def test_real_headerless_celegans_table() -> None:
    vs = read_variants(SHARED / "genomes" / "model_organisms_1pct" / "C.elegans.vcf.gz")
    assert len(vs) == vs.n_records == 8713
    assert (vs[0].chrom, vs[0].pos, vs[0].id, vs[0].ref, vs[0].alt) == ("I", 3080, "gk463204", "A", "T")
    assert vs.summary() == Counter(ok=8713)


@pytest.mark.skipif(not (SHARED / "genomes" / "model_organisms_1pct").exists(), reason="../shared/data not present")
def test_real_celegans_ref_check(tmp_path: Path) -> None:
    genome_mod = pytest.importorskip("genoseq.data.genome")
    folder = SHARED / "genomes" / "model_organisms_1pct"
    genome = genome_mod.Genome(folder / "C.elegans.fa.gz", cache_dir=tmp_path)
    vs = read_variants(folder / "C.elegans.vcf.gz", genome=genome)
    # 10 records near the end of the chrI excerpt carry the complement base as REF
    assert vs.summary() == Counter(ok=8703, ref_mismatch=10)
    first = next(v for v in vs if v.status == "ref_mismatch")
    assert (first.record, first.line, first.pos) == (1396, 1397, 147301)
    assert "REF is 'C' but the genome has 'G' at I:147301" in first.message


def test_errors_are_genoseq_errors() -> None:
    assert issubclass(InputError, GenoseqError) and issubclass(DependencyError, GenoseqError)


def test_block_cached_ref_check_matches_direct_fetch() -> None:
    """REF checks go through a 64 kb block cache; compare with direct slicing, across block edges,
    at the contig end, unsorted, on two contigs."""
    rng = np.random.default_rng(7)
    seqs = {c: "".join(rng.choice(list("ACGT"), size=n)) for c, n in (("a", 200_003), ("b", 70_000))}
    genome = StubGenome(seqs)
    items, expected = [], []
    for _ in range(400):
        contig = "a" if rng.random() < 0.7 else "b"
        n = len(seqs[contig])
        start = min(int(rng.choice([rng.integers(0, n), 65_536 - 2, 131_072 - 1, n - 3])), n - 1)
        length = int(rng.integers(1, 6))
        true_ref = seqs[contig][start : start + length]
        ref = true_ref if rng.random() < 0.8 else "A" * length
        items.append((contig, start + 1, ref, "C" if ref[0] != "C" else "G"))
        if start + len(ref) > n:
            expected.append("out_of_range")
        else:
            expected.append("ok" if ref == true_ref else "ref_mismatch")
    assert [v.status for v in read_variants(items, genome=genome)] == expected


def test_plain_gzip_vcf_is_read_and_errors_name_it(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "plain.vcf.gz"  # gzip, not bgzip: htslib alone cannot read it
    path.write_bytes(gzip.compress((DATA / "multiallelic.vcf").read_bytes()))
    vs = read_variants(path)
    assert rows(vs) == MULTI_ROWS and vs.source == str(path) and vs[0].line == 5
    bad = tmp_path / "bad.vcf.gz"
    bad.write_bytes(gzip.compress((DATA / "bad_pos.vcf").read_bytes()))
    with pytest.raises(InputError) as err:
        read_variants(bad)
    assert err.value.path == str(bad) and err.value.line == 6 and "POS '2x'" in str(err.value)


def test_damaged_bgzip_is_an_input_error(tmp_path: Path) -> None:
    data = bytearray((DATA / "multiallelic.vcf.gz").read_bytes())
    path = tmp_path / "cut.vcf.gz"
    path.write_bytes(bytes(data[:60]))
    with pytest.raises(InputError, match="cut.vcf.gz"):
        read_variants(path)
    data[30] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="cut.vcf.gz"):
        read_variants(path)


@pytest.mark.parametrize("name", ["multiallelic.vcf", "symbolic.vcf", "multiallelic.vcf.gz", "multiallelic.bcf",
                                  "table_headerless.tsv", "table_vcf_order.tsv.gz"])
def test_mutated_files_only_raise_genoseq_errors(name: str, tmp_path: Path) -> None:
    """Random byte edits (flips, inserted separators, cuts): the reader loads or raises InputError,
    never a raw ValueError/zlib.error/UnicodeDecodeError/NotImplementedError."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    original = (DATA / name).read_bytes()
    outcomes = Counter()
    for i in range(40):
        data = bytearray(original)
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(0, max(1, len(data))))
            op = rng.random()
            if op < 0.4 and data:
                data[pos % len(data)] = int(rng.integers(0, 256))
            elif op < 0.7:
                data[pos:pos] = [b"\t", b",", b"\n", b"#", b"<", b"\xff", b"-1", b"\r\n"][int(rng.integers(0, 8))]
            else:
                del data[pos : pos + int(rng.integers(1, 40))]
        path = tmp_path / f"{i}_{name}"
        path.write_bytes(bytes(data))
        try:
            read_variants(path)
            outcomes["loaded"] += 1
        except GenoseqError as err:
            assert path.name in str(err)
            outcomes["error"] += 1
    assert outcomes["error"] > 0


def test_region_from_indexed_vcf(tmp_path: Path) -> None:
    import shutil

    pysam = pytest.importorskip("pysam")
    vcf = tmp_path / "m.vcf.gz"
    shutil.copy(DATA / "multiallelic.vcf.gz", vcf)
    with pytest.raises(InputError, match=r"m.vcf.gz: cannot read region 'chr1:1-3'.*index"):
        read_variants(vcf, region="chr1:1-3")
    pysam.tabix_index(str(vcf), preset="vcf", force=True)
    vs = read_variants(vcf, region="chr1:1-3")
    assert [(v.record, v.pos, v.alt, v.line) for v in vs] == [(0, 2, "A", None), (0, 2, "G", None), (0, 2, "T", None)]
    assert [v.pos for v in read_variants(vcf, region="chr2")] == [21]
    with pytest.raises(InputError, match="plain table"):
        read_variants(DATA / "table_headerless.tsv", region="chr1")
