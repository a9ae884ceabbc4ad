"""Output heads: language model (next-token or masked-token logits), sequence and per-token heads."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genoseq.model.rc import RCPSLMHead, strand_merge


def pool(h: Tensor, mask: Tensor, how: str) -> Tensor:
    """Pool (B, L, D) over positions where ``mask`` (B, L) is True -> (B, D).

    "mean": mean over non-pad positions; "last": the last non-pad position; "cls": position 0;
    "max": channel-wise max over non-pad positions. Rows with no valid position give zeros.
    """
    m = mask.to(h.dtype)[..., None]  # (B, L, 1)
    if how == "mean":
        return (h * m).sum(1) / m.sum(1).clamp(min=1)
    if how == "cls":
        return h[:, 0]
    if how == "last":
        L = h.shape[1]
        pos = torch.arange(L, device=h.device)[None, :].expand_as(mask)
        last = torch.where(mask, pos, torch.full_like(pos, -1)).amax(1).clamp(min=0)  # (B,)
        return h[torch.arange(h.shape[0], device=h.device), last]
    if how == "max":
        filled = h.masked_fill(~mask[..., None], float("-inf")).amax(1)
        return torch.where(torch.isfinite(filled), filled, torch.zeros_like(filled))
    raise ValueError(f"unknown pooling {how!r}")


class LMHead(nn.Module):
    """(B, L, D) -> (B, L, vocab_size) logits; optionally tied to the embedding table (V_pad, D)."""

    def __init__(self, d_model: int, vocab_padded: int, vocab_size: int, tied: nn.Parameter | None = None) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.weight = tied if tied is not None else nn.Parameter(torch.randn(vocab_padded, d_model) * 0.02)

    def forward(self, h: Tensor, mask: Tensor | None = None) -> Tensor:
        # only the real vocabulary's rows: contiguous logits (a slice of padded ones makes every later copy slow)
        return h @ self.weight[: self.vocab_size].to(h.dtype).t()


class SequenceHead(nn.Module):
    """Pool over non-pad positions then a linear layer: (B, L, D) -> (B, n_outputs).

    For classification the outputs are class logits, for multi-label one logit per label, for
    regression the predicted values. With ``rc`` the strand halves are merged first (RC-invariant for
    mean and max pooling).
    """

    def __init__(self, d_model: int, n_outputs: int, pooling: str = "mean", task: str = "classification",
                 rc: bool = False) -> None:
        super().__init__()
        self.pooling, self.task, self.rc = pooling, task, rc
        self.proj = nn.Linear(d_model // 2 if rc else d_model, n_outputs)

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        if self.rc:
            h = strand_merge(h)
        return self.proj(pool(h, mask, self.pooling))


class TokenHead(nn.Module):
    """Per-position linear layer: (B, L, D) -> (B, L, n_outputs)."""

    def __init__(self, d_model: int, n_outputs: int, task: str = "classification", rc: bool = False) -> None:
        super().__init__()
        self.task, self.rc = task, rc
        self.proj = nn.Linear(d_model // 2 if rc else d_model, n_outputs)

    def forward(self, h: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.proj(strand_merge(h) if self.rc else h)


def make_head(config, embedding_weight: nn.Parameter | None) -> nn.Module:
    """The head ``config.head`` describes; the LM head is tied to ``embedding_weight`` when requested."""
    if config.head == "lm":
        tied = embedding_weight if config.tie_embeddings else None
        cls = RCPSLMHead if config.rc_equivariant else LMHead
        return cls(config.d_model, config.padded_vocab_size, config.vocab_size, tied)
    if config.head == "sequence":
        return SequenceHead(config.d_model, config.n_outputs, config.pooling, config.task, config.rc_equivariant)
    return TokenHead(config.d_model, config.n_outputs, config.task, config.rc_equivariant)
