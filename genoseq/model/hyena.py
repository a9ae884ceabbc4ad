"""Hyena mixer: in-projection, short causal conv, implicit long filters, gated FFT long convolution.

For order N the in-projection makes N+1 streams x_0..x_{N-1}, v of width D. After a short depthwise conv,
stage o (o = 0..N-2) computes v <- h_o * (x_{N-1-o} . v) + b_o (x_{N-1-o} . v) (the skip b_o is folded into
h_o's lag-0 tap), the last stage is gated by x_0, and an out-projection returns to D channels.

The filters h come from positional features of the lag (t / max_len and sines/cosines of it) through a
small MLP with sine activations, times an exponential decay window exp(-|delta_c| t / max_len). The window
makes the support finite: beyond ``cutoff`` lags (where the slowest window is below 1e-12) the filter is
zero by definition, in the parallel forward and in streaming alike. A filter value never depends on the
sequence length, so chunked prefill equals the parallel forward.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genoseq.ops import long_conv, short_conv
from genoseq.ops.fftconv import causal_conv_tail, tail_fft_size
from genoseq.ops.hyena_conv import chunk_fft_size, hyena_order2, hyena_order2_chunk
from genoseq.ops.hyena_inplace import hyena_order2_residual_
from genoseq.ops.implicit_filter import features, filter_hidden, filter_rows, implicit_filter
from genoseq.ops.prenorm import Norm

_WINDOW_FLOOR = 1e-12  # decay window value at which the filter support ends
_FUSED_CHUNK = 128  # shortest streaming chunk for the fused operator (token steps keep direct products)


class Sin(nn.Module):
    """sin(freq * x) with a learnable per-feature frequency."""

    def __init__(self, dim: int, freq: float = 10.0) -> None:
        super().__init__()
        self.freq = nn.Parameter(torch.full((1, dim), float(freq)))

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(self.freq.to(x.dtype) * x)


class HyenaFilter(nn.Module):
    """Implicit long filter bank: lag t -> h[c, t] for ``channels`` filters.

    Features of t: [t/max_len, cos(2 pi f t / max_len), sin(2 pi f t / max_len)] for ``pos_dim`` - 1
    band features, then Linear -> Sin -> (Linear -> Sin) x 2 -> Linear (no bias), times the decay window.
    """

    def __init__(self, channels: int, filter_dim: int, pos_dim: int, max_len: int, decay_min: float,
                 decay_max: float, n_windows: int = 1) -> None:
        super().__init__()
        self.channels, self.pos_dim, self.max_len = channels, pos_dim, max_len
        act = Sin(filter_dim)  # shared between the hidden layers (as in HyenaDNA)
        self.mlp = nn.Sequential(
            nn.Linear(pos_dim, filter_dim), act,
            nn.Linear(filter_dim, filter_dim), act,
            nn.Linear(filter_dim, filter_dim), act,
            nn.Linear(filter_dim, channels, bias=False),
        )
        per = channels // n_windows
        target = math.log(1e-2)
        deltas = torch.linspace(target / decay_min, target / decay_max, per).abs().repeat(n_windows)
        self.register_buffer("deltas", deltas, persistent=False)  # (channels,)
        bands = (pos_dim - 1 + 1) // 2
        self.register_buffer("bands", torch.linspace(1e-4, bands - 1, bands), persistent=False)
        slowest = float(deltas.min())
        self.cutoff = int(math.ceil(max_len * math.log(1.0 / _WINDOW_FLOOR) / slowest))

    def features(self, lags: Tensor, dtype: torch.dtype) -> Tensor:
        """(n,) integer lags -> (n, pos_dim) positional features."""
        return features(lags, self.max_len, self.bands, self.pos_dim, dtype)

    def forward(self, n: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """Filter values for lags 0..n-1: (channels, n); zero at lags >= cutoff.

        Evaluated in lag pieces by genoseq.ops.implicit_filter (backward recomputes each piece; nothing of
        length n is saved); each Sin's frequency is folded into the Linear before it.
        """
        m = min(n, self.cutoff)
        with torch.autocast(device_type=self.deltas.device.type, enabled=False):
            h = implicit_filter(*self._folded(), self.mlp[-1].weight, m, self.deltas, self.bands, self.max_len,
                                self.pos_dim, dtype)  # (channels, m)
        if m < n:
            h = F.pad(h, (0, n - m))
        return h

    def _folded(self) -> list[Tensor]:
        """W1, b1, W2, b2, W3, b3 with the Sin frequency folded in."""
        lin1, act, lin2, _, lin3, _, _ = self.mlp
        f = act.freq[0]  # (filter_dim,)
        return [t for lin in (lin1, lin2, lin3) for t in (f[:, None] * lin.weight, f * lin.bias)]

    def hidden(self, n: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """The MLP's last hidden activations (min(n, cutoff), filter_dim), without autograd: with
        :meth:`rows`, the filters of a few channels at a time for long whole-sequence inference."""
        with torch.no_grad(), torch.autocast(device_type=self.deltas.device.type, enabled=False):
            return filter_hidden(*self._folded(), min(n, self.cutoff), self.bands, self.max_len, self.pos_dim,
                                 dtype)

    def rows(self, a3: Tensor, channels: slice, n: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """forward(n, dtype)[channels] from :meth:`hidden`'s activations a3: (len(channels), n)."""
        with torch.no_grad(), torch.autocast(device_type=self.deltas.device.type, enabled=False):
            h = filter_rows(a3, self.mlp[-1].weight[channels], self.deltas[channels], self.max_len, dtype)
        return F.pad(h, (0, n - h.shape[-1])) if h.shape[-1] < n else h


