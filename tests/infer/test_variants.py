"""Variant scores against values computed independently from the toy models' known log-probabilities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genoseq.errors import ConfigError
from genoseq.infer.variants import score_variants
from genoseq.tokenizer import Tokenizer, reverse_complement_str

TOK = Tokenizer()


def ll(model, seq: str) -> float:
    return float(model.reference_logprobs(TOK.encode(seq)).sum())


def expected_llr(model, genome, chrom, pos, ref, alt, width):
    """Independent re-derivation of the llr windows (see genoseq.infer.windows) and scores."""
    g = genome[chrom]
    start, lr, la = pos - 1, len(ref), len(alt)
    ws0 = start + (lr - width) // 2
    ws, we = max(0, ws0), min(len(g), ws0 + width)
    L = we - ws
    extra = max(lr - la, 0)
    fwd_alt = (g[ws:start] + alt + g[start + lr : min(len(g), we + extra)])[:L]
    fwd_ref = g[ws:we][: len(fwd_alt)]
    rev_alt = (g[max(0, ws - extra) : start] + alt + g[start + lr : we])[-L:]
    rev_ref = g[ws:we][L - len(rev_alt) :]
    fwd = ll(model, fwd_alt) - ll(model, fwd_ref)
    rev = ll(model, reverse_complement_str(rev_alt)) - ll(model, reverse_complement_str(rev_ref))
    return fwd, rev, len(fwd_ref) - 1


CASES = [
    ("chr1", 60, None, "T"),  # SNV mid-contig
    ("chr1", 2, None, "G"),  # window clipped at the contig start
    ("chr1", 1, None, "G"),  # first base: empty shared prefix on the forward strand
    ("chr1", 119, None, "C"),  # clipped at the end
    ("chr1", 40, 3, None),  # deletion of 2 bases (REF 3 bases, ALT its first)
    ("chr1", 50, 1, "ACG"),  # insertion
    ("chr2", 28, 3, None),  # deletion near the contig end: alt window short, ref trimmed
    ("chr1", 70, 2, "AA"),  # MNP
]


def _variants(genome):
    out = []
    for chrom, pos, rlen, alt in CASES:
        ref = genome[chrom][pos - 1 : pos - 1 + (rlen or 1)]
        if alt is None:
            alt = ref[0]
        if rlen is None:  # SNV: pick a base that differs
            alt = alt if alt != ref else "A" if ref != "A" else "C"
        if rlen == 2:
            alt = "".join("A" if b != "A" else "C" for b in ref)
        out.append((chrom, pos, ref, alt))
    return out


@pytest.mark.parametrize("width", [21, 16])
@pytest.mark.parametrize("fast", [True, False])
def test_llr_exact(toy_lm, toy_genome, width, fast):
    variants = _variants(toy_genome)
    table = score_variants(toy_lm, toy_genome, variants, method="llr", window=width, fast=fast, batch_size=3)
    assert len(table) == len(variants)
    for row, (chrom, pos, ref, alt) in zip(table, variants, strict=True):
        assert row["status"] == "ok", row["message"]
        fwd, rev, n = expected_llr(toy_lm, toy_genome, chrom, pos, ref, alt, width)
        assert row["llr_fwd"] == pytest.approx(fwd, abs=1e-10)
        assert row["llr_rev"] == pytest.approx(rev, abs=1e-10)
        assert row["llr_sum"] == pytest.approx((fwd + rev) / 2, abs=1e-10)
        assert row["llr_mean"] == pytest.approx((fwd + rev) / 2 / n, abs=1e-12)


def test_llr_forward_only(toy_lm, toy_genome):
    (v,) = _variants(toy_genome)[:1]
    row = score_variants(toy_lm, toy_genome, [v], window=21, rc_average=False)[0]
    fwd, _, _ = expected_llr(toy_lm, toy_genome, *v, 21)
    assert row["llr_sum"] == pytest.approx(fwd, abs=1e-10)
    assert math.isnan(row["llr_rev"])


def test_shared_prefix_computes_less(toy_lm, toy_genome):
    """Three ALTs at one position share one prefix and one ref suffix per strand."""
    g = toy_genome["chr1"]
    ref = g[59]
    variants = [("chr1", 60, ref, b) for b in "ACGT" if b != ref]
    fast = score_variants(toy_lm, toy_genome, variants, window=21)
    n_fast = toy_lm.n_forward_tokens
    toy_lm.n_forward_tokens = 0
    naive = score_variants(toy_lm, toy_genome, variants, window=21, fast=False)
    assert toy_lm.n_forward_tokens == 3 * 2 * 2 * 21
    # prefix 10 tokens + (ref + 3 alts) x 11-token suffixes, per strand
    assert n_fast == 2 * (10 + 4 * 11)
    np.testing.assert_allclose(fast["llr_sum"], naive["llr_sum"], rtol=0, atol=1e-10)


def test_skipped_rows_keep_order_and_reason(toy_lm, toy_genome):
    g = toy_genome["chr1"]
    bad_ref = "A" if g[9] != "A" else "C"
    variants = [
        ("chr1", 10, bad_ref, "G"),  # REF mismatch
        ("chr1", 20, g[19], "<DEL>"),  # symbolic
        ("chr1", 200, "A", "C"),  # out of range
        ("1", 30, g[29], "A" if g[29] != "A" else "C"),  # alias chr1 <- 1
        ("chrX", 5, "A", "C"),  # unknown contig
        ("chr1", 40, g[39], "A,C"),  # multi-allelic in one row
        ("chr1", 41, g[40], g[40]),  # no change
        ("chr1", 42, g[41], "*"),
    ]
    table = score_variants(toy_lm, toy_genome, variants, window=21)
    statuses = table["status"]
    assert statuses == ["ref_mismatch", "skipped_symbolic", "out_of_range", "ok", "unknown_contig",
                        "multiallelic", "no_change", "skipped_spanning_deletion"]
    assert table["index"] == list(range(8))
    assert "does not match the genome" in table[0]["message"]
    assert all(math.isnan(r["llr_sum"]) for r in table if r["status"] != "ok")
    assert not math.isnan(table[3]["llr_sum"])


def test_rc_symmetry(toy_lm, toy_genome):
    """Scoring the reverse-complemented genome and variants gives the same scores.

    Exact when window - len(REF) is even (centring without a half-base tie): odd window, odd REF."""
    rc_genome = {k: reverse_complement_str(v) for k, v in toy_genome.items()}
    variants = _variants(toy_genome)
    rc_variants = []
    for chrom, pos, ref, alt in variants:
        n = len(toy_genome[chrom])
        if len(ref) == len(alt) and len(ref) % 2 == 1:
            rc_variants.append((chrom, n - (pos - 1 + len(ref)) + 1, reverse_complement_str(ref),
                                reverse_complement_str(alt)))
    subs = [v for v in variants if len(v[2]) == len(v[3]) and len(v[2]) % 2 == 1]
    a = score_variants(toy_lm, toy_genome, subs, window=21)
    b = score_variants(toy_lm, rc_genome, rc_variants, window=21)
    np.testing.assert_allclose(a["llr_sum"], b["llr_sum"], atol=1e-10)
    np.testing.assert_allclose(a["llr_fwd"], b["llr_rev"], atol=1e-10)


def test_masked_llr_exact(toy_mlm, toy_genome):
    g = toy_genome["chr1"]
    pos = 50
    ref = g[pos - 1]
    alt = "G" if ref != "G" else "T"
    row = score_variants(toy_mlm, toy_genome, [("chr1", pos, ref, alt), ("chr1", 52, g[51], "N" + g[52])],
                         method="masked_llr", window=21)
    A, B = toy_mlm.A.detach().numpy(), toy_mlm.B.detach().numpy()

    def lp(left, right, base):
        z = A[TOK.encode(left)[0]] + B[TOK.encode(right)[0]]
        return z[TOK.encode(base)[0]] - np.log(np.exp(z).sum())

    fwd = lp(g[pos - 2], g[pos], alt) - lp(g[pos - 2], g[pos], ref)
    rc = reverse_complement_str
    rev = lp(rc(g[pos]), rc(g[pos - 2]), rc(alt)) - lp(rc(g[pos]), rc(g[pos - 2]), rc(ref))
    assert row[0]["masked_llr_fwd"] == pytest.approx(fwd, abs=1e-12)
    assert row[0]["masked_llr_rev"] == pytest.approx(rev, abs=1e-12)
    assert row[0]["masked_llr"] == pytest.approx((fwd + rev) / 2, abs=1e-12)
    assert row[1]["status"] == "unsupported"


def test_masked_llr_needs_bidirectional(toy_lm, toy_genome):
    with pytest.raises(ConfigError, match="bidirectional"):
        score_variants(toy_lm, toy_genome, [("chr1", 50, toy_genome["chr1"][49], "N")], method="masked_llr")


def test_llr_needs_causal(toy_mlm, toy_genome):
    with pytest.raises(ConfigError, match="causal"):
        score_variants(toy_mlm, toy_genome, [("chr1", 50, toy_genome["chr1"][49], "N")], method="llr")


def test_head_exact(toy_head, toy_genome):
    g = toy_genome["chr1"]
    ref = g[59]
    alt = "A" if ref != "A" else "C"
    row = score_variants(toy_head, toy_genome, [("chr1", 60, ref, alt)], method="head", window=21)[0]
    w = toy_head.w.detach().numpy()
    win = g[49:70]  # start 59 + (1 - 21) // 2 = 49
    alt_win = win[:10] + alt + win[11:]

    def p(s):
        return 1 / (1 + np.exp(-w[TOK.encode(s)].mean()))

    # the toy head is strand-blind only through composition: compute both strands explicitly
    pr = (p(win) + p(reverse_complement_str(win))) / 2
    pa = (p(alt_win) + p(reverse_complement_str(alt_win))) / 2
    assert row["head_diff"] == pytest.approx(pa - pr, abs=1e-12)
    assert row["head_log_ratio"] == pytest.approx(np.log(pa / pr), abs=1e-12)


def test_embedding_scores(toy_lm, toy_genome):
    g = toy_genome["chr1"]
    ref = g[59]
    alt = "A" if ref != "A" else "C"
    rows = score_variants(toy_lm, toy_genome, [("chr1", 60, ref, alt)], method="embedding", window=21,
                          layer=1, pool_window=5, rc_average=False)
    E = toy_lm.backbone.E.detach().numpy()

    def emb(s):
        h, out = np.zeros(E.shape[1]), []
        for t in TOK.encode(s):
            h = 0.7 * h + E[t]
            out.append(h)
        return np.array(out)[8:13].mean(0)  # variant at offset 10, pool 5 -> [8, 13)

    win = g[49:70]
    er, ea = emb(win), emb(win[:10] + alt + win[11:])
    cos = er @ ea / np.linalg.norm(er) / np.linalg.norm(ea)
    assert rows[0]["emb_cosine"] == pytest.approx(cos, abs=1e-12)
    assert rows[0]["emb_l2"] == pytest.approx(np.linalg.norm(er - ea), abs=1e-12)


def test_unknown_method(toy_lm, toy_genome):
    with pytest.raises(ConfigError, match="unknown method"):
        score_variants(toy_lm, toy_genome, [], method="magic")


def test_table_tsv(tmp_path, toy_lm, toy_genome):
    g = toy_genome["chr1"]
    table = score_variants(toy_lm, toy_genome, [("chr1", 60, g[59], "N"), ("chrZ", 1, "A", "C")], window=21)
    out = table.to_tsv(tmp_path / "s.tsv")
    lines = out.read_text().splitlines()
    assert lines[0].split("\t")[:8] == ["index", "record", "chrom", "pos", "ref", "alt", "status", "message"]
    assert len(lines) == 3 and lines[2].split("\t")[6] == "unknown_contig"


def test_blocks_and_progress(toy_lm, toy_genome, monkeypatch):
    import genoseq.infer.variants as mod

    variants = _variants(toy_genome) + [("chrZ", 1, "A", "C")]
    whole = score_variants(toy_lm, toy_genome, variants, window=21)
    monkeypatch.setattr(mod, "BLOCK", 2)
    seen: list[int] = []
    blocks = score_variants(toy_lm, toy_genome, variants, window=21, progress=seen.append)
    np.testing.assert_allclose(blocks["llr_sum"], whole["llr_sum"], atol=1e-12)
    assert blocks["status"] == whole["status"]
    assert seen == sorted(seen) and seen[-1] == 2 * (len(variants) - 1)  # units: (variant, strand), ok ones
