"""Hand-built tiny models implementing the genoseq model contract with KNOWN log-probabilities.

ToyLM (causal): h_t = a * h_{t-1} + E[x_t] (an exponential moving average, the recurrent state);
logits_t = T[x_t] + h_t @ P  predicts x_{t+1}. ``reference_logprobs`` recomputes every per-position
log-probability with a plain numpy loop, so exact expected scores are independent of the code tested.

ToyMLM (bidirectional): logits_t = A[x_{t-1}] + B[x_{t+1}] (PAD outside the sequence).
ToyHead: sequence head, one output = mean_t w[x_t] (a logit).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

V = 10


class ToyState:
    def __init__(self, last: torch.Tensor, h: torch.Tensor) -> None:
        self.last, self.h = last, h

    def clone(self) -> ToyState:
        return ToyState(self.last.clone(), self.h.clone())

    def repeat_interleave(self, n: int) -> ToyState:
        return ToyState(self.last.repeat_interleave(n, 0), self.h.repeat_interleave(n, 0))

    def select(self, index) -> ToyState:  # noqa: ANN001
        index = torch.as_tensor(index, dtype=torch.long)
        return ToyState(self.last[index], self.h[index])


class ToyBackbone(torch.nn.Module):
    def __init__(self, d: int, decay: float, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.E = torch.nn.Parameter(torch.randn(V, d, generator=g, dtype=torch.float64))
        self.decay = decay
        self.E.data[0] = 0.0  # PAD embeds to zero

    def _scan(self, ids: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        e = self.E[ids]  # (B, L, D)
        out = torch.empty_like(e)
        for t in range(ids.shape[1]):
            h = self.decay * h + e[:, t]
            out[:, t] = h
        return out

    def forward(self, ids: torch.Tensor, return_all_layers: bool = False):  # noqa: ANN201
        h0 = torch.zeros(ids.shape[0], self.E.shape[1], dtype=self.E.dtype)
        emb = self.E[ids]
        ema = self._scan(ids, h0)
        layers = [emb, ema, torch.tanh(ema)]
        return layers if return_all_layers else layers[-1]

    def prefill(self, ids: torch.Tensor, state: ToyState) -> torch.Tensor:
        ema = self._scan(ids, state.h)
        state.h = ema[:, -1].clone()
        state.last = ids[:, -1].clone()
        return torch.tanh(ema)


class ToyLM(torch.nn.Module):
    head_type = "lm"

    def __init__(self, d: int = 4, decay: float = 0.7, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed + 1)
        self.backbone = ToyBackbone(d, decay, seed)
        self.T = torch.nn.Parameter(torch.randn(V, V, generator=g, dtype=torch.float64))
        self.P = torch.nn.Parameter(0.5 * torch.randn(d, V, generator=g, dtype=torch.float64))
        self.config = SimpleNamespace(bidirectional=False, rc_equivariant=False, max_len=64, d_model=d, n_layer=2)
        self.n_forward_tokens = 0

    def _logits(self, ids: torch.Tensor, ema: torch.Tensor) -> torch.Tensor:
        return self.T[ids] + ema @ self.P  # (B, L, V)

    def forward(self, ids: torch.Tensor, attention_mask=None) -> torch.Tensor:  # noqa: ANN001
        self.n_forward_tokens += ids.numel()
        h0 = torch.zeros(ids.shape[0], self.P.shape[0], dtype=torch.float64)
        return self._logits(ids, self.backbone._scan(ids, h0))

    def allocate_state(self, batch_size: int, device=None, dtype=None) -> ToyState:  # noqa: ANN001
        return ToyState(torch.zeros(batch_size, dtype=torch.long), torch.zeros(batch_size, self.P.shape[0], dtype=torch.float64))

    def prefill(self, ids: torch.Tensor, state: ToyState) -> torch.Tensor:
        self.n_forward_tokens += ids.numel()
        ema = self.backbone._scan(ids, state.h)
        state.h = ema[:, -1].clone()
        state.last = ids[:, -1].clone()
        return self._logits(ids, ema)

    def step(self, ids_t: torch.Tensor, state: ToyState) -> torch.Tensor:
        return self.prefill(ids_t[:, None], state)[:, 0]

    def reference_logprobs(self, ids: np.ndarray) -> np.ndarray:
        """lp[t] = log p(x_t | x_<t) for t >= 1 (lp[0] = 0), plain numpy float64."""
        E, T, P = (p.detach().numpy() for p in (self.backbone.E, self.T, self.P))
        h = np.zeros(E.shape[1])
        lp = np.zeros(len(ids))
        for t in range(len(ids)):
            h = self.backbone.decay * h + E[ids[t]]
            if t + 1 < len(ids):
                z = T[ids[t]] + h @ P
                z = z - z.max()
                lp[t + 1] = z[ids[t + 1]] - np.log(np.exp(z).sum())
        return lp


class ToyMLM(torch.nn.Module):
    head_type = "lm"

    def __init__(self, seed: int = 3) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.A = torch.nn.Parameter(torch.randn(V, V, generator=g, dtype=torch.float64))
        self.B = torch.nn.Parameter(torch.randn(V, V, generator=g, dtype=torch.float64))
        self.config = SimpleNamespace(bidirectional=True, rc_equivariant=False, max_len=64, d_model=V, n_layer=1)
        self.backbone = lambda ids, return_all_layers=False: (  # noqa: E731
            [self.forward(ids)] * 2 if return_all_layers else self.forward(ids))

    def forward(self, ids: torch.Tensor, attention_mask=None) -> torch.Tensor:  # noqa: ANN001
        pad = torch.zeros(ids.shape[0], 1, dtype=ids.dtype)
        left = torch.cat([pad, ids[:, :-1]], 1)
        right = torch.cat([ids[:, 1:], pad], 1)
        return self.A[left] + self.B[right]


class ToyHead(torch.nn.Module):
    head_type = "sequence"
    task = "classification"

    def __init__(self, seed: int = 5) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = torch.nn.Parameter(torch.randn(V, generator=g, dtype=torch.float64))
        self.config = SimpleNamespace(bidirectional=False, rc_equivariant=False, max_len=64, d_model=1, n_layer=1)

    def forward(self, ids: torch.Tensor, attention_mask=None) -> torch.Tensor:  # noqa: ANN001
        return self.w[ids].mean(1, keepdim=True)  # (B, 1)


@pytest.fixture
def toy_lm() -> ToyLM:
    return ToyLM()


@pytest.fixture
def toy_mlm() -> ToyMLM:
    return ToyMLM()


@pytest.fixture
def toy_head() -> ToyHead:
    return ToyHead()


@pytest.fixture
def toy_genome() -> dict[str, str]:
    rng = np.random.default_rng(7)
    return {
        "chr1": "".join(rng.choice(list("ACGT"), 120)),
        "chr2": "".join(rng.choice(list("ACGT"), 30)),
    }
