"""A plain-PyTorch HyenaDNA model written the way the original HyenaDNA code computes it, as a benchmark
baseline for ``bench_hyenadna_reference.py``.

The issue's reference points (HyenaDNA-tiny, float32: training 20k tokens/s at 32k, 14k at 131k; inference
24k tokens/s at 1M with 10.3 GB) were measured with the original implementation at one time of day; this
machine's pace varies by ~25% from hour to hour, so the benchmark runs this baseline beside genoseq in the
same session and reports ratios. The computation follows the published operator step for step, each step
as its own autograd op, nothing fused:

- in-projection ``nn.Linear(D, 3D)``, transposed to channels-first, the short causal filter as an
  ``nn.Conv1d(3D, 3D, K, groups=3D, padding=K-1)`` cropped to L;
- the implicit filter over the whole length at once: positional features (L, P) -> Linear -> Sin -> Linear
  -> Sin -> Linear -> Sin -> Linear (no bias), one shared learnable Sin frequency, times the exponential
  decay window; then transposed to (D, L);
- the long convolution as ``torch.fft.rfft`` of filter and input at n = 2L, product, ``irfft`` cropped to
  L, plus the skip term u * bias (computed in float32);
- gating v * x2 before and * x1 after the long convolution, the out-projection ``nn.Linear(D, D)``;
- pre-norm residual blocks (LayerNorm), an MLP of width 4D with the tanh-approximated GELU (as HyenaDNA's
  ``create_mlp_cls``), a final LayerNorm and an LM head tied to the embedding.

The positional features and the decay window use genoseq's definitions (lag / max_len scaling), so
``copy_from_genoseq`` can load a genoseq ``hyenadna-tiny`` model's weights into a baseline built with
``gelu_approximate="none"`` (genoseq's exact GELU), and both compute the same function (the benchmark checks
this before timing). The arithmetic cost is the original's.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genoseq.ops.implicit_filter import features  # [t, cos(2 pi f t), sin(2 pi f t)], t = lag / max_len


class Sin(nn.Module):
    """sin(freq * x), one learnable frequency per feature."""

    def __init__(self, dim: int, freq: float = 10.0) -> None:
        super().__init__()
        self.freq = nn.Parameter(torch.full((1, dim), freq))

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(self.freq * x)


class ImplicitFilter(nn.Module):
    """k (D, L) for lags 0..L-1: MLP of positional features times an exponential decay window."""

    def __init__(self, d_model: int, filter_dim: int, pos_dim: int, max_len: int) -> None:
        super().__init__()
        self.max_len = max_len
        act = Sin(filter_dim)  # shared by the three hidden layers
        self.mlp = nn.Sequential(nn.Linear(pos_dim, filter_dim), act, nn.Linear(filter_dim, filter_dim), act,
                                 nn.Linear(filter_dim, filter_dim), act, nn.Linear(filter_dim, d_model, bias=False))
        bands = pos_dim // 2
        self.register_buffer("bands", torch.linspace(1e-4, bands - 1, bands), persistent=False)
        target = math.log(1e-2)
        self.register_buffer("deltas", torch.linspace(target / 0.3, target / 1.5, d_model).abs(), persistent=False)
        self.pos_dim = pos_dim
        self.bias = nn.Parameter(torch.randn(d_model))  # the skip term's per-channel weight

    def forward(self, L: int) -> Tensor:
        z = features(torch.arange(L), self.max_len, self.bands, self.pos_dim, self.bands.dtype)  # (L, P), genoseq's
        h = self.mlp(z)  # (L, D)
        t = torch.arange(L, dtype=self.deltas.dtype)[:, None] / self.max_len
        h = h * torch.exp(-t * self.deltas[None, :])  # decay window
        return h.t()  # (D, L)


def fftconv(u: Tensor, k: Tensor, bias: Tensor) -> Tensor:
    """Causal long convolution of u (B, D, L) with k (D, L) through FFTs of size 2L, plus u * bias."""
    L = u.shape[-1]
    n = 2 * L
    cdt = torch.promote_types(u.dtype, torch.float32)  # bf16 under autocast: the FFTs need float32
    k_f = torch.fft.rfft(k.to(cdt), n=n) / n
    u_f = torch.fft.rfft(u.to(cdt), n=n)
    y = torch.fft.irfft(u_f * k_f, n=n, norm="forward")[..., :L]
    return (y + u.to(cdt) * bias[:, None]).to(u.dtype)


class HyenaOperator(nn.Module):
    """Order-2 Hyena: in-projection, short conv, gated FFT long convolution, out-projection."""

    def __init__(self, d_model: int, max_len: int, filter_dim: int = 64, pos_dim: int = 5, short: int = 3) -> None:
        super().__init__()
        self.d_model = d_model
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.short_filter = nn.Conv1d(3 * d_model, 3 * d_model, short, padding=short - 1, groups=3 * d_model)
        self.filter = ImplicitFilter(d_model, filter_dim, pos_dim, max_len)

    def forward(self, x: Tensor) -> Tensor:
        L = x.shape[1]
        u = self.in_proj(x).transpose(1, 2)  # (B, 3D, L)
        uc = self.short_filter(u)[..., :L]
        x1, x2, v = uc.split(self.d_model, dim=1)
        k = self.filter(L)  # (D, L)
        v = fftconv(v * x2, k, self.filter.bias)
        return self.out_proj((v * x1).transpose(1, 2))  # (B, L, D)


class Block(nn.Module):
    def __init__(self, d_model: int, max_len: int, gelu_approximate: str) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.mixer = HyenaOperator(d_model, max_len)
        self.fc1, self.fc2 = nn.Linear(d_model, 4 * d_model), nn.Linear(4 * d_model, d_model)
        self.gelu_approximate = gelu_approximate

    def forward(self, h: Tensor) -> Tensor:
        h = h + self.mixer(self.norm1(h))
        return h + self.fc2(F.gelu(self.fc1(self.norm2(h)), approximate=self.gelu_approximate))


class HyenaDNALM(nn.Module):
    """Embedding -> blocks -> LayerNorm -> tied LM head. ``model(ids (B, L))`` -> logits (B, L, V).
    ``gelu_approximate``: "tanh" as HyenaDNA, "none" as genoseq's presets."""

    def __init__(self, vocab: int = 16, d_model: int = 128, n_layer: int = 2, max_len: int = 1024,
                 gelu_approximate: str = "tanh") -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, d_model)
        self.blocks = nn.ModuleList(Block(d_model, max_len, gelu_approximate) for _ in range(n_layer))
        self.norm_f = nn.LayerNorm(d_model)

    def forward(self, ids: Tensor) -> Tensor:
        h = self.embedding(ids)
        for block in self.blocks:
            h = block(h)
        return F.linear(self.norm_f(h), self.embedding.weight)  # (B, L, vocab)


