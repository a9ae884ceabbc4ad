"""The ``cnn`` baseline: a small 1-D CNN on one-hot DNA, trained with Adam and early stopping on dev.

Input: one-hot (B, 4, L) (non-ACGT bases are all-zero columns), sequences of a batch padded to the
batch's longest with zeros and a position mask. Every convolution but the last is followed by a max-pool
of width 2 (the mask pooled alike), which halves the work of the next layer. After every convolution the
activations at padded positions are zeroed, so a sequence's output does not depend on how much padding
its batch needed. Pooling: masked global max and mean, concatenated, then dropout and one linear layer.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from genoseq.errors import ConfigError
from genoseq.eval._kmer import encode
from genoseq.eval._select import SelectionScore, is_better

DEFAULT_KERNELS = (9, 7, 5)


class SmallCNN(nn.Module):
    """conv(k) -> ReLU [-> max-pool 2], one per kernel size, ``channels`` wide; masked global max + mean
    pool; linear."""

    def __init__(self, n_classes: int, channels: int = 64, kernels: Sequence[int] = DEFAULT_KERNELS,
                 dropout: float = 0.2) -> None:
        super().__init__()
        widths = [4] + [channels] * len(kernels)
        self.convs = nn.ModuleList(
            nn.Conv1d(widths[i], widths[i + 1], k, padding=k // 2) for i, k in enumerate(kernels)
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * channels, n_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, 4, L) one-hot, mask: (B, 1, L) 1.0 at real positions -> (B, n_classes) logits."""
        for i, conv in enumerate(self.convs):
            if i:  # (B, channels, L) -> (B, channels, ceil(L / 2)); activations >= 0, padding 0
                x = nn.functional.max_pool1d(x, 2, ceil_mode=True)
                mask = nn.functional.max_pool1d(mask, 2, ceil_mode=True)
            x = torch.relu(conv(x)) * mask  # padding stays zero
        # activations are >= 0 and padding is 0, so the plain max equals the masked max
        pooled = torch.cat([x.amax(dim=2), x.sum(dim=2) / mask.sum(dim=2).clamp_min(1.0)], dim=1)
        return self.head(self.dropout(pooled))


class _Encoded:
    """Sequences as padded codes (N, Lmax) uint8 (4 = not ACGT or padding) and lengths (N,)."""

    def __init__(self, sequences: Sequence[str]) -> None:
        flat, lengths = encode(sequences)
        self.lengths = torch.from_numpy(lengths)
        width = max(1, int(lengths.max())) if len(lengths) else 1
        codes = np.full((len(lengths), width), 4, dtype=np.uint8)
        mask = np.arange(width)[None, :] < lengths[:, None]
        codes[mask] = flat
        self.codes = torch.from_numpy(codes)

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One-hot (B, 4, Lb) float32 and mask (B, 1, Lb), Lb the longest sequence of the batch."""
        lengths = self.lengths[index]
        width = max(1, int(lengths.max()))
        codes = self.codes[index, :width].long()
        onehot = nn.functional.one_hot(codes, 5)[..., :4].permute(0, 2, 1).float()
        mask = (torch.arange(width)[None, :] < lengths[:, None]).float().unsqueeze(1)
        return onehot, mask


@torch.no_grad()
def _predict(model: SmallCNN, data: _Encoded, batch_size: int = 512) -> np.ndarray:
    """(N, C) float64 softmax probabilities, in input order."""
    model.eval()
    out = [
        torch.softmax(model(*data.batch(torch.arange(i, min(i + batch_size, len(data))))), dim=1)
        for i in range(0, len(data), batch_size)
    ]
    return torch.cat(out).double().numpy()


def fit_cnn(
    train_seqs: Sequence[str], train_y: np.ndarray, dev_seqs: Sequence[str], dev_y: np.ndarray,
    test_seqs: Sequence[str], n_classes: int, seed: int, score: SelectionScore,
    max_epochs: int = 30, max_seconds: float | None = 90.0, patience: int = 4, batch_size: int = 128,
    lr: float = 1e-3, channels: int = 64, kernels: Sequence[int] = DEFAULT_KERNELS, dropout: float = 0.2,
    threads: int | None = 1,
) -> tuple[np.ndarray, float, int, str]:
    """Train on train, evaluate dev after each epoch, keep the best state (early stopping after
    ``patience`` epochs without improvement); ``max_seconds`` bounds the training wall time (checked after
    every batch; the epoch in progress is then cut short and scored). Returns ``(test probs, train
    seconds, parameters, details)``. ``threads``: torch threads while fitting (restored after; None keeps
    the current setting). One is the default because on a shared, loaded machine two OpenMP threads ran
    a training step 5-10x slower than one (idle: about 1.5x faster)."""
    if max_epochs < 1 or patience < 1 or batch_size < 1 or not kernels or any(k < 1 or k % 2 == 0 for k in kernels):
        raise ConfigError(
            f"cnn: need max_epochs, patience, batch_size >= 1 and odd kernel sizes; got max_epochs={max_epochs}, "
            f"patience={patience}, batch_size={batch_size}, kernels={tuple(kernels)}"
        )
    keep = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _fit(train_seqs, train_y, dev_seqs, dev_y, test_seqs, n_classes, seed, score, max_epochs,
                    max_seconds, patience, batch_size, lr, channels, kernels, dropout)
    finally:
        torch.set_num_threads(keep)


def _fit(
    train_seqs: Sequence[str], train_y: np.ndarray, dev_seqs: Sequence[str], dev_y: np.ndarray,
    test_seqs: Sequence[str], n_classes: int, seed: int, score: SelectionScore, max_epochs: int,
    max_seconds: float | None, patience: int, batch_size: int, lr: float, channels: int,
    kernels: Sequence[int], dropout: float,
) -> tuple[np.ndarray, float, int, str]:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    train, dev = _Encoded(train_seqs), _Encoded(dev_seqs)
    labels = torch.as_tensor(np.asarray(train_y), dtype=torch.long)
    model = SmallCNN(n_classes, channels, kernels, dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    best_value, best_epoch, best_state = float("nan"), 0, copy.deepcopy(model.state_dict())
    epoch, stop = 0, "max_epochs"
    while epoch < max_epochs:
        epoch += 1
        model.train()
        out_of_time = False
        for index in torch.randperm(len(train), generator=generator).split(batch_size):
            loss = nn.functional.cross_entropy(model(*train.batch(index)), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                out_of_time = True
                break
        value = score(np.asarray(dev_y), _predict(model, dev))
        if is_better(value, best_value) or epoch == 1:
            best_value, best_epoch, best_state = value, epoch, copy.deepcopy(model.state_dict())
        if out_of_time:
            stop = f"max_seconds={max_seconds:g} (in epoch {epoch})"
            break
        if epoch - best_epoch >= patience:
            stop = f"patience={patience}"
            break
    seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    probs = _predict(model, _Encoded(test_seqs))
    parameters = sum(p.numel() for p in model.parameters())
    details = (
        f"best epoch {best_epoch} of {epoch}, dev {score.metric} {best_value:.4f}; stopped by {stop}; "
        f"{len(kernels)} conv x {channels} ch (kernels {tuple(int(k) for k in kernels)}, max-pool 2 between), "
        f"global max+mean pool, "
        f"Adam lr {lr:g}, batch {batch_size}, dropout {dropout:g}, torch threads {torch.get_num_threads()}"
    )
    return probs, seconds, parameters, details
