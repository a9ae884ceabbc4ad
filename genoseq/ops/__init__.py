"""genoseq.ops: the numerical operators models call (pure PyTorch, importable on any CPU).

Models only call these public names: ``long_conv`` (gated FFT long convolution, Hyena), ``short_conv``
(short causal depthwise convolution), ``selective_scan`` (Mamba-1) and ``ssd`` (Mamba-2). The oracles
(``long_conv_direct``, ``selective_scan_ref``, ``ssd_ref``) live beside them in their modules.
"""

# each name routes to the PyTorch path or the Triton kernel (genoseq.ops._dispatch: auto/torch/triton)
from genoseq.ops._dispatch import long_conv, selective_scan, short_conv, ssd

__all__ = ["long_conv", "selective_scan", "short_conv", "ssd"]
