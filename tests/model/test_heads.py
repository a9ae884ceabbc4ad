"""Heads: pooling over non-pad positions (hand-set values), output shapes, with_head."""

from __future__ import annotations

import pytest
import torch
from model_helpers import seeded_model, tiny_config

from genoseq.model.build import with_head
from genoseq.model.heads import SequenceHead, pool
from genoseq.tokenizer import PAD_ID


def _hand_case():
    h = torch.tensor([[[1.0, -1.0], [3.0, 5.0], [100.0, 100.0]],
                      [[2.0, 0.0], [-4.0, 7.0], [6.0, 1.0]]], dtype=torch.float64)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    return h, mask


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("mean", [[2.0, 2.0], [4.0 / 3.0, 8.0 / 3.0]]),
        ("last", [[3.0, 5.0], [6.0, 1.0]]),
        ("cls", [[1.0, -1.0], [2.0, 0.0]]),
        ("max", [[3.0, 5.0], [6.0, 7.0]]),
    ],
)
def test_pooling_ignores_pad_exact(how, expected):
    h, mask = _hand_case()
    torch.testing.assert_close(pool(h, mask, how), torch.tensor(expected, dtype=torch.float64))


def test_sequence_head_hand_set_weights():
    h, mask = _hand_case()
    head = SequenceHead(2, 1, pooling="mean", task="regression").double()
    with torch.no_grad():
        head.proj.weight.copy_(torch.tensor([[1.0, 10.0]]))
        head.proj.bias.fill_(0.5)
    torch.testing.assert_close(head(h, mask), torch.tensor([[22.5], [1.0 / 3.0 * 4 + 80.0 / 3.0 + 0.5]],
                                                           dtype=torch.float64))


@pytest.mark.parametrize("pooling", ["mean", "last", "max", "cls"])
def test_trailing_pad_does_not_change_sequence_output(pooling, ids):
    model = seeded_model(tiny_config(layer_pattern="HA", head="sequence", n_outputs=3, pooling=pooling))
    padded = torch.cat([ids, torch.full((2, 5), PAD_ID)], dim=1)
    with torch.no_grad():
        out = model(ids)
        assert out.shape == (2, 3)
        torch.testing.assert_close(model(padded), out, rtol=1e-10, atol=1e-10)


def test_token_head_and_with_head(ids):
    lm = seeded_model(tiny_config(layer_pattern="H"))
    assert lm(ids).shape == (2, 19, 10)
    tok = with_head(lm, "token", n_outputs=4)
    assert tok.backbone is lm.backbone and tok.head_type == "token"
    assert tok(ids).shape == (2, 19, 4) and tok(ids).dtype == torch.float64
    seq = with_head(lm.backbone, "sequence", n_outputs=2, pooling="last", task="multilabel")
    assert seq.config.task == "multilabel" and seq(ids).shape == (2, 2)


def test_lm_head_tied_to_embedding():
    model = seeded_model(tiny_config(layer_pattern="H"))
    assert model.head.weight is model.backbone.embedding.weight
    untied = seeded_model(tiny_config(layer_pattern="H", tie_embeddings=False))
    assert untied.head.weight is not untied.backbone.embedding.weight


@pytest.mark.parametrize("mode", ["mlp", "block"])
def test_activation_checkpointing_gives_same_gradients(mode, ids, monkeypatch):
    from genoseq.model import block

    monkeypatch.setattr(block, "_MLP_PIECE", 5)  # the MLP is recomputed in several position pieces
    plain = seeded_model(tiny_config(layer_pattern="HA")).train()
    ckpt = seeded_model(tiny_config(layer_pattern="HA", checkpointing=mode)).train()
    grads = []
    for model in (plain, ckpt):
        model(ids).square().mean().backward()
        grads.append([p.grad for p in model.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
