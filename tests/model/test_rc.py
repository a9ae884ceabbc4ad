"""Reverse-complement equivariance (RCPS) and the RCAverage wrapper."""

from __future__ import annotations

import pytest
import torch
from model_helpers import seeded_model, tiny_config

from genoseq.model.rc import RCAverage, complement_table, rc_hidden
from genoseq.tokenizer import PAD_ID, Tokenizer

RC_PATTERNS = ["H", "A", "M", "S", "HMSA"]


def _rc_config(pattern, **extra):
    return tiny_config(layer_pattern=pattern, n_layer=max(2, len(pattern)), bidirectional=True,
                       rc_equivariant=True, **extra)


@pytest.mark.parametrize("pattern", RC_PATTERNS)
def test_backbone_and_lm_head_are_rc_equivariant(pattern, ids):
    model = seeded_model(_rc_config(pattern))
    rc_ids = Tokenizer.reverse_complement(ids)
    with torch.no_grad():
        torch.testing.assert_close(model.backbone(rc_ids), rc_hidden(model.backbone(ids)), rtol=1e-10, atol=1e-10)
        logits, logits_rc = model(ids), model(rc_ids)
    comp = complement_table(logits.shape[-1])
    torch.testing.assert_close(logits_rc, logits.flip(1)[..., comp], rtol=1e-10, atol=1e-10)


def test_concat_combine_untied_is_rc_equivariant(ids):
    model = seeded_model(_rc_config("M", bidirectional_combine="concat", bidirectional_tie=False))
    with torch.no_grad():
        out = model.backbone(Tokenizer.reverse_complement(ids))
        torch.testing.assert_close(out, rc_hidden(model.backbone(ids)), rtol=1e-10, atol=1e-10)


def test_sequence_head_is_rc_invariant(ids):
    model = seeded_model(_rc_config("H", head="sequence", n_outputs=3))
    with torch.no_grad():
        torch.testing.assert_close(model(Tokenizer.reverse_complement(ids)), model(ids), rtol=1e-10, atol=1e-10)


def test_tied_projections_are_shared():
    model = seeded_model(tiny_config(layer_pattern="M", bidirectional=True))
    mixer = model.backbone.blocks[0].mixer
    assert mixer.rev.in_proj is mixer.fwd.in_proj and mixer.rev.out_proj is mixer.fwd.out_proj
    assert mixer.rev.conv1d is not mixer.fwd.conv1d if hasattr(mixer.fwd, "conv1d") else True


@pytest.mark.parametrize("head", ["lm", "token", "sequence"])
def test_rc_average_is_strand_symmetric(head):
    # any (non-equivariant) causal model: averaging over both strands makes it symmetric
    extra = {} if head == "lm" else {"head": head, "n_outputs": 2}
    model = seeded_model(tiny_config(layer_pattern="HA", **extra))
    avg = RCAverage(model)
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(5, 10, (2, 11), generator=g)
    ids[1, 8:] = PAD_ID  # a padded row: reverse-complemented within its length
    mask = ids != PAD_ID
    rc_ids = ids.clone()
    rc_ids[0] = Tokenizer.reverse_complement(ids[0])
    rc_ids[1, :8] = Tokenizer.reverse_complement(ids[1, :8])
    with torch.no_grad():
        a, b = avg(ids, mask), avg(rc_ids, mask)
    if head == "sequence":
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
        return
    # map b back to forward positions (within each row's length)
    back = b.clone()
    back[0] = b[0].flip(0)
    back[1, :8] = b[1, :8].flip(0)
    if head == "lm":
        back = back[..., complement_table(back.shape[-1])]
    torch.testing.assert_close(a[0], back[0], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(a[1, :8], back[1, :8], rtol=1e-10, atol=1e-10)
