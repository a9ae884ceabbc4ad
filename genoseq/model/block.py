"""Residual block: x + mixer(norm(x)), then x + mlp(norm(x)) (pre-norm), plus the MLP variants."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from genoseq.model.norm import RMSNorm
from genoseq.ops.mlp import mlp, mlp_residual_
from genoseq.ops.prenorm import Norm

_MLP_PIECE = 16384  # positions per recomputed MLP piece under activation checkpointing


def add_residual(h: Tensor, branch: Tensor) -> Tensor:
    """h + branch with autograd; a narrower branch (bf16 under autocast) is converted to h's dtype first and h
    added in place: the same values as the promoting add, which PyTorch's CPU kernels run unvectorised
    (~2x; see genoseq.ops.prenorm.residual_add)."""
    if branch.dtype == h.dtype:
        return h + branch
    return branch.to(h.dtype).add_(h)


class MLP(nn.Module):
    """Position-wise MLP: "gelu" (Linear-GELU-Linear) or "glu" (SwiGLU: silu(a) * b)."""

    def __init__(self, d_model: int, hidden: int, kind: str = "gelu", n_layer: int = 1) -> None:
        super().__init__()
        self.kind = kind
        self.fc1 = nn.Linear(d_model, hidden * (2 if kind == "glu" else 1))
        self.fc2 = nn.Linear(hidden, d_model)
        for lin in (self.fc1, self.fc2):
            nn.init.normal_(lin.weight, std=0.02)
            nn.init.zeros_(lin.bias)
        self.fc2.weight.data.mul_(1.0 / math.sqrt(2 * n_layer))

    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, D) -> (B, L, D); on CPU the fused op (genoseq.ops.mlp: blocks on worker threads, backward
        recomputes fc1 and the activation), elsewhere autograd's ops."""
        if x.device.type != "cpu":
            return self.reference(x)
        return mlp(x, self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias, self.kind)

    def forward_residual(self, h: Tensor, norm: Norm) -> Tensor:
        """h + self(LayerNorm(h)) in one op (the normalised rows are never stored)."""
        return mlp(h, self.fc1.weight, self.fc1.bias, self.fc2.weight, self.fc2.bias, self.kind, norm=norm,
                   residual=True)

    def reference(self, x: Tensor) -> Tensor:
        """The same MLP through autograd's own ops (the oracle of the fused path)."""
        h = self.fc1(x)  # (B, L, hidden [*2])
        if self.kind == "glu":
            a, b = h.chunk(2, dim=-1)
            h = F.silu(a) * b
        else:
            h = F.gelu(h)
        return self.fc2(h)


class Block(nn.Module):
    """Pre-norm residual block around one mixer and an optional MLP."""

    def __init__(self, mixer: nn.Module, norm1: nn.Module, mlp: nn.Module | None, norm2: nn.Module | None,
                 dropout: float = 0.0, kind: str = "H", checkpointing: str = "none") -> None:
        super().__init__()
        self.kind, self.checkpointing = kind, checkpointing
        self.norm1, self.mixer = norm1, mixer
        self.norm2, self.mlp = norm2, mlp
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def _mlp_branch(self, h: Tensor) -> Tensor:
        return self.drop(self.mlp(self.norm2(h)))

    def _mlp_checkpointed(self, h: Tensor) -> Tensor:
        """The position-wise MLP branch recomputed in backward, in pieces of _MLP_PIECE positions so the
        recomputed hidden activations (L x mlp width) never exist for the whole sequence at once."""
        pieces = [checkpoint(self._mlp_branch, p, use_reentrant=False) for p in h.split(_MLP_PIECE, dim=1)]
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=1)

    def _mlp(self, h: Tensor) -> Tensor:
        if self.mlp is None:
            return h
        norm = self._fusable_norm(self.norm2)
        if norm is not None and type(self.mlp) is MLP and h.device.type == "cpu":
            # the fused MLP keeps only its input for backward (what checkpointing would keep): no checkpoint
            return self.mlp.forward_residual(h, norm)
        if self.checkpointing != "none" and self.training and torch.is_grad_enabled():
            return add_residual(h, self._mlp_checkpointed(h))
        return add_residual(h, self._mlp_branch(h))

    def _mixer_branch(self, h: Tensor) -> Tensor:
        return self.drop(self.mixer(self.norm1(h)))

    def _mixer_residual(self, h: Tensor) -> Tensor:
        """h + mixer(norm1(h)): one fused op where the mixer supports it (the CPU order-2 Hyena)."""
        norm = self._fusable_norm(self.norm1)
        if norm is not None and hasattr(self.mixer, "forward_residual") and self.mixer._fused(h):
            return self.mixer.forward_residual(h, norm)
        if (type(self.norm1) is RMSNorm and hasattr(self.mixer, "forward_residual_rms") and self._no_branch_dropout()
                and self.mixer.fuses_rms_residual(h, self.norm1)):
            return self.mixer.forward_residual_rms(h, self.norm1)  # the fused Mamba-2 training op
        return add_residual(h, self._mixer_branch(h))

    def _no_branch_dropout(self) -> bool:
        return not self.training or isinstance(self.drop, nn.Identity)

    def _fusable_norm(self, norm: nn.Module) -> Norm | None:
        """A plain LayerNorm with no dropout after the branch: the branch can run as one fused op."""
        if type(norm) is not nn.LayerNorm or not self._no_branch_dropout():
            return None
        return Norm(norm.weight, norm.bias, norm.eps)

    def forward(self, h: Tensor) -> Tensor:
        """h (B, L, D) -> (B, L, D). LayerNorm, branch and residual add run as one op where the branch
        supports it (the fused Hyena mixer, the MLP). With checkpointing="block" (training) the mixer's
        residual branch keeps only its input for backward and is recomputed there."""
        if self.checkpointing == "block" and self.training and torch.is_grad_enabled():
            return self._mlp(checkpoint(self._mixer_residual, h, use_reentrant=False))
        return self._mlp(self._mixer_residual(h))

    def supports_inplace(self, h: Tensor) -> bool:
        """True when :meth:`forward_inplace_` can run: LayerNorms, a fused causal order-2 Hyena mixer and a
        plain MLP (or none), on CPU."""
        norms_ok = self._fusable_norm(self.norm1) is not None and (
            self.mlp is None or (type(self.mlp) is MLP and self._fusable_norm(self.norm2) is not None))
        return (norms_ok and hasattr(self.mixer, "residual_inplace_") and self.mixer._fused(h)
                and h.device.type == "cpu")

    def forward_inplace_(self, h: Tensor) -> None:
        """h <- block(h) in place, without autograd (long whole-sequence inference: no second (B, L, D)
        tensor, no (3D, L) in-projection). Callers check supports_inplace first."""
        self.mixer.residual_inplace_(h, self._fusable_norm(self.norm1))
        if self.mlp is not None:
            m = self.mlp
            mlp_residual_(h, m.fc1.weight, m.fc1.bias, m.fc2.weight, m.fc2.bias, m.kind, self._fusable_norm(self.norm2))

    def forward_chunk(self, h: Tensor, state: dict) -> Tensor:
        """Continue the mixer from ``state`` over h (B, Lc, D)."""
        return self._mlp(add_residual(h, self.drop(self.mixer.forward_chunk(self.norm1(h), state))))

    def step(self, h_t: Tensor, state: dict) -> Tensor:
        """h_t (B, D) -> (B, D)."""
        return self.forward_chunk(h_t[:, None], state)[:, 0]