@torch.no_grad()
def copy_from_genoseq(ref: HyenaDNALM, model: nn.Module) -> None:
    """Load a genoseq hyenadna-tiny-shaped model's weights into ``ref`` (same function afterwards)."""
    bb = model.backbone
    ref.embedding.weight.copy_(bb.embedding.weight)
    ref.norm_f.load_state_dict(bb.norm_f.state_dict())
    for rb, gb in zip(ref.blocks, bb.blocks, strict=True):
        rb.norm1.load_state_dict(gb.norm1.state_dict())
        rb.norm2.load_state_dict(gb.norm2.state_dict())
        rb.fc1.load_state_dict(gb.mlp.fc1.state_dict())
        rb.fc2.load_state_dict(gb.mlp.fc2.state_dict())
        rm, gm = rb.mixer, gb.mixer
        rm.in_proj.load_state_dict(gm.in_proj.state_dict())
        rm.out_proj.load_state_dict(gm.out_proj.state_dict())
        rm.short_filter.weight.copy_(gm.short_conv_weight[:, None, :])
        rm.short_filter.bias.copy_(gm.short_conv_bias)
        rm.filter.mlp.load_state_dict(gm.filter.mlp.state_dict())
        rm.filter.deltas.copy_(gm.filter.deltas)
        rm.filter.bands.copy_(gm.filter.bands)
        rm.filter.bias.copy_(gm.skip[0])
