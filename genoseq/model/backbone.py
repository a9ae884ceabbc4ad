"""Backbone: token embedding -> blocks (one mixer per ``layer_pattern`` letter) -> final norm."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genoseq.errors import ConfigError
from genoseq.model.bidirectional import BidirectionalMixer
from genoseq.model.block import MLP, Block
from genoseq.model.config import ModelConfig
from genoseq.model.hyena import HyenaMixer
from genoseq.model.norm import make_norm
from genoseq.model.rc import RCPSEmbedding, RCPSWrapper
from genoseq.model.state import ModelState


def _causal_mixer(letter: str, width: int, idx: int, cfg: ModelConfig) -> nn.Module:
    """One causal mixer of type ``letter`` over ``width`` channels."""
    if letter == "H":
        from genoseq.model.hyena import HyenaMixer

        return HyenaMixer(width, idx, **cfg.hyena.to_dict(), max_len=cfg.max_len, n_layer=cfg.n_layer)
    if letter == "A":
        from genoseq.model.attention import AttentionMixer

        return AttentionMixer(width, idx, **cfg.attention.to_dict(), causal=True, n_layer=cfg.n_layer)
    try:
        if letter == "M":
            from genoseq.model.mamba import MambaMixer as cls
            sub = cfg.mamba
        else:
            from genoseq.model.mamba2 import Mamba2Mixer as cls
            sub = cfg.mamba2
    except ImportError as exc:  # the Mamba modules are optional pieces of the tree
        raise ConfigError(f"layer type {letter!r} is not available in this installation: {exc}") from exc
    return cls(width, idx, **sub.to_dict())


def make_mixer(letter: str, idx: int, cfg: ModelConfig) -> nn.Module:
    """The mixer of layer ``idx``: causal, natively bidirectional (H two-sided filter, A full attention)
    or wrapped fwd + reverse (M, S); RC-equivariant models wrap it to run on both strands."""
    width = cfg.mixer_width
    if not cfg.bidirectional:
        mixer = _causal_mixer(letter, width, idx, cfg)
    elif letter == "H":
        from genoseq.model.hyena import HyenaMixer

        mixer = HyenaMixer(width, idx, **cfg.hyena.to_dict(), max_len=cfg.max_len, bidirectional=True,
                           n_layer=cfg.n_layer)
    elif letter == "A":
        from genoseq.model.attention import AttentionMixer

        mixer = AttentionMixer(width, idx, **cfg.attention.to_dict(), causal=False, n_layer=cfg.n_layer)
    else:
        mixer = BidirectionalMixer(_causal_mixer(letter, width, idx, cfg), _causal_mixer(letter, width, idx, cfg),
                                   width, cfg.bidirectional_combine, cfg.bidirectional_tie)
    return RCPSWrapper(mixer) if cfg.rc_equivariant else mixer


def _rc(module: nn.Module, cfg: ModelConfig) -> nn.Module:
    return RCPSWrapper(module) if cfg.rc_equivariant else module


class Backbone(nn.Module):
    """Embedding -> n_layer blocks -> final norm. ``forward(input_ids)`` -> hidden (B, L, D)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = cfg = config
        V, D, W = cfg.padded_vocab_size, cfg.d_model, cfg.mixer_width
        if cfg.rc_equivariant:
            self.embedding = RCPSEmbedding(V, D)
            nn.init.normal_(self.embedding.embedding.weight, std=cfg.initializer_range)
        else:
            self.embedding = nn.Embedding(V, D)
            nn.init.normal_(self.embedding.weight, std=cfg.initializer_range)
        blocks = []
        for i, letter in enumerate(cfg.layer_types):
            mlp = norm2 = None
            if cfg.mlp_type != "none":
                mlp = _rc(MLP(W, cfg.mlp_hidden, cfg.mlp_type, cfg.n_layer), cfg)
                norm2 = _rc(make_norm(cfg.norm, W, cfg.norm_eps), cfg)
            blocks.append(Block(make_mixer(letter, i, cfg), _rc(make_norm(cfg.norm, W, cfg.norm_eps), cfg),
                                mlp, norm2, cfg.dropout, letter, cfg.checkpointing))
        self.blocks = nn.ModuleList(blocks)
        if isinstance(blocks[-1].mixer, HyenaMixer):  # its backward runs first, at the memory peak
            blocks[-1].mixer.keep_in_proj = True
        self.norm_f = _rc(make_norm(cfg.norm, W, cfg.norm_eps), cfg)
        self.drop = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()

    @property
    def embedding_weight(self) -> nn.Parameter:
        return self.embedding.weight

    def forward(self, input_ids: Tensor, return_all_layers: bool = False) -> Tensor | list[Tensor]:
        """input_ids (B, L) -> hidden (B, L, D) after the final norm; with ``return_all_layers`` a list of
        n_layer+1 tensors: [0] the embedding output, [i] block i's output, the last with the final norm."""
        h = self.drop(self.embedding(input_ids))  # (B, L, D)
        outs = [h]
        for block in self.blocks:
            h = block(h)
            outs.append(h)
        h = self.norm_f(h)
        if not return_all_layers:
            return h
        outs[-1] = h
        return outs

    # ------------------------------------------------------------------ incremental inference
    def _check_causal(self, what: str) -> None:
        if self.config.bidirectional:
            raise ConfigError(f"{what} needs a causal model; this one is bidirectional (bidirectional=True)")

    def allocate_state(self, batch_size: int, device=None, dtype=None) -> ModelState:
        """Fresh per-layer state (empty history / zero recurrent state) for ``batch_size`` rows."""
        self._check_causal("allocate_state")
        device = device if device is not None else self.embedding_weight.device
        return ModelState([b.mixer.allocate_state(batch_size, device=device, dtype=dtype) for b in self.blocks])

    def prefill(self, input_ids: Tensor, state: ModelState) -> Tensor:
        """Continue from ``state`` over input_ids (B, L) -> hidden (B, L, D); updates ``state``."""
        self._check_causal("prefill")
        h = self.drop(self.embedding(input_ids))
        for block, s in zip(self.blocks, state.layers, strict=True):
            h = block.forward_chunk(h, s)
        return self.norm_f(h)

    def step(self, input_ids_t: Tensor, state: ModelState) -> Tensor:
        """One token per row: input_ids_t (B,) -> hidden (B, D); updates ``state``."""
        return self.prefill(input_ids_t[:, None], state)[:, 0]

    def layerwise_preferred(self, input_ids: Tensor, chunk_size: int) -> bool:
        """Whether :meth:`embed_layerwise` serves this input better than chunked prefill: every block runs in
        place (LayerNorm, fused causal order-2 Hyena, MLP on CPU) and some long filter reaches more than
        4 chunks back, so chunked prefill would re-transform a history that long for every chunk."""
        if self.config.bidirectional or self.training or not self.blocks:
            return False
        probe = self.embedding_weight[:1, None]  # (1, 1, D): the device and dtype the blocks will see
        if not all(b.supports_inplace(probe) for b in self.blocks):
            return False
        support = max(getattr(getattr(b.mixer, "filter", None), "cutoff", 0) for b in self.blocks)
        return input_ids.shape[1] > chunk_size and support > 4 * chunk_size

    def embed_layerwise(self, input_ids: Tensor, pooling: str | None = None) -> Tensor:
        """Hidden states of a long causal input, one layer at a time over the whole sequence, updated in place
        (no autograd). Memory ~ L x D x 6 bytes + the filter MLP's activations (L x filter_dim x 4 bytes),
        whatever the filter length; for Hyena models whose filters span the input (max_len ~ L), where
        chunked prefill would re-transform the whole history for every chunk. Same results as ``forward``
        (same arithmetic per channel). pooling as in :meth:`embed_long`; also "max"."""
        self._check_causal("embed_layerwise")
        if pooling not in (None, "mean", "max", "last"):
            raise ConfigError(f"embed_layerwise pooling must be None, 'mean', 'max' or 'last', got {pooling!r}")
        with torch.no_grad():
            h = self.embedding(input_ids).contiguous()  # (B, L, D), updated in place below
            for block in self.blocks:
                if not block.supports_inplace(h):
                    raise ConfigError(f"embed_layerwise: block {block.kind!r} cannot run in place (needs LayerNorm, a "
                                      "fused causal order-2 Hyena mixer and a plain MLP on CPU); use embed_long")
                block.forward_inplace_(h)
            if pooling is None:
                return self.norm_f(h)
            if pooling == "last":
                return self.norm_f(h[:, -1:])[:, 0]
            acc = torch.float64 if h.dtype == torch.float64 else torch.float32
            total = None  # running sum or max over position blocks of the final norm's output
            for lo in range(0, h.shape[1], 65536):
                part = self.norm_f(h[:, lo : lo + 65536]).to(acc)  # (B, <= 65536, D)
                part = part.amax(1) if pooling == "max" else part.sum(1)
                total = part if total is None else (torch.maximum(total, part) if pooling == "max" else total + part)
            return (total if pooling == "max" else total / h.shape[1]).to(h.dtype)

    def embed_long(self, input_ids: Tensor, chunk_size: int = 16384, pooling: str | None = None,
                   strategy: str = "auto") -> Tensor:
        """Hidden states of a long causal input computed ``chunk_size`` tokens at a time (bounded memory).

        pooling None -> (B, L, D); "mean" -> running mean (B, D); "last" -> last position (B, D).
        strategy "chunked" (prefill chunk by chunk), "layerwise" (:meth:`embed_layerwise`) or "auto": layerwise
        where :meth:`layerwise_preferred` says so (Hyena filters much longer than a chunk), else chunked.
        """
        self._check_causal("embed_long")
        if strategy not in ("auto", "chunked", "layerwise"):
            raise ConfigError(f"embed_long strategy must be 'auto', 'chunked' or 'layerwise', got {strategy!r}")
        if pooling not in (None, "mean", "last"):
            raise ConfigError(f"embed_long pooling must be None, 'mean' or 'last', got {pooling!r}")
        if strategy == "layerwise" or (strategy == "auto" and self.layerwise_preferred(input_ids, chunk_size)):
            return self.embed_layerwise(input_ids, pooling)
        B, L = input_ids.shape
        state = self.allocate_state(B)
        parts, total, last = [], None, None
        with torch.no_grad():
            for lo in range(0, L, chunk_size):
                h = self.prefill(input_ids[:, lo : lo + chunk_size], state)  # (B, Lc, D)
                if pooling is None:
                    parts.append(h)
                elif pooling == "mean":
                    s = h.to(torch.float64 if h.dtype == torch.float64 else torch.float32).sum(1)
                    total = s if total is None else total + s
                else:
                    last = h[:, -1]
        if pooling is None:
            return torch.cat(parts, dim=1)
        if pooling == "mean":
            return (total / L).to(h.dtype)
        return last  # pooling == "last"
