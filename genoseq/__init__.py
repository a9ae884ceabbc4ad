"""genoseq: genomic sequence modeling.

Public API (imported lazily, so ``import genoseq`` stays fast):

- data: :class:`Tokenizer`, :class:`Genome`, :func:`read_bed`, :func:`read_variants`, :func:`read_task`
- models: :class:`ModelConfig`, :func:`build_model`, :func:`load_model`
- inference: :func:`embed`, :func:`score_variants`
- errors: :class:`GenoseqError` (base of every error raised on bad input)
"""

from __future__ import annotations

import importlib
from typing import Any

from genoseq.errors import GenoseqError

__version__ = "0.1.0"

# public name -> module that defines it; resolved on first access
_LAZY: dict[str, str] = {
    "Tokenizer": "genoseq.tokenizer",
    "Genome": "genoseq.data.genome",
    "read_bed": "genoseq.data.intervals",
    "read_variants": "genoseq.data.variants",
    "read_task": "genoseq.data.tasks",
    "ModelConfig": "genoseq.model.config",
    "build_model": "genoseq.model.build",
    "load_model": "genoseq.model.io",
    "embed": "genoseq.infer.embed",
    "score_variants": "genoseq.infer.variants",
}

__all__ = ["GenoseqError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genoseq' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

