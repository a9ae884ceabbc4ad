"""genoseq.ops: the numerical operators models call (pure PyTorch, importable on any CPU).

Models only call these public names: ``long_conv`` (gated FFT long convolution, Hyena), ``short_conv``
(short causal depthwise convolution), ``selective_scan`` (Mamba-1) and ``ssd`` (Mamba-2). The oracles
(``long_conv_direct``, ``selective_scan_ref``, ``ssd_ref``) live beside them in their modules.
"""

# The reference submodules are imported first: the names below shadow three of them (genoseq.ops.short_conv,
# .selective_scan, .ssd), and a submodule loaded later would rebind the package attribute to the module.
from genoseq.ops import fftconv as _fftconv  # noqa: F401
from genoseq.ops import selective_scan as _selective_scan  # noqa: F401
from genoseq.ops import short_conv as _short_conv  # noqa: F401
from genoseq.ops import ssd as _ssd  # noqa: F401

# each name routes to the PyTorch path or the Triton kernel (genoseq.ops._dispatch: auto/torch/triton)
from genoseq.ops._dispatch import long_conv, selective_scan, short_conv, ssd  # noqa: E402

__all__ = ["long_conv", "selective_scan", "short_conv", "ssd"]
