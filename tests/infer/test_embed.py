"""Embeddings: exact values on the toy model, padding ignored, chunked prefill == one pass, inputs, saving."""

from __future__ import annotations

import numpy as np
import pytest

from genoseq.errors import ConfigError, DependencyError
from genoseq.infer.embed import Embeddings, embed
from genoseq.tokenizer import Tokenizer, reverse_complement_str

TOK = Tokenizer()


def toy_layers(model, seq: str) -> list[np.ndarray]:
    """Numpy re-implementation of the toy backbone: [embedding, EMA, tanh(EMA)], each (L, D)."""
    E = model.backbone.E.detach().numpy()
    h, ema = np.zeros(E.shape[1]), []
    for t in TOK.encode(seq):
        h = model.backbone.decay * h + E[t]
        ema.append(h)
    ema = np.array(ema)
    return [E[TOK.encode(seq)], ema, np.tanh(ema)]


SEQS = ["ACGTTGCA", "GGGAAACCCTTTAAGG", "TTA"]


@pytest.mark.parametrize("layer", [-1, 1, 0])
def test_mean_pooling_ignores_padding(toy_lm, layer):
    result = embed(toy_lm, SEQS, layer=layer, batch_size=8)
    assert result.ids == ["0", "1", "2"]
    assert result.array.shape == (3, 4) and result.array.dtype == np.float32
    for row, seq in zip(result.array, SEQS, strict=True):
        np.testing.assert_allclose(row, toy_layers(toy_lm, seq)[layer].mean(0), rtol=1e-6)


def test_max_last_and_per_token(toy_lm):
    mx = embed(toy_lm, SEQS, pooling="max").array
    last = embed(toy_lm, SEQS, pooling="last").array
    tok = embed(toy_lm, SEQS, pooling=None)
    assert tok.array.shape == (3, 16, 4)
    assert tok.lengths.tolist() == [8, 16, 3]
    for i, seq in enumerate(SEQS):
        ref = toy_layers(toy_lm, seq)[-1]
        np.testing.assert_allclose(mx[i], ref.max(0), rtol=1e-6)
        np.testing.assert_allclose(last[i], ref[-1], rtol=1e-6)
        np.testing.assert_allclose(tok.array[i, : len(seq)], ref, rtol=1e-6)
        assert not tok.array[i, len(seq) :].any()


@pytest.mark.parametrize("pooling", ["mean", "max", "last", None])
def test_chunked_prefill_matches_one_pass(toy_lm, pooling):
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), n)) for n in (30, 7, 19)]
    whole = embed(toy_lm, seqs, pooling=pooling, chunk_size=64).array
    chunked = embed(toy_lm, seqs, pooling=pooling, chunk_size=7).array
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-7)


def test_chunked_needs_final_layer(toy_lm):
    with pytest.raises(ConfigError, match="final layer"):
        embed(toy_lm, ["ACGT" * 5], layer=1, chunk_size=4)


def test_rc_average(toy_lm):
    got = embed(toy_lm, SEQS, rc_average=True).array
    tok = embed(toy_lm, SEQS, rc_average=True, pooling=None, chunk_size=5).array
    for i, seq in enumerate(SEQS):
        f = toy_layers(toy_lm, seq)[-1]
        r = toy_layers(toy_lm, reverse_complement_str(seq))[-1]
        np.testing.assert_allclose(got[i], (f.mean(0) + r.mean(0)) / 2, rtol=1e-6)
        np.testing.assert_allclose(tok[i, : len(seq)], (f + r[::-1]) / 2, rtol=1e-6, atol=1e-7)


def test_unpacks_and_dict_input(toy_lm):
    ids, X = embed(toy_lm, {"a": "ACGT", "b": "TTTT"})
    assert ids == ["a", "b"] and X.shape == (2, 4)


def test_bad_inputs(toy_lm):
    from genoseq.errors import InputError

    with pytest.raises(InputError, match="invalid nucleotide"):
        embed(toy_lm, ["ACGX"])
    with pytest.raises(ConfigError, match="pooling"):
        embed(toy_lm, ["ACGT"], pooling="median")
    with pytest.raises(ConfigError, match="layer 7"):
        embed(toy_lm, ["ACGT"], layer=7)


def test_fasta_and_bed(tmp_path, toy_lm):
    fa = tmp_path / "g.fa"
    fa.write_text(">c1\nACGTACGTTTGACA\n>c2\nGGGCCCAT\n")
    bed = tmp_path / "r.bed"
    bed.write_text("c1\t2\t9\tpeak1\t0\t-\nc2\t0\t5\n")
    whole = embed(toy_lm, fa)
    assert whole.ids == ["c1", "c2"]
    np.testing.assert_allclose(whole.array[1], toy_layers(toy_lm, "GGGCCCAT")[-1].mean(0), rtol=1e-6)
    regions = embed(toy_lm, fa, regions=bed)
    assert regions.ids == ["peak1", "c2:0-5(+)"]
    rc = reverse_complement_str("GTACGTT")
    np.testing.assert_allclose(regions.array[0], toy_layers(toy_lm, rc)[-1].mean(0), rtol=1e-6)


def test_task_input_keeps_labels(tmp_path, toy_lm):
    csv = tmp_path / "train.csv"
    csv.write_text("sequence,label\nACGTAC,0\nTTTGGA,1\nGACATT,1\n")
    result = embed(toy_lm, csv)
    assert len(result) == 3 and result.labels.tolist() == [0, 1, 1]
    assert result.splits is not None and len(result.splits) == 3


def test_save_npz_and_parquet(tmp_path, toy_lm):
    result = embed(toy_lm, {"x": "ACGT", "y": "GGCA"})
    path = result.save(tmp_path / "e.npz")
    data = np.load(path)
    assert data["ids"].tolist() == ["x", "y"]
    np.testing.assert_array_equal(data["embeddings"], result.array)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        with pytest.raises(DependencyError, match="parquet"):
            result.save(tmp_path / "e.parquet")
    else:
        table = pq.read_table(result.save(tmp_path / "e.parquet"))
        assert table.column("id").to_pylist() == ["x", "y"]
    assert isinstance(result, Embeddings)
    with pytest.raises(ConfigError, match="npz or .parquet"):
        result.save(tmp_path / "e.csv")
