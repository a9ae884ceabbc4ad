"""`genoseq embed | score-variants | ism | generate` end to end with a saved hyenadna-tiny model."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from genoseq.cli import app

DATA = Path(__file__).resolve().parents[1] / "data" / "infer"
runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    import torch

    from genoseq.model.build import build_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model")
    build_model("hyenadna-tiny").save_pretrained(path)
    return path


def _records(vcf: Path) -> list[tuple[str, int, str]]:
    opener = gzip.open if vcf.suffix == ".gz" else open
    out = []
    with opener(vcf, "rt") as fh:
        for line in fh:
            if not line.startswith("#") and line.strip():
                f = line.split("\t")
                out.append((f[0], int(f[1]), f[3]))
    return out


def _genome_for(vcf: Path, path: Path, mismatch: set[int] = frozenset()) -> Path:
    """Random genome with the VCF's contigs, REF written in at every record except those in ``mismatch``."""
    rng = np.random.default_rng(0)
    recs = _records(vcf)
    need: dict[str, int] = {}
    for chrom, pos, ref in recs:
        need[chrom] = max(need.get(chrom, 0), pos + len(ref) + 200)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    seqs = {chrom: letters[rng.integers(0, 4, n)] for chrom, n in need.items()}  # ASCII codes
    for i, (chrom, pos, ref) in enumerate(recs):
        if i not in mismatch:
            seqs[chrom][pos - 1 : pos - 1 + len(ref)] = np.frombuffer(ref.encode(), dtype=np.uint8)
    with open(path, "w") as fh:
        for chrom, seq in seqs.items():
            fh.write(f">{chrom}\n{seq.tobytes().decode()}\n")
    return path


def _tsv(path: Path) -> list[dict[str, str]]:
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["test.isa.vcf", "multi-contig.vcf.gz", "weird-chr-names.vcf"])
def test_score_variants_quirky_vcfs_tsv(tmp_path, model_dir, name):
    vcf = DATA / name
    genome = _genome_for(vcf, tmp_path / "g.fa", mismatch={0})
    out = tmp_path / "s.tsv"
    res = runner.invoke(app, ["score-variants", "--model", str(model_dir), "--genome", str(genome), "--vcf", str(vcf),
                              "--out", str(out), "--window", "32"])
    assert res.exit_code == 0, res.output
    rows = _tsv(out)
    from genoseq.data.variants import read_variants

    assert len(rows) == len(read_variants(vcf))  # one row per (record, ALT), skipped ones included
    statuses = {r["status"] for r in rows}
    assert "ok" in statuses
    for r in rows:
        assert (r["llr_sum"] not in ("", "nan")) == (r["status"] == "ok")
    if name == "test.isa.vcf":
        # records 2-5 overlap at 146999: REF TCGGT and REF TG cannot both match the genome
        assert [r["status"] for r in rows] == ["skipped_symbolic", "ref_mismatch", "ok", "ok", "ok"]
    if name == "multi-contig.vcf.gz":
        assert rows[0]["status"] == "ref_mismatch" or rows[0]["status"] == "ok"  # random base may match
        assert "skipped_missing_alt" in statuses


@pytest.mark.slow
def test_score_variants_vcf_output_keeps_every_record(tmp_path, model_dir):
    import pysam

    vcf = DATA / "multi-contig.vcf.gz"
    genome = _genome_for(vcf, tmp_path / "g.fa")
    out = tmp_path / "s.vcf.gz"
    res = runner.invoke(app, ["score-variants", "--model", str(model_dir), "--genome", str(genome), "--vcf", str(vcf),
                              "--out", str(out), "--window", "32", "--forward-only"])
    assert res.exit_code == 0, res.output
    with pysam.VariantFile(str(out)) as fh:
        assert "GENOSEQ_LLR_SUM" in fh.header.info and "GENOSEQ_STATUS" in fh.header.info
        recs = list(fh)
    assert len(recs) == 9
    assert recs[0].info["GENOSEQ_STATUS"] == ("ok",)
    assert isinstance(recs[0].info["GENOSEQ_LLR_SUM"][0], float)
    multi = recs[4]  # A -> G,T: one score per ALT
    assert len(multi.info["GENOSEQ_LLR_SUM"]) == 2
    assert recs[5].info["GENOSEQ_STATUS"] == ("skipped_missing_alt",)


