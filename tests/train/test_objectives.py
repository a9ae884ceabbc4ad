"""Masking and LM losses on hand-built cases."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genoseq.tokenizer import A_ID, C_ID, G_ID, MASK_ID, N_ID, PAD_ID, T_ID
from genoseq.train.objectives import (
    IGNORE,
    bits_per_base,
    causal_lm_loss,
    mask_tokens,
    masked_lm_loss,
    perplexity,
    target_weights,
)


def test_mask_tokens_bases_only_80_10_10():
    rng = np.random.default_rng(0)
    ids = np.array([A_ID, C_ID, G_ID, T_ID] * 50_000 + [N_ID] * 1000 + [PAD_ID] * 1000, dtype=np.uint8)
    inputs, labels = mask_tokens(ids, rng, 0.15)
    selected = labels != IGNORE
    assert not selected[-2000:].any()  # N and PAD never selected
    assert selected[:200_000].mean() == pytest.approx(0.15, abs=0.005)
    assert np.array_equal(labels[selected], ids[selected])
    chosen = inputs[selected]
    masked = (chosen == MASK_ID).mean()
    unchanged = (chosen == ids[selected]).mean()
    assert masked == pytest.approx(0.8, abs=0.01)
    # 10% random base (a quarter of those equal the original) + 10% kept
    assert unchanged == pytest.approx(0.1 + 0.1 / 4, abs=0.01)
    assert np.isin(chosen, [MASK_ID, A_ID, C_ID, G_ID, T_ID]).all()
    assert np.array_equal(inputs[~selected], ids[~selected])
    again = mask_tokens(ids, np.random.default_rng(0), 0.15)
    assert np.array_equal(again[0], inputs) and np.array_equal(again[1], labels)


def test_target_weights_pad_n_softmask():
    ids = torch.tensor([[A_ID, N_ID, PAD_ID, C_ID, G_ID]])
    soft = torch.tensor([[False, False, False, True, False]])
    assert target_weights(ids, soft, True, 0.5).tolist() == [[1.0, 0.0, 0.0, 0.5, 1.0]]
    assert target_weights(ids, None, False, 1.0).tolist() == [[1.0, 1.0, 0.0, 1.0, 1.0]]


def test_causal_loss_equals_hand_computation():
    torch.manual_seed(0)
    ids = torch.tensor([[A_ID, C_ID, N_ID, G_ID, T_ID, PAD_ID]])
    soft = torch.tensor([[False, False, False, True, False, False]])
    logits = torch.randn(1, 6, 10, dtype=torch.float64)
    loss, weight = causal_lm_loss(logits, ids, soft, exclude_n=True, soft_mask_weight=0.25)
    ce = F.cross_entropy(logits[0, :-1].float(), ids[0, 1:], reduction="none")
    # targets C, N (excluded), G (soft, 0.25), T, PAD (ignored)
    expected = (ce[0] + 0.25 * ce[2] + ce[3]) / 2.25
    assert weight.item() == pytest.approx(2.25)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_masked_lm_loss_only_selected():
    torch.manual_seed(1)
    logits = torch.randn(2, 4, 10)
    labels = torch.tensor([[IGNORE, C_ID, IGNORE, IGNORE], [A_ID, IGNORE, IGNORE, T_ID]])
    loss, weight = masked_lm_loss(logits, labels)
    ce = [F.cross_entropy(logits[0, 1], labels[0, 1]), F.cross_entropy(logits[1, 0], labels[1, 0]),
          F.cross_entropy(logits[1, 3], labels[1, 3])]
    assert weight.item() == 3
    assert loss.item() == pytest.approx(sum(c.item() for c in ce) / 3, rel=1e-6)


def test_uniform_model_is_two_bits_per_base():
    logits = torch.full((1, 9, 10), -1e9)
    logits[..., A_ID : T_ID + 1] = 0.0  # uniform over ACGT
    ids = torch.tensor([[A_ID, C_ID, G_ID, T_ID, A_ID, C_ID, G_ID, T_ID, A_ID]])
    loss, _ = causal_lm_loss(logits, ids)
    assert bits_per_base(loss.item()) == pytest.approx(2.0, rel=1e-6)
    assert perplexity(loss.item()) == pytest.approx(4.0, rel=1e-6)
    assert perplexity(1e6) == pytest.approx(math.exp(50.0))
