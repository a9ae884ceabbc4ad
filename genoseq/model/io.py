"""Save / load models as config.json + model.safetensors + tokenizer.json (no pickle)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from genoseq._atomic import atomic_write, write_json
from genoseq.errors import ConfigError, GenoseqError

CONFIG_NAME, WEIGHTS_NAME, TOKENIZER_NAME = "config.json", "model.safetensors", "tokenizer.json"


def unique_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """state_dict with each shared tensor (tied embeddings, shared projections) under its first name only."""
    out, seen = {}, set()
    for name, tensor in model.state_dict().items():
        key = (tensor.data_ptr(), tensor.shape, tensor.dtype) if tensor.numel() else None
        if key is not None and key in seen:
            continue
        if key is not None:
            seen.add(key)
        out[name] = tensor.detach().contiguous()
    return out


def save_pretrained(model, directory: str | os.PathLike) -> None:
    """Write ``directory``/config.json, model.safetensors and tokenizer.json (each via temp file + rename)."""
    from safetensors.torch import save_file

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.cpu() for k, v in unique_state_dict(model).items()}
    atomic_write(d / WEIGHTS_NAME, lambda p: save_file(state, p, metadata={"format": "pt"}))
    for name, data in ((CONFIG_NAME, model.config.to_dict()), (TOKENIZER_NAME, model.tokenizer.to_dict())):
        write_json(d / name, data, sort_keys=True)


def load_model(directory: str | os.PathLike, device: str | torch.device = "cpu"):
    """Rebuild a model saved by ``save_pretrained`` (heads included).

    Raises GenoseqError when a file is missing or unreadable, ConfigError for a bad config.json, and a
    GenoseqError listing missing / unexpected / mis-shaped keys when the weights do not fit the config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from genoseq.model.build import GenoseqModel
    from genoseq.model.config import ModelConfig
    from genoseq.tokenizer import Tokenizer

    d = Path(directory)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (d / name).is_file():
            raise GenoseqError(f"{d}: no {name} (expected a directory written by save_pretrained)")
    try:
        config_data = json.loads((d / CONFIG_NAME).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{d / CONFIG_NAME}: not valid JSON ({exc})") from exc
    config = ModelConfig.from_dict(config_data)
    tokenizer = Tokenizer()
    if (d / TOKENIZER_NAME).is_file():
        tokenizer = Tokenizer.from_dict(json.loads((d / TOKENIZER_NAME).read_text()))
    model = GenoseqModel(config, tokenizer=tokenizer)
    try:
        state = load_file(str(d / WEIGHTS_NAME), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise GenoseqError(f"{d / WEIGHTS_NAME}: cannot read weights ({exc})") from exc
    expected = unique_state_dict(model)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
                    if k in state and state[k].shape != v.shape)
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys: {', '.join(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {', '.join(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches: {', '.join(shapes)}")
        raise GenoseqError(f"{d / WEIGHTS_NAME} does not match {d / CONFIG_NAME}: " + "; ".join(parts))
    model.load_state_dict(state, strict=False)
    return model.to(device).eval()
