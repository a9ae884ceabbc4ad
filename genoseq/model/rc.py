"""Reverse-complement (RC) equivariance.

Hidden states of an RC-equivariant backbone (Caduceus "RCPS") have two halves of D/2 channels:
h = [h_fwd, h_rc]. The RC of a hidden state flips both the sequence and the channel axis,
``rc_hidden(h) = h.flip(1, 2)`` (so the halves swap and each is reversed), and every layer satisfies
f(rc_hidden(h)) = rc_hidden(f(h)): the backbone maps RC(ids) to rc_hidden(backbone(ids)).

- :class:`RCPSEmbedding`: e(x) = [E(x), flip_c(E(complement(x)))].
- :class:`RCPSWrapper`: any module over D/2 channels applied with shared weights to h_fwd and to the
  RC of h_rc: [f(h_fwd), rc(f(rc(h_rc)))].
- :class:`RCPSLMHead`: logits = W h_fwd + P W flip_c(h_rc) with P the base-complement permutation of the
  vocabulary, so logits(RC x) = complement-permuted, position-flipped logits(x).
- :func:`strand_merge`: h_fwd + flip_c(h_rc) (D/2), the strand-symmetric features for task heads.
- :class:`RCAverage`: inference-time averaging of any model over x and RC(x).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genoseq.tokenizer import _COMPLEMENT, PAD_ID


def complement_table(size: int, device=None) -> Tensor:
    """(size,) long: id -> complement id (A<->T, C<->G; other ids, incl. vocabulary padding, unchanged)."""
    table = torch.arange(size, dtype=torch.long)
    n = min(size, len(_COMPLEMENT))
    table[:n] = torch.as_tensor(_COMPLEMENT[:n].astype("int64"))
    return table.to(device) if device is not None else table


def rc_hidden(h: Tensor) -> Tensor:
    """RC of an RC-equivariant hidden state (B, L, D): flip sequence and channels."""
    return h.flip(1, 2)


def strand_merge(h: Tensor) -> Tensor:
    """(B, L, D) -> (B, L, D/2): h_fwd + flip_c(h_rc); maps RC inputs to position-flipped features."""
    hf, hr = h.chunk(2, dim=-1)
    return hf + hr.flip(-1)


class RCPSEmbedding(nn.Module):
    """RC-equivariant token embedding (B, L) -> (B, L, D) with a (V, D/2) table."""

    def __init__(self, num_embeddings: int, d_model: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_embeddings, d_model // 2)
        self.register_buffer("complement", complement_table(num_embeddings), persistent=False)

    @property
    def weight(self) -> Tensor:
        return self.embedding.weight

    def forward(self, ids: Tensor) -> Tensor:
        e = self.embedding(ids)  # (B, L, D/2)
        e_rc = self.embedding(self.complement[ids]).flip(-1)  # (B, L, D/2)
        return torch.cat([e, e_rc], dim=-1)


class RCPSWrapper(nn.Module):
    """Apply ``module`` (over D/2 channels, any sequence op) to both strands with shared weights."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, h: Tensor) -> Tensor:
        hf, hr = h.chunk(2, dim=-1)  # (B, L, D/2) each
        B = hf.shape[0]
        out = self.module(torch.cat([hf, hr.flip(1, 2)], dim=0))  # (2B, L, D/2)
        return torch.cat([out[:B], out[B:].flip(1, 2)], dim=-1)


class RCPSLMHead(nn.Module):
    """RC-equivariant LM head over (B, L, D) -> (B, L, V) logits (weight (V, D/2), tied or not)."""

    def __init__(self, d_model: int, vocab_padded: int, vocab_size: int, tied: nn.Parameter | None = None) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        if tied is None:
            self.weight = nn.Parameter(torch.randn(vocab_padded, d_model // 2) * 0.02)
        else:
            self.weight = tied
        self.register_buffer("complement", complement_table(vocab_padded), persistent=False)

    def forward(self, h: Tensor, mask: Tensor | None = None) -> Tensor:
        hf, hr = h.chunk(2, dim=-1)
        w = self.weight.to(h.dtype)
        logits = hf @ w.t() + (hr.flip(-1) @ w.t())[..., self.complement]  # (B, L, V_pad)
        return logits[..., : self.vocab_size]


def _rc_rows(ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """RC of each row within its length (pads stay at the end). Returns (rc_ids, index) where
    rc output position t corresponds to forward position index[b, t]."""
    B, L = ids.shape
    t = torch.arange(L, device=ids.device)[None, :].expand(B, L)
    index = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (B, L)
    table = complement_table(max(int(ids.max()) + 1, 10), ids.device)
    rc = torch.where(t < lengths[:, None], table[ids.gather(1, index)], ids)
    return rc, index


class RCAverage(nn.Module):
    """Average a model's predictions on x and on RC(x) (inference only).

    Per-token outputs of the RC pass are mapped back to forward-strand positions; LM logits also get
    their base channels complemented (A<->T, C<->G). Sequence outputs are averaged directly. Padded
    rows are reverse-complemented within their non-pad length. Logits are averaged (not probabilities).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        if attention_mask is None:
            attention_mask = input_ids != PAD_ID
        lengths = attention_mask.long().sum(1)
        rc_ids, index = _rc_rows(input_ids, lengths)
        out_f = self.model(input_ids, attention_mask=attention_mask)
        out_r = self.model(rc_ids, attention_mask=attention_mask)
        if out_r.dim() == 3:  # per-token: (B, L, C) back to forward positions
            out_r = torch.empty_like(out_r).scatter_(1, index[..., None].expand_as(out_r), out_r)
            if getattr(self.model, "head_type", None) == "lm":
                out_r = out_r[..., complement_table(out_r.shape[-1], out_r.device)]
        return (out_f + out_r) / 2
