"""Genome: FASTA/GenBank reading, token cache, padding, aliases and errors on messy input."""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest

from genoseq.data.genome import Genome
from genoseq.errors import GenoseqError, InputError
from genoseq.tokenizer import N_ID, PAD_ID, Tokenizer, reverse_complement_str

DATA = Path(__file__).resolve().parents[1] / "data"
HAND = DATA / "handmade"
GENOMES = DATA / "genomes"
LAMBDA = "gi|9626243|ref|NC_001416.1|"
TOK = Tokenizer()


def ids(seq: str) -> np.ndarray:
    return TOK.encode(seq)


@pytest.fixture(params=[True, False], ids=["cache", "nocache"])
def use_cache(request) -> bool:
    return request.param


def open_genome(path: Path, tmp_path: Path, **kw) -> Genome:
    return Genome(path, cache_dir=tmp_path / "cache", **kw)


# ---------------------------------------------------------------- exact content, hand-made
def test_two_contigs_exact(tmp_path, use_cache):
    g = open_genome(HAND / "two_contigs.fa", tmp_path, use_cache=use_cache)
    assert g.contigs == {"chr1": 13, "chr2": 10}
    assert g.fetch("chr1") == "ACGTacgtNNACG"
    assert g.fetch("chr1", 2, 6) == "GTac"
    assert g.fetch("chr1", 2, 6, strand="-") == "gtAC"
    assert g.fetch("chr2", 6, 10) == "GGCC"
    np.testing.assert_array_equal(g.tokens("chr1"), ids("ACGTACGTNNACG"))
    np.testing.assert_array_equal(g.tokens("chr1", 2, 6, strand="-"), ids("GTAC"))
    np.testing.assert_array_equal(g.soft_mask("chr1"), np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0], bool))
    np.testing.assert_array_equal(g.soft_mask("chr1", 3, 6, strand="-"), np.array([1, 1, 0], bool))
    tok, soft = g.tokens("chr2", 0, 10, return_soft_mask=True)
    np.testing.assert_array_equal(tok, ids("TTTTGGGGCC"))
    assert not soft.any()
    assert g.tokens("chr1", 5, 5).shape == (0,)


def test_strand_minus_is_reverse_complement_on_lambda(tmp_path, use_cache):
    g = open_genome(GENOMES / "NC_001416.1_lambda.fa", tmp_path, use_cache=use_cache)
    for start, end in [(0, 70), (1000, 2345), (48400, 48502)]:
        assert g.fetch(LAMBDA, start, end, strand="-") == reverse_complement_str(g.fetch(LAMBDA, start, end))
        np.testing.assert_array_equal(
            g.tokens(LAMBDA, start, end, strand="-"), Tokenizer.reverse_complement(g.tokens(LAMBDA, start, end))
        )


@pytest.mark.parametrize("name", ["crlf.fa", "no_trailing_newline.fa"])
def test_crlf_and_no_trailing_newline(tmp_path, use_cache, name):
    g = open_genome(HAND / name, tmp_path, use_cache=use_cache)
    if name == "crlf.fa":
        assert g.contigs == {"chr1": 13, "chr2": 10}
        assert g.fetch("chr1", 8, 13) == "NNACG"
        np.testing.assert_array_equal(g.tokens("chr2"), ids("TTTTGGGGCC"))
    else:
        assert g.contigs == {"chr1": 7}
        assert g.fetch("chr1") == "ACGTACG"
        np.testing.assert_array_equal(g.tokens("chr1"), ids("ACGTACG"))


def test_lambda_crlf_equals_lf(tmp_path):
    lf = open_genome(GENOMES / "NC_001416.1_lambda.fa", tmp_path)
    crlf = open_genome(GENOMES / "NC_001416.1_lambda.crlf.fa", tmp_path)
    assert lf.contigs == crlf.contigs == {LAMBDA: 48502}
    assert lf.fetch(LAMBDA) == crlf.fetch(LAMBDA)
    np.testing.assert_array_equal(lf.tokens(LAMBDA), crlf.tokens(LAMBDA))
    assert lf.fetch(LAMBDA, 0, 12) == "GGGCGGCGACCT"


