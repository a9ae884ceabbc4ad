"""genoseq.ops: the numerical operators models call (pure PyTorch, importable on any CPU).

Models only call these public names: ``long_conv`` (gated FFT long convolution, Hyena) and
``short_conv`` (short causal depthwise convolution). The oracles (``long_conv_direct``) live beside them.
"""

from genoseq.ops.fftconv import long_conv
from genoseq.ops.short_conv import short_conv

__all__ = ["long_conv", "short_conv"]
