"""Bad-input sweep: every real parser-quirk file goes to the loader its name calls for and either
loads with the right content or raises a GenoseqError naming the file (and the line / record).

Files: the copies in tests/data/quirks/ (always), plus every file of ../shared/data/parser_quirks/
when that folder exists. Expected outcomes are keyed by the path relative to either root; a file
without an entry must still load or fail with a GenoseqError naming it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from genoseq.errors import GenoseqError

LOCAL = Path(__file__).resolve().parents[1] / "data" / "quirks"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "parser_quirks"

INDEX_SUFFIXES = (".fai", ".tbi", ".csi", ".gzi")
ANNOTATION_SUFFIXES = (".gff", ".gff.gz", ".gtf", ".gtf.gz", ".gff3")


def loader_for(rel: str) -> str:
    """'genome' | 'bed' | 'variants' | 'fastq' | 'skip: reason' from the file name."""
    name = rel.lower()
    if name.endswith(INDEX_SUFFIXES):
        return "skip: index companion file (.fai/.tbi/.csi/.gzi), not an input"
    if name.endswith(ANNOTATION_SUFFIXES):
        return "skip: GFF/GTF annotation; genoseq has no annotation reader"
    if name.endswith(".md"):
        return "skip: documentation"
    if name.endswith((".vcf", ".vcf.gz", ".bcf")):
        return "variants"
    if name.endswith((".bed", ".bed.gz", ".bed12", ".narrowpeak", ".broadpeak")):
        return "bed"
    if name.endswith((".fastq", ".fastq.gz", ".fq", ".fq.gz")):
        return "fastq"
    return "genome"  # .fa/.fasta/.fa.gz/.fasta.lower and anything else: content decides


def load(kind: str, path: Path, tmp_path: Path) -> Any:
    if kind == "variants":
        from genoseq.data.variants import read_variants

        return read_variants(path)
    if kind == "bed":
        from genoseq.data.intervals import read_bed

        return read_bed(path)
    from genoseq.data.genome import Genome

    genome = Genome(path, cache_dir=tmp_path)  # the index/cache never lands beside the data
    return genome, genome.contigs


# ----------------------------------------------------------------------------- expected outcomes


@dataclass(frozen=True)
class Ok:
    check: Callable[[Any], None]


@dataclass(frozen=True)
class Fails:
    match: str  # regex searched in the error message
    line: int | None = None  # the line the error must name


def V(n_records: int, summary: dict[str, int], first: tuple | None = None) -> Ok:  # noqa: N802
    def check(vs: Any) -> None:
        assert vs.n_records == n_records
        assert dict(vs.summary()) == summary
        assert {v.record for v in vs} == set(range(n_records))  # every record gives a row
        if first is not None:
            assert (vs[0].chrom, vs[0].pos, vs[0].ref, vs[0].alt) == first

    return Ok(check)


def B(n: int, first: tuple, check: Callable[[list], None] | None = None) -> Ok:  # noqa: N802
    def run(intervals: list) -> None:
        assert len(intervals) == n
        i = intervals[0]
        assert (i.contig, i.start, i.end, i.name, i.strand)[: len(first)] == first
        if check is not None:
            check(intervals)

    return Ok(run)


def F(contigs: dict[str, int] | int, total: int | None = None, fetch: tuple | None = None) -> Ok:  # noqa: N802
    def run(result: Any) -> None:
        genome, got = result
        if isinstance(contigs, dict):
            assert got == contigs
        else:
            assert len(got) == contigs
        if total is not None:
            assert sum(got.values()) == total
        if fetch is not None:
            name, start, end, seq = fetch
            assert genome.fetch(name, start, end) == seq

    return Ok(run)


def _narrowpeak_columns(intervals: list) -> None:
    assert [i.extra for i in intervals][0] == ("182", "5.0945", "-1", "50")  # signal, p, q, peak
    assert all(len(i.extra) == 4 for i in intervals)


def _hla_contig(intervals: list) -> None:
    assert intervals[1].contig == "HLA-A*01:01:01:01"  # '*' and ':' in a contig name


def _bed12_blocks(intervals: list) -> None:
    assert all(len(i.extra) == 6 for i in intervals)
    assert intervals[0].extra[3] == "9"  # blockCount


GENES_FIRST = ("gi|563317589|dbj|AB821309.1|", 0, 10)

EXPECT: dict[str, Ok | Fails] = {
    # ---- FASTA -> Genome
    "htslib/auxf.fa": F({"Sheila": 20}, fetch=("Sheila", 0, 10, "GCTAGCTCAG")),
    "htslib/c1.fa": F({"c1": 10}, fetch=("c1", 0, 10, "AACCGCGGTT")),
    "htslib/md.fa": F({"a": 40}, fetch=("a", 15, 24, "CCCYNNRGG")),  # IUPAC R/Y kept in the text
    "htslib/xx.fa": F({"xx": 20, "yy": 20, "zz": 30}, fetch=("xx", 5, 15, "AAAAATTTTT")),
    "htslib/ce.fa": F(7, 1039800, fetch=("CHROMOSOME_I", 0, 10, "GCCTAAGCCT")),
    "htslib/faidx/faidx.fa": Fails(r"empty sequence name", line=1),
    "htslib/bgziptest.txt": Fails(r"expected a FASTA header", line=1),
    "htslib/bgziptest.txt.gz": Fails(r"expected a FASTA header", line=1),
    "pybedtools/genome.fa": F({"chr1": 10, "chr2": 20, "chr3": 30}, fetch=("chr1", 0, 10, "ACTGCTGCAG")),
    "pybedtools/test.fa": F({"chr1": 1800}, fetch=("chr1", 0, 10, "TGATGAGTCT")),
    "pyfaidx/issue_83.fasta": F({"MT": 119, "GL000207.1": 60}, fetch=("MT", 0, 10, "CTCCGGGCCC")),
    "pyfaidx/gene.bed12.fasta": F({"chr17:6010-31420(-)": 1073}, fetch=("chr17:6010-31420(-)", 0, 5, "CGGAG")),
    "pyfaidx/chr17.hg19.part.fa": F({"chr17": 40000}, fetch=("chr17", 0, 10, "AAGCTTCTCA")),
    "pyfaidx/genes.fasta": F(20, 69469, fetch=(*GENES_FIRST, "ATGGTCAGCT")),
    "pyfaidx/genes.fasta.lower": F(20, 69469, fetch=(*GENES_FIRST, "atggtcagct")),  # soft-masking kept
    "pyfaidx/issue_141.fasta": F(20, 69469, fetch=(*GENES_FIRST, "ATGGTCAGCT")),  # CRLF
    # ---- BED -> read_bed
    "htslib/tabix/bed_file.bed": B(15, ("X", 1000, 1100, "X1", "+")),
    "pybedtools/BEAF_Kc_Bushey_2009.bed": B(2995, ("chr2L", 65716, 65959)),
    "pybedtools/CTCF_Kc_Bushey_2009.bed": B(2264, ("chr2L", 65328, 65765)),
    "pybedtools/a.bed": B(4, ("chr1", 1, 100, "feature1", "+")),
    "pybedtools/b.bed": B(2, ("chr1", 155, 200, "feature5", "-")),
    "pybedtools/example.narrowPeak": B(3, ("chr1", 9356548, 9356648), _narrowpeak_columns),
    "pybedtools/hg38-base.bed": B(1, ("chr1", 2, 50)),
    "pybedtools/hg38-problem.bed": B(2, ("chr1", 1, 100), _hla_contig),
    "pybedtools/mm9.bed12": B(5, ("chr1", 4797973, 4836816, "Lypla1,uc007afh.1", "+"), _bed12_blocks),
    "pybedtools/rmsk.hg18.chr21.small.bed.gz": B(1000, ("chr21", 9719768, 9721892, "ALR/Alpha", "+")),
    "pyfaidx/gene.bed12": B(1, ("chr17", 6010, 31420, "uc010vpx.1", "-")),
    "pyfaidx/regions.bed": B(2, ("gi|563317589|dbj|AB821309.1|", 0, 999)),
    "pybedtools/bedpe.bed": Fails(r"strand \(column 6\)", line=1),  # BEDPE is not BED
    "pybedtools/test_bedpe.bed": Fails(r"strand \(column 6\)", line=1),
    "pybedtools/expand_test.bed": Fails(r"score \(column 5\)", line=1),
    "pyfaidx/malformed.bed": Fails(r"2 column\(s\); expected at least 3", line=1),
    # ---- VCF/BCF -> read_variants
    "cyvcf2/bug.vcf.gz": V(72, {"ok": 165, "skipped_missing_alt": 3}, ("7", 55086956, "C", "G")),
    "cyvcf2/decomposed.vcf": V(1, {"ok": 1}, ("3", 81262, "G", "A")),
    "cyvcf2/empty.vcf": Fails(r"empty file; expected a VCF/BCF"),
    "cyvcf2/issue_198.vcf": V(2, {"ok": 2}, ("chr1", 231373681, "T", "C")),
    "cyvcf2/issue_44.vcf": V(4, {"ok": 4}, ("2", 176938646, "A", "G")),
    "cyvcf2/multi-contig.bcf": V(9, {"ok": 11, "skipped_missing_alt": 2}, ("19", 111, "A", "C")),
    "cyvcf2/multi-contig.vcf.gz": V(9, {"ok": 11, "skipped_missing_alt": 2}, ("19", 111, "A", "C")),
    "cyvcf2/no-seq-len.vcf": V(1, {"ok": 1}, ("3", 81262, "G", "A")),
    "cyvcf2/no-seq-names.vcf": V(1, {"ok": 1}, ("3", 81262, "G", "A")),
    "cyvcf2/o.vcf.gz": V(2082, {"ok": 2087}, ("chr1", 3769970, "A", "G")),
    "cyvcf2/seg.vcf.gz": V(1, {"skipped_symbolic": 1}, ("1", 869423, "N", "<DEL>")),
    "cyvcf2/test-alt-repr.vcf": V(1, {"ok": 1}, ("1", 17363, "C", "T")),
    "cyvcf2/test-format-string.vcf": V(4, {"ok": 7}, ("7", 55086956, "C", "G")),
    "cyvcf2/test-genotypes.vcf": V(5, {"ok": 5}, ("1", 8466747, "A", "C")),
    "cyvcf2/test-haploidX.vcf": V(777, {"ok": 777}, ("chrX", 2700157, "G", "A")),
    "cyvcf2/test-hemi.vcf": V(2, {"ok": 2}, ("chr19", 11210912, "C", "T")),
    "cyvcf2/test-invalid-header.vcf": Fails(r"empty sample name", line=2),
    "cyvcf2/test-multiallelic-homozygous-alt.vcf.gz": V(1, {"ok": 1, "skipped_symbolic": 1}, ("3", 81262, "G", "A")),
    "cyvcf2/test-no-genotypes.vcf": V(1, {"ok": 1}, ("1", 8466747, "A", "T")),
    "cyvcf2/test-strict-gt-option-flag.vcf.gz": V(1, {"ok": 1}, ("MT", 310, "T", "C")),
    "cyvcf2/test.bug.117.vcf": V(3, {"ok": 3}, ("chr1", 4, "T", "C")),
    "cyvcf2/test.comp_het.3.vcf": V(6, {"ok": 6}, ("1", 17363, "TTCT", "T")),
    "cyvcf2/test.isa.vcf": V(5, {"ok": 4, "skipped_symbolic": 1}, ("chr1", 146999, "TCGGT", "<NON_REF>")),
    "cyvcf2/test.mnp.vcf": V(6, {"ok": 10}, ("NODE_1_length_348724_cov_30.410613", 146999, "TCGGT", "GCGGG")),
    "cyvcf2/test.snpeff.bcf": V(10, {"ok": 10}, ("chr1", 30548, "T", "G")),
    "cyvcf2/test.snpeff.vcf": V(10, {"ok": 10}, ("chr1", 30548, "T", "G")),
    "cyvcf2/test.warnings.vcf.gz": V(2, {"ok": 2}, ("chr1", 1447756, "G", "C")),
    "cyvcf2/test_gt_alt_freqs.vcf": V(6, {"ok": 6}, ("chr22", 16060, "C", "T")),
    "cyvcf2/test_gt_bases.vcf.gz": V(4, {"ok": 4}, ("chr22", 15658, "T", "C")),
    "htslib/bcf-sr/weird-chr-names.vcf": V(6, {"ok": 6}, ("1", 1, "C", "T")),
    "htslib/formatcols.vcf": V(1, {"ok": 1}, ("1", 100, "A", "T")),
    "htslib/formatmissing.vcf": V(1, {"ok": 1}, ("1", 100, "A", "T")),
    "htslib/index.vcf": V(621, {"ok": 2, "skipped_symbolic": 621}, ("1", 9999919, "G", "<*>")),
    "htslib/longrefs/index.vcf": V(192, {"skipped_symbolic": 192}, ("1", 10009999919, "G", "<*>")),
    "htslib/modhdr.vcf.gz": V(0, {}),  # header only
    "htslib/noroundtrip.vcf": Fails(r"record index 0: duplicate FORMAT key 'GT' in 'GT:GT'", line=6),
    "htslib/tabix/large_chr.vcf": V(12, {"ok": 12, "skipped_missing_alt": 1}, ("chr11", 2343543, "A", ".")),
    "htslib/tabix/vcf_file.vcf": V(15, {"ok": 322, "skipped_missing_alt": 1}, ("1", 3000150, "C", "T")),
    "htslib/test-vcf-hdr-in.vcf": V(10, {"ok": 10, "skipped_missing_alt": 2}, ("1", 12065947, "C", "T")),
    "htslib/vcf44_1.vcf": V(28, {"ok": 28}, ("1", 61462, "T", "A")),
    "htslib/vcf_meta_meta.vcf": V(1, {"ok": 1}, ("1", 123, "TC", "T")),
    "pybedtools/1000genomes-example.vcf": V(5, {"ok": 6, "skipped_missing_alt": 1}, ("20", 14370, "G", "A")),
    "pybedtools/issue319.vcf.gz": Fails(r"record index 0: expected 82 tab-separated columns .*found 10", line=3410),
    "pybedtools/v.vcf": Fails(r"separated by spaces; VCF columns must be separated by tabs", line=18),
    "pybedtools/vcf-stderr-test.vcf": V(2, {"skipped_symbolic": 2}, ("1", 36931668, "C", "<DT>")),
    "pyfaidx/chr22.vcf.gz": V(3489, {"ok": 3489}, ("1", 1105366, "T", "C")),
    # ---- FASTQ -> Genome must refuse it
    "pybedtools/small.fastq": Fails(r"FASTQ is not supported, expected FASTA", line=1),
    "fastq/ERR266411_1.first1000.fastq.gz": Fails(r"FASTQ is not supported, expected FASTA", line=1),
    "fastq/SRR835775_1.first1000.fastq.gz": Fails(r"FASTQ is not supported, expected FASTA", line=1),
}


def _files(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != "PROVENANCE.md")


CASES = [pytest.param(LOCAL, rel, id=f"local/{rel}") for rel in _files(LOCAL)]
CASES += [pytest.param(SHARED, rel, id=f"shared/{rel}") for rel in _files(SHARED)] or [
    pytest.param(SHARED, None, id="shared", marks=pytest.mark.skip(reason="../shared/data/parser_quirks not present"))
]


@pytest.mark.parametrize(("root", "rel"), CASES)
def test_quirk_file(root: Path, rel: str, tmp_path: Path) -> None:
    path = root / rel
    kind = loader_for(rel)
    if kind.startswith("skip:"):
        pytest.skip(kind[5:].strip())
    expected = EXPECT.get(rel)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "pyfaidx cannot index this file; read it into memory"
            result = load(kind, path, tmp_path)
    except GenoseqError as err:
        message = str(err)
        assert str(path) in message or path.name in message, f"error does not name the file: {message}"
        if isinstance(expected, Ok):
            pytest.fail(f"{rel} should load but raised: {message}")
        if isinstance(expected, Fails):
            assert re.search(expected.match, message), message
            if expected.line is not None:
                assert getattr(err, "line", None) == expected.line, message
                assert f"line {expected.line}" in message
        return
    except Exception as err:  # noqa: BLE001 - the point of the sweep
        pytest.fail(f"raw {type(err).__name__} escaped for {rel}: {err}")
    assert kind != "fastq", f"{rel}: FASTQ was accepted as a genome"
    assert not isinstance(expected, Fails), f"{rel} loaded but should fail with {expected.match!r}"
    if isinstance(expected, Ok):
        expected.check(result)


def test_expectations_cover_the_local_copies() -> None:
    """Every quirk file (copies, and ../shared when present) has an expected outcome or a skip reason
    (no silent 'no crash' cases)."""
    files = _files(LOCAL) + _files(SHARED)
    missing = [rel for rel in files if rel not in EXPECT and not loader_for(rel).startswith("skip:")]
    assert missing == []
    assert len([r for r in _files(LOCAL) if isinstance(EXPECT.get(r), Ok)]) >= 30