def test_score_variants_errors(tmp_path, model_dir):
    res = runner.invoke(app, ["score-variants", "--model", str(tmp_path / "nope"), "--genome", "g.fa", "--vcf",
                              str(DATA / "test.isa.vcf"), "--out", str(tmp_path / "o.tsv")])
    assert res.exit_code == 2
    res = runner.invoke(app, ["score-variants", "--model", str(model_dir), "--genome", "g.fa", "--vcf",
                              str(DATA / "test.isa.vcf"), "--out", str(tmp_path / "o.txt")])
    assert res.exit_code == 2 and "must end in" in res.output


def test_embed_fasta_bed_and_sequences(tmp_path, model_dir):
    fa = tmp_path / "g.fa"
    rng = np.random.default_rng(1)
    fa.write_text(">a\n" + "".join(rng.choice(list("ACGT"), 300)) + "\n>b\n" + "".join(rng.choice(list("ACGT"), 50)) + "\n")
    bed = tmp_path / "r.bed"
    bed.write_text("a\t10\t60\tr1\t0\t+\nb\t0\t40\tr2\t0\t-\n")
    out = tmp_path / "e.npz"
    res = runner.invoke(app, ["embed", "--model", str(model_dir), "--fasta", str(fa), "--bed", str(bed), "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = np.load(out)
    assert data["ids"].tolist() == ["r1", "r2"] and data["embeddings"].shape == (2, 128)
    csv = tmp_path / "s.csv"
    csv.write_text("sequence,label\nACGTACGTAA,0\nGGGTTTCCCA,1\n")
    res = runner.invoke(app, ["embed", "--model", str(model_dir), "--sequences", str(csv), "--out", str(out),
                              "--layer", "1", "--rc-average"])
    assert res.exit_code == 0, res.output
    assert np.load(out)["labels"].tolist() == [0, 1]
    res = runner.invoke(app, ["embed", "--model", str(model_dir), "--out", str(out)])
    assert res.exit_code == 2 and "exactly one of" in res.output
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        res = runner.invoke(app, ["embed", "--model", str(model_dir), "--sequences", str(csv),
                                  "--out", str(tmp_path / "e.parquet")])
        assert res.exit_code == 2 and "genoseq[parquet]" in res.output


@pytest.mark.slow
def test_ism_and_generate(tmp_path, model_dir):
    fa = tmp_path / "g.fa"
    fa.write_text(">c\n" + "ACGTTGCAAGTCCGATAGGCTTACGATCGGATCCATGCAAGT" * 3 + "\n")
    out = tmp_path / "ism.tsv"
    res = runner.invoke(app, ["ism", "--model", str(model_dir), "--genome", str(fa), "--region", "c:20-24",
                              "--out", str(out), "--track", str(tmp_path / "t.bedgraph"),
                              "--heatmap", str(tmp_path / "h.png"), "--window", "33"])
    assert res.exit_code == 0, res.output
    rows = _tsv(out)
    assert len(rows) == 12 and all(r["status"] == "ok" for r in rows)
    assert len((tmp_path / "t.bedgraph").read_text().splitlines()) == 5
    assert (tmp_path / "h.png").stat().st_size > 1000
    gen = tmp_path / "gen.fa"
    res = runner.invoke(app, ["generate", "--model", str(model_dir), "--out", str(gen), "--length", "16", "-n", "2",
                              "--prompt", "ACGTAGGA", "--seed", "3", "--top-k", "3"])
    assert res.exit_code == 0, res.output
    lines = gen.read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith(">genoseq_sample_1") and len(lines[1]) == 16


def test_score_variants_embedding_method_to_vcf(tmp_path, model_dir):
    import pysam

    vcf = DATA / "test.isa.vcf"
    genome = _genome_for(vcf, tmp_path / "g.fa")
    out = tmp_path / "e.vcf"
    res = runner.invoke(app, ["score-variants", "--model", str(model_dir), "--genome", str(genome), "--vcf", str(vcf),
                              "--out", str(out), "--window", "24", "--method", "embedding", "--layer", "1",
                              "--pool-window", "5"])
    assert res.exit_code == 0, res.output
    with pysam.VariantFile(str(out)) as fh:
        recs = list(fh)
    assert len(recs) == 5 and "GENOSEQ_EMB_COSINE" in recs[0].header.info
    assert recs[0].info["GENOSEQ_STATUS"] == ("skipped_symbolic",)
    assert "GENOSEQ_EMB_L2" not in recs[0].info
    assert recs[4].info["GENOSEQ_EMB_L2"][0] > 0