class HyenaMixer(nn.Module):
    """Hyena operator over (B, L, D); causal, or bidirectional with a two-sided filter.

    Args (HyenaConfig fields): order, filter_dim, filter_pos_dim, short_conv, filter_decay_min,
    filter_decay_max; plus max_len (filter position scale) and bidirectional.
    """

    def __init__(self, d_model: int, layer_idx: int, order: int = 2, filter_dim: int = 64,
                 filter_pos_dim: int = 16, short_conv: int = 3, filter_decay_min: float = 0.3,
                 filter_decay_max: float = 1.5, max_len: int = 1024, bidirectional: bool = False,
                 n_layer: int = 1) -> None:
        super().__init__()
        self.d_model, self.layer_idx, self.order, self.bidirectional = d_model, layer_idx, order, bidirectional
        D = d_model
        self.in_proj = nn.Linear(D, (order + 1) * D)
        self.out_proj = nn.Linear(D, D)
        bound = 1.0 / math.sqrt(short_conv)
        self.short_conv_weight = nn.Parameter(torch.empty((order + 1) * D, short_conv).uniform_(-bound, bound))
        self.short_conv_bias = nn.Parameter(torch.empty((order + 1) * D).uniform_(-bound, bound))
        sides = 2 if bidirectional else 1
        self.filter = HyenaFilter((order - 1) * D * sides, filter_dim, filter_pos_dim, max_len,
                                  filter_decay_min, filter_decay_max, n_windows=(order - 1) * sides)
        self.skip = nn.Parameter(torch.randn(order - 1, D))
        for lin in (self.in_proj, self.out_proj):
            nn.init.normal_(lin.weight, std=0.02)
            nn.init.zeros_(lin.bias)
        self.out_proj.weight.data.mul_(1.0 / math.sqrt(2 * n_layer))
        self._cache: tuple[tuple, Tensor] | None = None
        self.use_fused = True  # False: forward_reference for every call
        # the fused op keeps its in-projection for the backward (set by the Backbone on its last block, whose
        # backward runs first, at the memory peak, where the recompute would allocate it anyway)
        self.keep_in_proj = False

    # ------------------------------------------------------------------ filters
    def train(self, mode: bool = True) -> HyenaMixer:
        self._cache = None
        self.__dict__.pop("_spectra", None)
        return super().train(mode)

    def _filter_params_key(self) -> tuple:
        return tuple((p.data_ptr(), p._version) for p in self.filter.parameters())

    def raw_filter(self, n: int, dtype: torch.dtype) -> Tensor:
        """(order-1 [*2 sides], D, n) one-sided filters for lags 0..n-1, cached in eval mode without grad."""
        cacheable = not self.training and not torch.is_grad_enabled()
        key = (dtype, self.filter.deltas.device, self._filter_params_key())
        if cacheable and self._cache is not None and self._cache[0] == key and self._cache[1].shape[-1] >= n:
            return self._cache[1][..., :n]
        h = self.filter(n, dtype)  # saves only its weights; backward recomputes the MLP piece by piece
        h = h.view(-1, self.d_model, n)  # generated once for all channels
        if cacheable:
            # keep at least the lags the filter support can reach, so streaming never regenerates them
            self._cache = (key, h)
        return h

    def filters(self, L: int, dtype: torch.dtype) -> Tensor:
        """Per-stage long-conv filters with the skip folded into the lag-0 tap.

        Causal: (order-1, D, L). Bidirectional: (order-1, D, 2L-1), index L-1 is lag 0.
        """
        h = self.raw_filter(L, dtype)
        skip = self.skip.to(dtype)
        if not self.bidirectional:
            return torch.cat([h[:, :, :1] + skip[:, :, None], h[:, :, 1:]], dim=-1)
        pos, neg = h[0::2], h[1::2]  # (order-1, D, L) each: lags >= 0 and lags <= 0
        k = torch.cat([neg[:, :, 1:].flip(-1), pos[:, :, :1] + skip[:, :, None], pos[:, :, 1:]], dim=-1)
        return k  # (order-1, D, 2L-1)

    # ------------------------------------------------------------------ parallel forward
    def _streams(self, x: Tensor, conv_state: Tensor | None = None) -> tuple[list[Tensor], Tensor]:
        # W @ x^T gives the channel-major layout (B, (N+1) D, L) directly, contiguous, without a transpose copy
        w, b = self.in_proj.weight, self.in_proj.bias
        if not torch.is_autocast_enabled():
            w, b = w.to(x.dtype), b.to(x.dtype)
        if x.shape[0] == 1:  # one fused addmm on the transposed view (BLAS reads it without a copy)
            u = torch.addmm(b[:, None], w, x[0].t()).unsqueeze(0)  # (1, (N+1) D, L)
        else:
            u = torch.matmul(w, x.transpose(1, 2))
            u = u + b.to(u.dtype)[:, None]  # (B, (N+1) D, L)
        uc, conv_state = short_conv(u, self.short_conv_weight, self.short_conv_bias, state=conv_state)
        return list(uc.split(self.d_model, dim=1)), conv_state  # N+1 x (B, D, L)

    def forward(self, x: Tensor) -> Tensor:
        """x (B, L, D) -> (B, L, D)."""
        L = x.shape[1]
        if self._fused(x):
            cdt = torch.float64 if x.dtype == torch.float64 else torch.float32
            k = self.raw_filter(L, cdt).flatten(0, 1)  # (1, D, L) -> (D, L): a view both ways (no select_backward)
            return hyena_order2(x, self.in_proj.weight, self.in_proj.bias, self.short_conv_weight,
                                self.short_conv_bias, k, self.skip[0], self.out_proj.weight, self.out_proj.bias,
                                keep_in_proj=self.keep_in_proj)
        return self.forward_reference(x)

    def forward_residual(self, h: Tensor, norm: Norm) -> Tensor:
        """h + self(LayerNorm(h)) as one fused op (callers check _fused first)."""
        cdt = torch.float64 if h.dtype == torch.float64 else torch.float32
        k = self.raw_filter(h.shape[1], cdt).flatten(0, 1)  # (1, D, L) -> (D, L): a view both ways
        return hyena_order2(h, self.in_proj.weight, self.in_proj.bias, self.short_conv_weight, self.short_conv_bias,
                            k, self.skip[0], self.out_proj.weight, self.out_proj.bias, norm=norm, residual=True,
                            keep_in_proj=self.keep_in_proj)

    def residual_inplace_(self, h: Tensor, norm: Norm) -> None:
        """h <- h + self(LayerNorm(h)) in place, without autograd, for long whole-sequence inference: the
        long filters are made a few channels at a time, nothing of size (3D, L) is held
        (genoseq.ops.hyena_inplace). Callers check _fused first."""
        L = h.shape[1]
        cdt = torch.float64 if h.dtype == torch.float64 else torch.float32
        a3 = self.filter.hidden(L, cdt)  # (min(L, cutoff), filter_dim)
        hyena_order2_residual_(h, norm, self.in_proj.weight, self.in_proj.bias, self.short_conv_weight,
                               self.short_conv_bias, a3, lambda a, ps: self.filter.rows(a, ps, L, cdt), self.skip[0],
                               self.out_proj.weight, self.out_proj.bias)

    def _fused(self, x: Tensor) -> bool:
        """The fused CPU operator (genoseq.ops.hyena_conv) serves causal order-2 mixers; CUDA tensors keep
        the dispatching long_conv (Triton kernel)."""
        return self.use_fused and self.order == 2 and not self.bidirectional and x.device.type == "cpu"

    def forward_reference(self, x: Tensor) -> Tensor:
        """The unfused forward: streams, long_conv per stage, out-projection (any order, bidirectional)."""
        L = x.shape[1]
        streams, _ = self._streams(x)
        *gates, v = streams
        cdt = torch.float64 if x.dtype == torch.float64 else torch.float32
        k = self.filters(L, cdt)
        n_stage = self.order - 1
        for o in range(n_stage):
            post = gates[0] if o == n_stage - 1 else None
            v = long_conv(v, k[o], pre_gate=gates[n_stage - o], post_gate=post, bidirectional=self.bidirectional)
        return self.out_proj(v.transpose(1, 2))  # (B, L, D)

    # ------------------------------------------------------------------ streaming
    def allocate_state(self, batch_size: int, device=None, dtype=None) -> dict[str, Tensor]:
        """Short-conv state and, per stage, the history of long-conv inputs (grows up to the filter support)."""
        if self.bidirectional:
            raise RuntimeError("a bidirectional Hyena mixer has no causal state")
        device = device if device is not None else self.in_proj.weight.device
        dtype = dtype or self.in_proj.weight.dtype
        K = self.short_conv_weight.shape[1]
        state = {"conv": torch.zeros(batch_size, (self.order + 1) * self.d_model, K - 1, device=device, dtype=dtype)}
        for o in range(self.order - 1):
            state[f"hist{o}"] = torch.zeros(batch_size, self.d_model, 0, device=device, dtype=dtype)
        return state

    def forward_chunk(self, x: Tensor, state: dict[str, Tensor]) -> Tensor:
        """Continue from ``state`` over x (B, Lc, D); updates state. Equals forward over the concatenation.

        Chunks of at least _FUSED_CHUNK positions (prefill, embed_long) of causal order-2 mixers on CPU
        without autograd take genoseq.ops.hyena_conv.hyena_order2_chunk (channel groups, FFT size from the
        filter support); shorter ones (token steps) the unfused path with its direct products.
        """
        Lc = x.shape[1]
        if Lc >= _FUSED_CHUNK and self._fused(x) and not torch.is_grad_enabled():
            cdt = torch.float64 if x.dtype == torch.float64 else torch.float32
            T = state["hist0"].shape[-1] + Lc
            kf, n = self._chunk_spectrum(T, Lc, cdt)
            out, state["conv"], state["hist0"] = hyena_order2_chunk(
                x, self.in_proj.weight, self.in_proj.bias, self.short_conv_weight, self.short_conv_bias, kf, n,
                self.out_proj.weight, self.out_proj.bias, state["conv"], state["hist0"], self.filter.cutoff - 1)
            return out
        streams, state["conv"] = self._streams(x, state["conv"])
        *gates, v = streams
        cdt = torch.float64 if x.dtype == torch.float64 else torch.float32
        keep = self.filter.cutoff - 1  # past inputs a future output can still reach
        n_stage = self.order - 1
        for o in range(n_stage):
            vg = (v * gates[n_stage - o]).to(state[f"hist{o}"].dtype)  # (B, D, Lc) gated conv input
            hist = torch.cat([state[f"hist{o}"], vg], dim=-1)  # (B, D, T)
            T = hist.shape[-1]
            k = self.filters(T, cdt)[o]  # (D, T)
            z = causal_conv_tail(hist, k, Lc, k_spectrum=self._tail_spectrum(o, k, T, Lc)).to(v.dtype)  # (B, D, Lc)
            state[f"hist{o}"] = hist[..., max(0, T - keep) :]
            v = z * gates[0] if o == n_stage - 1 else z
        return self.out_proj(v.transpose(1, 2))

    def _chunk_spectrum(self, T: int, Lc: int, cdt: torch.dtype) -> tuple[Tensor, int]:
        """(rfft of the skip-folded filter at the fused chunk FFT size, that size); cached in eval mode."""
        support = self.filter.cutoff
        n = chunk_fft_size(T, Lc, support)
        key = ("chunk", T, Lc, n, cdt, self._filter_params_key(), self.skip.data_ptr(), self.skip._version)
        cache = self.__dict__.setdefault("_spectra", {})
        if key in cache:
            return cache[key], n
        k = self.raw_filter(min(T, support), cdt)[0].clone()  # (D, Kk): every nonzero lag
        k[:, 0] += self.skip[0].to(cdt)
        kf = torch.fft.rfft(k, n=n)
        if not self.training:
            if len(cache) > 2 * self.order:
                cache.clear()
            cache[key] = kf
        return kf, n

    def _tail_spectrum(self, o: int, k: Tensor, T: int, Lc: int) -> Tensor | None:
        """rfft of stage o's filter at the streaming FFT size, cached in eval mode (chunks of equal size
        reuse it once the history has reached the filter support)."""
        n = tail_fft_size(T, Lc)
        if n == 0 or self.training or torch.is_grad_enabled():
            return None
        key = (o, T, n, k.dtype, self._filter_params_key())
        cache = self.__dict__.setdefault("_spectra", {})
        if key not in cache:
            if len(cache) > 2 * self.order:
                cache.clear()
            cache[key] = torch.fft.rfft(k, n=n)
        return cache[key]

    def step(self, x_t: Tensor, state: dict[str, Tensor]) -> Tensor:
        """x_t (B, D) -> y_t (B, D); O(history) per step."""
        return self.forward_chunk(x_t[:, None], state)[:, 0]
