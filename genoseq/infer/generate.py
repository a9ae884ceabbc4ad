"""Sampling sequences from causal models: ``generate``.

The prompt is prefilled once into the model's recurrent/cached state and every new token is one
``model.step`` call, so for Hyena/Mamba models the cost per generated token does not grow with the
prompt. Only the bases A, C, G, T are sampled (other token ids are masked out).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from genoseq.errors import ConfigError
from genoseq.infer._runner import model_device, require_causal
from genoseq.tokenizer import A_ID, C_ID, G_ID, T_ID, Tokenizer

_BASE_IDS = (A_ID, C_ID, G_ID, T_ID)


def generate(
    model: torch.nn.Module,
    length: int,
    prompt: str | None = None,
    num_samples: int = 1,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    use_cache: bool = True,
) -> list[str]:
    """Generate ``num_samples`` continuations of ``length`` bases.

    Args:
        model: a causal GenoseqModel with an LM head.
        length: number of new bases per sample.
        prompt: optional DNA prompt (not included in the output). Without one the first base is
            drawn uniformly from A/C/G/T.
        temperature: softmax temperature; 0 means greedy (argmax).
        top_k: keep only the k most likely bases (1..4).
        top_p: nucleus sampling: keep the smallest set of bases whose probability reaches ``top_p``.
        seed: seed for a private ``torch.Generator`` (reproducible samples).
        use_cache: prefill + ``model.step`` (default). False recomputes a full forward pass over the
            whole sequence for every token (the slow reference used in tests).

    Returns:
        The generated sequences (strings of A/C/G/T), prompt excluded.
    """
    require_causal(model, "generation")
    if length < 0 or num_samples < 1:
        raise ConfigError("length must be >= 0 and num_samples >= 1")
    if temperature < 0 or (top_k is not None and not 1 <= top_k <= 4) or (top_p is not None and not 0 < top_p <= 1):
        raise ConfigError("need temperature >= 0, top_k in 1..4 and top_p in (0, 1]")
    device = model_device(model)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    tok = Tokenizer()
    model.eval()
    out = torch.zeros(num_samples, length, dtype=torch.long)
    with torch.inference_mode():
        if prompt:
            ids = torch.from_numpy(tok.encode(prompt, source="prompt").astype(np.int64))
            seq = ids[None].repeat(num_samples, 1).to(device)  # (B, P)
        else:
            first = torch.tensor(_BASE_IDS)[torch.randint(4, (num_samples,), generator=gen)]
            seq = first[:, None].to(device)
        if length == 0:
            return [""] * num_samples
        if use_cache:
            state = model.allocate_state(num_samples)
            logits = model.prefill(seq, state)[:, -1]  # (B, V)
        else:
            logits = model(seq)[:, -1]
        start = 0
        if not prompt:  # the uniformly drawn first base is part of the output
            out[:, 0] = seq[:, 0].cpu()
            start = 1
        for t in range(start, length):
            nxt = sample_next(logits, temperature, top_k, top_p, gen)  # (B,)
            out[:, t] = nxt
            if t + 1 == length:
                break
            nxt = nxt.to(device)
            if use_cache:
                logits = model.step(nxt, state)
            else:
                seq = torch.cat([seq, nxt[:, None]], 1)
                logits = model(seq)[:, -1]
    return [tok.decode(row) for row in out.numpy()]


def sample_next(
    logits: torch.Tensor, temperature: float, top_k: int | None, top_p: float | None,
    gen: torch.Generator | None,
) -> torch.Tensor:
    """Next base ids (B,) from LM logits (B, V), restricted to A/C/G/T."""
    base = logits[:, list(_BASE_IDS)].double().cpu()  # (B, 4)
    ids = torch.tensor(_BASE_IDS)
    if temperature == 0:
        return ids[base.argmax(-1)]
    probs = torch.softmax(base / temperature, -1)
    if top_k is not None:
        kth = probs.topk(top_k, -1).values[:, -1:]
        probs = torch.where(probs >= kth, probs, torch.zeros_like(probs))
    if top_p is not None:
        sorted_p, order = probs.sort(-1, descending=True)
        cum = sorted_p.cumsum(-1) / sorted_p.sum(-1, keepdim=True)
        drop = (cum - sorted_p / sorted_p.sum(-1, keepdim=True)) >= top_p  # mass before this base already enough
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    return ids[torch.multinomial(probs, 1, generator=gen)[:, 0]]


def write_fasta(path: str | os.PathLike[str], names: Sequence[str], seqs: Sequence[str], width: int = 80) -> None:
    """Write records to a FASTA file atomically, ``width`` bases per line."""
    from genoseq.infer.table import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for name, seq in zip(names, seqs, strict=True):
            fh.write(f">{name}\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i : i + width] + "\n")
