"""Inference paths on real (untrained) genoseq models: fast paths equal their references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

# Import the mixers at collection time: genoseq.ops._dispatch imports the submodules genoseq.ops.short_conv /
# selective_scan lazily on the first forward pass, which rebinds those package attributes to the modules, so a
# mixer module imported *after* a first Hyena forward would pick up a module instead of the function.
import genoseq.model.mamba  # noqa: F401
import genoseq.model.mamba2  # noqa: F401
from genoseq.infer.embed import embed
from genoseq.infer.generate import generate
from genoseq.infer.variants import score_variants


@pytest.fixture(scope="module")
def genome() -> dict[str, str]:
    rng = np.random.default_rng(11)
    return {"c1": "".join(rng.choice(list("ACGT"), 400)), "c2": "".join(rng.choice(list("ACGT"), 90))}


def _variants(genome):
    g = genome["c1"]
    alt = {"A": "C", "C": "G", "G": "T", "T": "A"}
    return [
        ("c1", 100, g[99], alt[g[99]]),
        ("c1", 100, g[99], alt[alt[g[99]]]),  # second ALT at the same position: shares prefix and ref suffix
        ("c1", 3, g[2], alt[g[2]]),  # clipped window
        ("c1", 200, g[199:202], g[199]),  # deletion
        ("c1", 250, g[249], g[249] + "GATT"),  # insertion
        ("c2", 88, genome["c2"][87], "N"),  # near the end of a short contig
    ]


def _model(preset: str):
    from genoseq.model.build import build_model

    torch.manual_seed(0)
    return build_model(preset).double().eval()


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["hyenadna-tiny", "mamba-tiny"])
def test_shared_prefix_llr_equals_two_full_passes(genome, preset):
    model = _model(preset)
    variants = _variants(genome)
    fast = score_variants(model, genome, variants, window=40, batch_size=4)
    naive = score_variants(model, genome, variants, window=40, fast=False)
    assert fast["status"] == ["ok"] * len(variants)
    np.testing.assert_allclose(fast["llr_fwd"], naive["llr_fwd"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast["llr_rev"], naive["llr_rev"], rtol=0, atol=1e-9)


def test_chunked_embedding_equals_one_pass_hyena(genome):
    model = _model("hyenadna-tiny")
    seqs = [genome["c1"][:200], genome["c2"]]
    whole = embed(model, seqs, chunk_size=512).array
    chunked = embed(model, seqs, chunk_size=53).array
    np.testing.assert_allclose(chunked, whole, rtol=1e-9, atol=1e-9)
    layers = embed(model, seqs, layer=0).array
    assert layers.shape == whole.shape and not np.allclose(layers, whole)


def test_greedy_generation_step_equals_full_forward():
    model = _model("hyenadna-tiny")
    a = generate(model, 12, prompt="ACGTAGGATTACA", num_samples=2, temperature=0)
    b = generate(model, 12, prompt="ACGTAGGATTACA", num_samples=2, temperature=0, use_cache=False)
    assert a == b


def test_masked_llr_and_embedding_on_bidirectional(genome):
    from genoseq.model.build import build_model
    from genoseq.model.presets import get_preset

    torch.manual_seed(0)  # caduceus-like shrunk to 2 layers of width 32 (the preset is slow on CPU)
    model = build_model(get_preset("caduceus-like").replace(n_layer=2, d_model=32)).double().eval()
    subs = [v for v in _variants(genome) if len(v[2]) == len(v[3])]
    table = score_variants(model, genome, subs, method="masked_llr", window=33)
    assert table["status"] == ["ok"] * len(subs)
    assert np.isfinite(table["masked_llr"]).all()
    # rc_equivariant: the reverse strand is mirrored, not run; running it gives the same numbers
    model.config = model.config.replace(rc_equivariant=False)
    both = score_variants(model, genome, subs, method="masked_llr", window=33)
    np.testing.assert_allclose(both["masked_llr_rev"], table["masked_llr_rev"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(both["masked_llr"], table["masked_llr"], rtol=0, atol=1e-10)
    emb = score_variants(model, genome, subs, method="embedding", window=33, pool_window=9)
    assert all(-1 <= c <= 1 + 1e-9 for c in emb["emb_cosine"]) and all(d > 0 for d in emb["emb_l2"])


def test_head_method_on_fine_tuned_model(genome):
    from genoseq.model.build import with_head

    model = with_head(_model("hyenadna-tiny"), "sequence", n_outputs=2).double().eval()
    table = score_variants(model, genome, _variants(genome)[:2], method="head", window=48)
    assert {"head_diff_0", "head_diff_1", "head_log_ratio_0"} <= set(table.columns)
    # probabilities of two classes: the differences cancel
    np.testing.assert_allclose(np.array(table["head_diff_0"]) + np.array(table["head_diff_1"]), 0, atol=1e-12)
