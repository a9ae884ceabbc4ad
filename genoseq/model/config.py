"""Model architecture as validated dataclasses: :class:`ModelConfig` and the per-mixer sub-configs.

Every field is checked on construction; an unknown key in :meth:`ModelConfig.from_dict` raises
:class:`~genoseq.errors.ConfigError` naming the key and the closest valid name, e.g.
``unknown ModelConfig field 'd_modle' (did you mean 'd_model'?)``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field, fields
from typing import Any

from genoseq.errors import ConfigError

MIXERS = {"H": "hyena", "M": "mamba", "S": "mamba2", "A": "attention"}
MLP_TYPES = ("gelu", "glu", "none")
NORMS = ("layernorm", "rmsnorm")
HEADS = ("lm", "sequence", "token")
POOLINGS = ("mean", "last", "cls", "max")
TASKS = ("classification", "multilabel", "regression")
COMBINES = ("add", "concat")
CHECKPOINTING = ("none", "mlp", "block")


def _suggest(name: str, valid: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else f" (valid: {', '.join(valid)})"


def _unknown_keys(cls_name: str, data: dict, valid: list[str]) -> None:
    for key in data:
        if key not in valid:
            raise ConfigError(f"unknown {cls_name} field {key!r}{_suggest(str(key), valid)}")


def _choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{owner}.{name}={value!r} is not one of {', '.join(choices)}"
                          + (_suggest(value, choices) if isinstance(value, str) else ""))


def _positive_int(owner: str, name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{owner}.{name} must be an integer >= {minimum}, got {value!r}")


def _positive(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{owner}.{name} must be a positive number, got {value!r}")


class _SubConfig:
    """Shared from_dict/to_dict for the flat mixer sub-configs."""

    @classmethod
    def from_dict(cls, data: dict | None):
        data = dict(data or {})
        _unknown_keys(cls.__name__, data, [f.name for f in fields(cls)])
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class HyenaConfig(_SubConfig):
    """Hyena operator: ``order`` gated long convolutions with implicit (MLP-generated) filters."""

    order: int = 2
    filter_dim: int = 64
    filter_pos_dim: int = 16
    short_conv: int = 3
    filter_decay_min: float = 0.3
    filter_decay_max: float = 1.5

    def __post_init__(self) -> None:
        _positive_int("hyena", "order", self.order, 2)
        _positive_int("hyena", "filter_dim", self.filter_dim)
        _positive_int("hyena", "filter_pos_dim", self.filter_pos_dim, 3)
        _positive_int("hyena", "short_conv", self.short_conv, 2)
        if self.short_conv > 4:
            raise ConfigError(f"hyena.short_conv must be 2..4, got {self.short_conv}")
        _positive("hyena", "filter_decay_min", self.filter_decay_min)
        _positive("hyena", "filter_decay_max", self.filter_decay_max)
        if self.filter_decay_min > self.filter_decay_max:
            raise ConfigError("hyena.filter_decay_min must be <= hyena.filter_decay_max, got "
                              f"{self.filter_decay_min} > {self.filter_decay_max}")


@dataclass
class MambaConfig(_SubConfig):
    """Mamba-1 selective SSM mixer (genoseq.model.mamba.MambaMixer)."""

    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    dt_rank: int | str = "auto"
    dt_min: float = 0.001
    dt_max: float = 0.1
    dt_init_floor: float = 1e-4
    chunk_size: int = 64

    def __post_init__(self) -> None:
        _positive_int("mamba", "d_state", self.d_state)
        _positive_int("mamba", "d_conv", self.d_conv, 2)
        _positive_int("mamba", "expand", self.expand)
        _positive_int("mamba", "chunk_size", self.chunk_size)
        if self.dt_rank != "auto":
            _positive_int("mamba", "dt_rank", self.dt_rank)
        for name in ("dt_min", "dt_max", "dt_init_floor"):
            _positive("mamba", name, getattr(self, name))


@dataclass
class Mamba2Config(_SubConfig):
    """Mamba-2 (SSD) mixer (genoseq.model.mamba2.Mamba2Mixer)."""

    d_state: int = 64
    d_conv: int = 4
    expand: int = 2
    head_dim: int = 64
    n_groups: int = 1
    chunk_size: int = 64
    dt_min: float = 0.001
    dt_max: float = 0.1

    def __post_init__(self) -> None:
        for name in ("d_state", "expand", "head_dim", "n_groups", "chunk_size"):
            _positive_int("mamba2", name, getattr(self, name))
        _positive_int("mamba2", "d_conv", self.d_conv, 2)
        for name in ("dt_min", "dt_max"):
            _positive("mamba2", name, getattr(self, name))


@dataclass
class AttentionConfig(_SubConfig):
    """Multi-head / grouped-query attention with rotary embeddings."""

    n_heads: int = 4
    n_kv_heads: int | None = None
    rope_base: float = 10000.0
    window: int | None = None

    def __post_init__(self) -> None:
        _positive_int("attention", "n_heads", self.n_heads)
        if self.n_kv_heads is not None:
            _positive_int("attention", "n_kv_heads", self.n_kv_heads)
            if self.n_heads % self.n_kv_heads:
                raise ConfigError(f"attention.n_heads ({self.n_heads}) must be a multiple of "
                                  f"attention.n_kv_heads ({self.n_kv_heads})")
        _positive("attention", "rope_base", self.rope_base)
        if self.window is not None:
            _positive_int("attention", "window", self.window)


_SUB = {"hyena": HyenaConfig, "mamba": MambaConfig, "mamba2": Mamba2Config, "attention": AttentionConfig}


@dataclass
class ModelConfig:
    """Whole-model architecture.

    Layers follow ``layer_pattern`` tiled over ``n_layer`` (H Hyena, M Mamba-1, S Mamba-2/SSD, A attention),
    e.g. ``"SSSA"`` with 8 layers is S S S A S S S A. Each block is pre-norm: x + mixer(norm(x)), then
    x + mlp(norm(x)) unless ``mlp_type="none"``.
    """

    d_model: int = 128
    n_layer: int = 2
    layer_pattern: str = "H"
    mlp_type: str = "gelu"  # "gelu" (Linear-GELU-Linear), "glu" (SwiGLU) or "none"
    mlp_ratio: float = 4.0
    mlp_width: int | None = None  # overrides mlp_ratio when set
    norm: str = "layernorm"
    norm_eps: float = 1e-5
    vocab_size: int = 10
    pad_vocab_multiple: int = 8
    max_len: int = 1024
    bidirectional: bool = False
    bidirectional_combine: str = "add"  # "add" or "concat" (concat + linear projection)
    bidirectional_tie: bool = True  # share in/out projections between directions (Caduceus)
    rc_equivariant: bool = False
    dropout: float = 0.0
    tie_embeddings: bool = True
    head: str = "lm"
    n_outputs: int | None = None
    pooling: str = "mean"
    task: str = "classification"
    initializer_range: float = 0.02
    checkpointing: str = "none"  # training memory: "mlp" recomputes MLPs, "block" whole blocks, in backward
    hyena: HyenaConfig = field(default_factory=HyenaConfig)
    mamba: MambaConfig = field(default_factory=MambaConfig)
    mamba2: Mamba2Config = field(default_factory=Mamba2Config)
    attention: AttentionConfig = field(default_factory=AttentionConfig)

    def __post_init__(self) -> None:
        for name, cls in _SUB.items():
            value = getattr(self, name)
            if isinstance(value, dict):
                setattr(self, name, cls.from_dict(value))
            elif not isinstance(value, cls):
                raise ConfigError(f"ModelConfig.{name} must be a {cls.__name__} or a dict, got {type(value).__name__}")
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise ConfigError naming the first inconsistent field."""
        o = "ModelConfig"
        _positive_int(o, "d_model", self.d_model)
        _positive_int(o, "n_layer", self.n_layer)
        _positive_int(o, "vocab_size", self.vocab_size, 10)
        _positive_int(o, "pad_vocab_multiple", self.pad_vocab_multiple)
        _positive_int(o, "max_len", self.max_len)
        if not isinstance(self.layer_pattern, str) or not self.layer_pattern:
            raise ConfigError(f"{o}.layer_pattern must be a non-empty string of {''.join(MIXERS)}")
        for ch in self.layer_pattern:
            if ch not in MIXERS:
                raise ConfigError(f"{o}.layer_pattern {self.layer_pattern!r} has unknown letter {ch!r}: use H "
                                  "(Hyena), M (Mamba-1), S (Mamba-2/SSD) or A (attention)")
        _choice(o, "mlp_type", self.mlp_type, MLP_TYPES)
        _positive(o, "mlp_ratio", self.mlp_ratio)
        if self.mlp_width is not None:
            _positive_int(o, "mlp_width", self.mlp_width)
        _choice(o, "norm", self.norm, NORMS)
        _positive(o, "norm_eps", self.norm_eps)
        _choice(o, "checkpointing", self.checkpointing, CHECKPOINTING)
        _choice(o, "bidirectional_combine", self.bidirectional_combine, COMBINES)
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"{o}.dropout must be in [0, 1), got {self.dropout}")
        _choice(o, "head", self.head, HEADS)
        _choice(o, "pooling", self.pooling, POOLINGS)
        _choice(o, "task", self.task, TASKS)
        if self.head == "lm":
            if self.n_outputs is not None:
                raise ConfigError(f"{o}.n_outputs must be None for head='lm' (the vocabulary is the output)")
        else:
            if self.n_outputs is None:
                raise ConfigError(f"{o}.n_outputs is required for head={self.head!r}")
            _positive_int(o, "n_outputs", self.n_outputs)
        if self.rc_equivariant:
            if not self.bidirectional:
                raise ConfigError(f"{o}.rc_equivariant needs bidirectional=True: the reverse-complement half of "
                                  "the channels reads the sequence right to left, so the model is not causal")
            if self.d_model % 2:
                raise ConfigError(f"{o}.d_model must be even when rc_equivariant (channels split per strand), "
                                  f"got {self.d_model}")
        width = self.mixer_width
        if "A" in self.layer_pattern:
            heads = self.attention.n_heads
            if width % heads or (width // heads) % 2:
                raise ConfigError(f"attention.n_heads={heads} must divide the mixer width {width} into an even "
                                  "head size (rotary embeddings rotate pairs)")
        if "S" in self.layer_pattern:
            inner = self.mamba2.expand * width
            if inner % self.mamba2.head_dim:
                raise ConfigError(f"mamba2.head_dim={self.mamba2.head_dim} must divide expand*d_model={inner}")
            if (inner // self.mamba2.head_dim) % self.mamba2.n_groups:
                raise ConfigError(f"mamba2.n_groups={self.mamba2.n_groups} must divide the head count "
                                  f"{inner // self.mamba2.head_dim}")

    # ------------------------------------------------------------------ derived
    @property
    def mixer_width(self) -> int:
        """Channels each mixer sees: d_model, or d_model/2 per strand when rc_equivariant."""
        return self.d_model // 2 if self.rc_equivariant else self.d_model

    @property
    def padded_vocab_size(self) -> int:
        m = self.pad_vocab_multiple
        return int(math.ceil(self.vocab_size / m) * m)

    @property
    def mlp_hidden(self) -> int:
        if self.mlp_width is not None:
            return self.mlp_width
        return int(round(self.mlp_ratio * self.mixer_width))

    @property
    def layer_types(self) -> list[str]:
        """The mixer letter of every layer (pattern tiled over n_layer)."""
        p = self.layer_pattern
        return [p[i % len(p)] for i in range(self.n_layer)]

    @property
    def is_causal(self) -> bool:
        return not self.bidirectional

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict:
        """JSON-safe dict (nested sub-configs as dicts)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Build from a (possibly partial) dict; unknown keys raise ConfigError with a suggestion."""
        if not isinstance(data, dict):
            raise ConfigError(f"model config must be a mapping, got {type(data).__name__}")
        _unknown_keys("ModelConfig", data, [f.name for f in fields(cls)])
        return cls(**data)

    def replace(self, **changes: Any) -> ModelConfig:
        """A validated copy with some fields changed (nested sub-configs may be given as dicts)."""
        data = self.to_dict()
        _unknown_keys("ModelConfig", changes, list(data))
        for key, value in changes.items():
            if key in _SUB and isinstance(value, dict):
                merged = dict(data[key])
                _unknown_keys(_SUB[key].__name__, value, list(merged))
                merged.update(value)
                value = merged
            data[key] = value
        return ModelConfig.from_dict(data)