def test_uneven_lines_read_in_memory_with_warning(tmp_path, use_cache):
    with pytest.warns(UserWarning, match="pyfaidx cannot index"):
        g = Genome(HAND / "uneven_lines.fa", cache_dir=tmp_path, use_cache=use_cache)
        g.fetch("chr1")
    assert g.fetch("chr1") == "ACGTACGTACGACGTAC"
    np.testing.assert_array_equal(g.tokens("chr2"), ids("GG"))
    assert not (tmp_path / "uneven_lines.fa.fai").exists()


def test_iupac_text_kept_tokens_n(tmp_path, use_cache):
    g = open_genome(HAND / "iupac.fa", tmp_path, use_cache=use_cache)
    assert g.fetch("chr1") == "ACRYTNacgtnw"
    np.testing.assert_array_equal(g.tokens("chr1"), ids("ACNNTNACGTNN"))


def test_utf8_sequence_name(tmp_path, use_cache):
    g = open_genome(HAND / "utf8_name.fa", tmp_path, use_cache=use_cache)
    assert g.contigs == {"Evo-\u03c64": 4}
    np.testing.assert_array_equal(g.tokens("Evo-\u03c64"), ids("ACGT"))
    bad = tmp_path / "latin1.fa"
    bad.write_bytes(b">caf\xe9\nACGT\n")
    with pytest.raises(InputError, match="latin1.fa, line 1: sequence name is not UTF-8"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Genome(bad).build_cache()


@pytest.mark.parametrize("name", ["two_contigs.fa", "crlf.fa", "uneven_lines.fa", "no_trailing_newline.fa", "iupac.fa"])
def test_chunked_scanner_independent_of_chunk_size(name):
    from genoseq.data._fasta import iter_fasta

    ref = [(r.name, r.header_line, r.seq) for r in iter_fasta(HAND / name)]
    for chunk in (1, 2, 3, 5, 8, 13):
        assert [(r.name, r.header_line, r.seq) for r in iter_fasta(HAND / name, chunk_size=chunk)] == ref
    if name == "two_contigs.fa":
        assert ref == [("chr1", 1, b"ACGTacgtNNACG"), ("chr2", 4, b"TTTTGGGGCC")]
    with pytest.raises(InputError, match="line 5: duplicate sequence name 'chr1'"):
        list(iter_fasta(HAND / "duplicate_names.fa", chunk_size=3))


# ---------------------------------------------------------------- cache vs fetch on real genomes
@pytest.mark.parametrize(
    "name,contig,length",
    [("NC_001416.1_lambda.fa", LAMBDA, 48502), ("MT-human.fa", "HS#NC_012920.1", 16569)],
)
def test_cache_equals_fetch_real_genomes(tmp_path, name, contig, length):
    cached = open_genome(GENOMES / name, tmp_path)
    cached.build_cache()
    naive = open_genome(GENOMES / name, tmp_path, use_cache=False)
    assert cached.contigs == naive.contigs == {contig: length}
    full = cached.tokens(contig)
    np.testing.assert_array_equal(full, naive.tokens(contig))
    np.testing.assert_array_equal(full, TOK.encode(naive.fetch(contig)))
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = int(rng.integers(0, length - 500))
        e = s + int(rng.integers(0, 500))
        strand = "-" if rng.random() < 0.5 else "+"
        np.testing.assert_array_equal(cached.tokens(contig, s, e, strand), naive.tokens(contig, s, e, strand))
    if name == "MT-human.fa":  # rCRS placeholder N at 0-based 3106, the only N
        assert full[3106] == N_ID
        assert np.count_nonzero(full == N_ID) == 1
        assert cached.fetch(contig, 3100, 3110) == "ATCTACNTTC"


def test_cache_slice_is_zero_copy_view(tmp_path):
    g = open_genome(GENOMES / "NC_001416.1_lambda.fa", tmp_path)
    window = g.tokens(LAMBDA, 1000, 1000 + 4096)
    assert window.dtype == np.uint8 and window.shape == (4096,)
    assert not window.flags.owndata and not window.flags.writeable
    assert g.cache_path.is_dir() and g.cache_path.parent == tmp_path / "cache"
    assert {p.suffix for p in g.cache_path.iterdir()} == {".json", ".tok"}  # no lowercase -> no mask file


def test_soft_mask_cached_equals_uncached(tmp_path):
    g = open_genome(HAND / "two_contigs.fa", tmp_path)
    g.build_cache()
    assert any(p.suffix == ".mask" for p in g.cache_path.iterdir())
    naive = open_genome(HAND / "two_contigs.fa", tmp_path, use_cache=False)
    for s in range(13):
        for e in range(s, 14):
            np.testing.assert_array_equal(g.soft_mask("chr1", s, e), naive.soft_mask("chr1", s, e))


def test_cache_invalidated_when_source_changes(tmp_path):
    src = tmp_path / "g.fa"
    src.write_bytes(b">c\nACGTACGT\n")
    g = Genome(src)
    np.testing.assert_array_equal(g.tokens("c"), ids("ACGTACGT"))
    assert (tmp_path / "g.fa.gstok" / "index.json").exists()  # beside the FASTA (writable dir)
    assert Genome(src).has_cache

    src.write_bytes(b">c\nTTTTACGTAA\n")  # modified content and size
    g2 = Genome(src)
    assert g2.contigs == {"c": 10}
    np.testing.assert_array_equal(g2.tokens("c"), ids("TTTTACGTAA"))

    before = (tmp_path / "g.fa.gstok" / "index.json").stat().st_mtime_ns
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touch only
    assert not Genome(src, use_cache=False).has_cache
    g3 = Genome(src)
    g3.tokens("c")
    assert (tmp_path / "g.fa.gstok" / "index.json").stat().st_mtime_ns != before
    assert g3.has_cache


def test_corrupt_cache_index_is_rebuilt(tmp_path):
    src = tmp_path / "g.fa"
    src.write_bytes(b">c\nACGT\n")
    Genome(src).build_cache()
    (tmp_path / "g.fa.gstok" / "index.json").write_text("{not json")
    np.testing.assert_array_equal(Genome(src).tokens("c"), ids("ACGT"))


def test_read_only_directory_uses_cache_dir_env(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    shutil.copy(HAND / "two_contigs.fa", ro / "g.fa")
    monkeypatch.setenv("GENOSEQ_CACHE_DIR", str(tmp_path / "usercache"))
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    try:
        g = Genome(ro / "g.fa")
        assert g.fetch("chr1", 0, 4) == "ACGT"
        np.testing.assert_array_equal(g.tokens("chr2", 0, 4), ids("TTTT"))
        assert sorted(p.name for p in ro.iterdir()) == ["g.fa"]  # nothing written beside the FASTA
        assert g.cache_path.parent == tmp_path / "usercache"
        assert g.has_cache
    finally:
        ro.chmod(0o755)


def test_read_only_bgzip_index_goes_to_cache_dir(tmp_path):
    pysam = pytest.importorskip("pysam")
    ro = tmp_path / "ro"
    ro.mkdir()
    pysam.tabix_compress(str(GENOMES / "NC_001416.1_lambda.fa"), str(ro / "lambda.fa.gz"))
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        g = Genome(ro / "lambda.fa.gz", cache_dir=tmp_path / "c", use_cache=False)
        assert g.format == "bgzip"
        assert g.fetch(LAMBDA, 100, 120) == "CTCTGAAAAGAAAGGAAACG"
        assert sorted(p.name for p in ro.iterdir()) == ["lambda.fa.gz"]
        assert sorted(p.suffix for p in (tmp_path / "c").iterdir()) == [".fai", ".gzi"]
    finally:
        ro.chmod(0o755)


# ---------------------------------------------------------------- compressed and GenBank input
def test_gzip_and_bgzip_fasta(tmp_path, use_cache):
    pysam = pytest.importorskip("pysam")
    plain = GENOMES / "NC_001416.1_lambda.fa"
    gz = tmp_path / "lambda.fa.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    bgz = tmp_path / "lambda.bgz.fa.gz"
    pysam.tabix_compress(str(plain), str(bgz))
    ref = open_genome(plain, tmp_path).tokens(LAMBDA)
    for path, fmt in [(gz, "gzip"), (bgz, "bgzip")]:
        g = open_genome(path, tmp_path, use_cache=use_cache)
        assert g.format == fmt
        assert g.contigs == {LAMBDA: 48502}
        np.testing.assert_array_equal(g.tokens(LAMBDA), ref)
        assert g.fetch(LAMBDA, 100, 120) == "CTCTGAAAAGAAAGGAAACG"


def test_genbank_equals_fasta(tmp_path, use_cache):
    gb = open_genome(GENOMES / "NC_045512.2.gbk", tmp_path, use_cache=use_cache)
    fa = open_genome(GENOMES / "NC_045512.2.fasta", tmp_path)
    assert gb.format == "genbank"
    assert gb.contigs == fa.contigs == {"NC_045512.2": 29903}
    assert gb.fetch("NC_045512.2") == fa.fetch("NC_045512.2")
    np.testing.assert_array_equal(gb.tokens("NC_045512.2", 100, 5000, "-"), fa.tokens("NC_045512.2", 100, 5000, "-"))


# ---------------------------------------------------------------- ranges and padding
def test_out_of_range_error_names_contig_range_and_length(tmp_path, use_cache):
    g = open_genome(HAND / "two_contigs.fa", tmp_path, use_cache=use_cache)
    with pytest.raises(InputError, match=r"chr1:10-20 is outside contig 'chr1' \(length 13\)"):
        g.tokens("chr1", 10, 20)
    with pytest.raises(InputError, match=r"chr2:-1-3 is outside contig 'chr2' \(length 10\)"):
        g.fetch("chr2", -1, 3)
    with pytest.raises(InputError, match="start 5 > end 2"):
        g.tokens("chr1", 5, 2, pad=True)
    with pytest.raises(InputError, match="strand must be"):
        g.tokens("chr1", 0, 2, strand="x")
    with pytest.raises(InputError, match="integers"):
        g.tokens("chr1", 0.5, 2)


def test_pad_at_contig_ends(tmp_path, use_cache):
    g = open_genome(HAND / "two_contigs.fa", tmp_path, use_cache=use_cache)
    P = PAD_ID
    left = g.tokens("chr2", -3, 2, pad=True)
    np.testing.assert_array_equal(left, [P, P, P, *ids("TT")])
    right = g.tokens("chr2", 8, 12, pad=True)
    np.testing.assert_array_equal(right, [*ids("CC"), P, P])
    both = g.tokens("chr2", -1, 11, pad=True)
    np.testing.assert_array_equal(both, [P, *ids("TTTTGGGGCC"), P])
    # minus strand: pad first, then reverse complement (PAD stays PAD)
    np.testing.assert_array_equal(g.tokens("chr2", 8, 12, strand="-", pad=True), [P, P, *ids("GG")])
    outside = g.tokens("chr2", 20, 25, pad=True)
    np.testing.assert_array_equal(outside, [P] * 5)
    tok, soft = g.tokens("chr1", -2, 6, pad=True, return_soft_mask=True)
    np.testing.assert_array_equal(soft, [0, 0, 0, 0, 0, 0, 1, 1])


# ---------------------------------------------------------------- contig names and aliases
def test_unknown_contig_lists_names(tmp_path):
    g = open_genome(HAND / "two_contigs.fa", tmp_path)
    with pytest.raises(InputError, match=r"unknown contig 'chr9'; the genome has 2 contigs: chr1, chr2") as err:
        g.tokens("chr9", 0, 1)
    assert "two_contigs.fa" in str(err.value)
    assert "chr9" not in g and "chr1" in g


def test_aliases(tmp_path):
    strict = open_genome(HAND / "aliases.fa", tmp_path)
    with pytest.raises(InputError, match=r"did you mean '1'\? \(pass aliases=True"):
        strict.fetch("chr1", 0, 2)
    g = open_genome(HAND / "aliases.fa", tmp_path, aliases=True)
    assert g.resolve("chr1") == "1"
    assert g.resolve("chrX") == "X"
    assert g.resolve("chrM") == g.resolve("chrMT") == g.resolve("M") == "MT"
    assert g.fetch("chrM", 0, 4) == "GGGG"
    np.testing.assert_array_equal(g.tokens("chrX", 0, 2), ids("CC"))
    with pytest.raises(InputError, match="unknown contig 'chrY'"):
        g.resolve("chrY")


# ---------------------------------------------------------------- messy input -> clear errors
@pytest.mark.parametrize(
    "name,pattern",
    [
        ("empty.fa", r"empty.fa: empty file"),
        ("blank_only.fa", r"blank_only.fa: no content"),
        ("empty_name.fa", r"empty_name.fa, line 3: header line '>' has an empty sequence name"),
        ("duplicate_names.fa", r"duplicate_names.fa, line 5: duplicate sequence name 'chr1' \(first defined at line 1\)"),
        ("seq_before_header.fa", r"seq_before_header.fa, line 1: expected a FASTA header line"),
        ("not_fasta.txt", r"not_fasta.txt, line 1: expected a FASTA header line starting with '>'"),
        ("does_not_exist.fa", r"does_not_exist.fa: file not found"),
    ],
)
def test_malformed_fasta_errors(tmp_path, name, pattern):
    with pytest.raises(InputError, match=pattern), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = open_genome(HAND / name, tmp_path)
        g.build_cache()
    assert not (HAND / (name + ".fai")).exists()


def test_other_formats_named(tmp_path):
    fq = tmp_path / "reads.fastq"
    fq.write_text("@r1\nACGT\n+\nIIII\n")
    with pytest.raises(InputError, match=r"reads.fastq, line 1: this looks like FASTQ .*FASTQ is not supported"):
        Genome(fq)
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n")
    with pytest.raises(InputError, match="looks like a VCF file"):
        Genome(vcf)


def test_sequence_before_header_mid_parse(tmp_path):
    src = tmp_path / "x.fa"
    src.write_bytes(b"\n>chr1\nAC\n")  # leading blank line is fine
    assert Genome(src).fetch("chr1") == "AC"


@pytest.mark.parametrize("use_cache", [True, False], ids=["build_cache", "fetch_path"])
def test_invalid_character_names_contig_position_and_line(tmp_path, use_cache):
    g = open_genome(HAND / "invalid_char.fa", tmp_path, use_cache=use_cache)
    assert g.fetch("chr2") == "ACGTACCXCCGG"  # text is returned as written
    pattern = r"invalid_char.fa, line 5: invalid nucleotide 'X' \(byte 88\) in contig 'chr2' at position 7"
    with pytest.raises(InputError, match=pattern):
        g.tokens("chr2", 0, 12)
    ok = open_genome(HAND / "invalid_char.fa", tmp_path / "n", use_cache=use_cache, unknown_to_n=True)
    np.testing.assert_array_equal(ok.tokens("chr2"), ids("ACGTACCNCCGG"))


def test_errors_are_genoseq_errors_not_raw(tmp_path):
    bad = tmp_path / "bin.fa"
    bad.write_bytes(b">c\nAC\xffGT\n")
    g = Genome(bad)
    with pytest.raises(GenoseqError):
        g.fetch("c")
    with pytest.raises(GenoseqError):
        g.tokens("c")


# ---------------------------------------------------------------- workers
def test_pickle_drops_handles(tmp_path):
    g = open_genome(GENOMES / "NC_001416.1_lambda.fa", tmp_path)
    g.tokens(LAMBDA, 0, 10)
    blob = pickle.dumps(g)
    assert len(blob) < 10_000  # no memory-mapped genome inside
    g2 = pickle.loads(blob)
    np.testing.assert_array_equal(g2.tokens(LAMBDA, 500, 900), g.tokens(LAMBDA, 500, 900))
    assert g2.fetch(LAMBDA, 0, 5) == "GGGCG"


def test_bundled_genome_never_writes_into_the_package(tmp_path, monkeypatch):
    import genoseq.bundled

    monkeypatch.setenv("GENOSEQ_CACHE_DIR", str(tmp_path))
    folder = genoseq.bundled.path("phage_lambda").parent
    before = sorted(p.name for p in folder.iterdir())
    genome = Genome(genoseq.bundled.path("phage_lambda"))
    contig = next(iter(genome.contigs))
    assert genome.fetch(contig, 0, 10) == "GGGCGGCGAC"
    assert genome.cache_path.is_relative_to(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == before
