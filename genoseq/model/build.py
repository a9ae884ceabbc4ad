"""GenoseqModel (backbone + head) and the builders ``build_model`` and ``with_head``."""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from genoseq.errors import ConfigError
from genoseq.model.backbone import Backbone
from genoseq.model.config import ModelConfig
from genoseq.model.heads import make_head
from genoseq.model.state import ModelState
from genoseq.tokenizer import PAD_ID, Tokenizer


class GenoseqModel(nn.Module):
    """A backbone and one head.

    ``model(input_ids (B, L), attention_mask=None)`` returns LM logits (B, L, V), sequence outputs
    (B, n_outputs) or per-token outputs (B, L, n_outputs) according to ``head_type``. The attention mask
    (True = real token; default ``input_ids != PAD``) is used by sequence pooling.
    """

    def __init__(self, config: ModelConfig, backbone: Backbone | None = None, tokenizer: Tokenizer | None = None):
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer or Tokenizer()
        self.backbone = backbone if backbone is not None else Backbone(config)
        self.head = make_head(config, self.backbone.embedding_weight)
        self.head_type = config.head

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        if attention_mask is None:
            attention_mask = input_ids != PAD_ID
        h = self.backbone(input_ids)  # (B, L, D)
        return self.head(h, attention_mask.to(torch.bool))

    # ------------------------------------------------------------------ incremental inference
    def _per_token_head(self, what: str) -> None:
        if self.head_type == "sequence":
            raise ConfigError(f"{what} gives per-token outputs; this model has a sequence head")

    def allocate_state(self, batch_size: int, device=None, dtype=None) -> ModelState:
        """Empty incremental state for a causal model (ConfigError for bidirectional models)."""
        return self.backbone.allocate_state(batch_size, device=device, dtype=dtype)

    def prefill(self, input_ids: Tensor, state: ModelState) -> Tensor:
        """Continue from ``state`` over input_ids (B, L) -> logits (B, L, V); updates ``state``."""
        self._per_token_head("prefill")
        return self.head(self.backbone.prefill(input_ids, state))

    def step(self, input_ids_t: Tensor, state: ModelState) -> Tensor:
        """input_ids_t (B,) -> logits (B, V) for the next position; updates ``state``."""
        return self.prefill(input_ids_t[:, None], state)[:, 0]

    def embed_long(self, input_ids: Tensor, chunk_size: int = 16384, pooling: str | None = None,
                   strategy: str = "auto") -> Tensor:
        """Backbone hidden states of a long input in bounded memory (see Backbone.embed_long)."""
        return self.backbone.embed_long(input_ids, chunk_size, pooling, strategy)

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write config.json, model.safetensors and tokenizer.json into ``directory`` (atomically per file)."""
        from genoseq.model.io import save_pretrained

        save_pretrained(self, directory)

    def num_parameters(self) -> int:
        """Distinct trainable parameters (tied weights counted once)."""
        return sum(p.numel() for p in self.parameters())


def build_model(config_or_preset: ModelConfig | str | dict) -> GenoseqModel:
    """Build a model from a :class:`ModelConfig`, a dict of its fields, or a preset name (see presets)."""
    if isinstance(config_or_preset, str):
        from genoseq.model.presets import get_preset

        config = get_preset(config_or_preset)
    elif isinstance(config_or_preset, dict):
        config = ModelConfig.from_dict(config_or_preset)
    elif isinstance(config_or_preset, ModelConfig):
        config = ModelConfig.from_dict(config_or_preset.to_dict())
    else:
        raise ConfigError(f"build_model needs a ModelConfig, a dict or a preset name, got "
                          f"{type(config_or_preset).__name__}")
    return GenoseqModel(config)


def with_head(model_or_backbone: GenoseqModel | Backbone, head_type: str, n_outputs: int | None = None,
              pooling: str = "mean", task: str = "classification") -> GenoseqModel:
    """A model with a fresh ``head_type`` head ("lm", "sequence", "token") over the same backbone module
    (shared, not copied: fine-tuning updates it)."""
    backbone = model_or_backbone.backbone if isinstance(model_or_backbone, GenoseqModel) else model_or_backbone
    tokenizer = getattr(model_or_backbone, "tokenizer", None)
    config = backbone.config.replace(head=head_type, n_outputs=n_outputs, pooling=pooling, task=task)
    backbone.config = config
    model = GenoseqModel(config, backbone=backbone, tokenizer=tokenizer)
    ref = backbone.embedding_weight
    model.head.to(device=ref.device, dtype=ref.dtype)
    return model
