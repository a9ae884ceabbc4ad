"""ModelState: the per-layer recurrent / cache state of a causal model (incremental inference)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


class ModelState:
    """One ``dict[str, Tensor]`` per layer. Tensors with a batch axis have it first; 0-dim tensors
    (position counters) are shared by every row."""

    def __init__(self, layers: list[dict[str, Tensor]]) -> None:
        self.layers = layers

    def _map(self, fn: Callable[[Tensor], Tensor]) -> ModelState:
        return ModelState([{k: (v.clone() if v.dim() == 0 else fn(v)) for k, v in d.items()} for d in self.layers])

    def clone(self) -> ModelState:
        """Deep copy (continuing one copy leaves the other untouched)."""
        return self._map(lambda t: t.clone())

    def repeat_interleave(self, n: int) -> ModelState:
        """Expand the batch: row i -> rows i*n .. i*n+n-1."""
        return self._map(lambda t: t.repeat_interleave(n, dim=0))

    def select(self, index: Tensor | list[int] | int) -> ModelState:
        """Keep the given rows (int, list or index tensor), in that order."""
        if isinstance(index, int):
            index = [index]
        idx = torch.as_tensor(index, dtype=torch.long)
        return self._map(lambda t: t.index_select(0, idx.to(t.device)))

    @property
    def batch_size(self) -> int:
        for d in self.layers:
            for v in d.values():
                if v.dim() > 0:
                    return v.shape[0]
        return 0

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return self.layers[i]
