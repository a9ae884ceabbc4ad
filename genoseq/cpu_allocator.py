"""glibc malloc settings for long CPU training and inference runs: keep freed memory for reuse.

PyTorch allocates CPU tensors with the C allocator. glibc serves large blocks with fresh ``mmap`` pages and
gives freed memory back to the system, so a training step that allocates and frees the same large tensors
every step pays a page fault per 4 KiB page each time (zeroing included): measured on a 2-core machine, a
bench-mamba2 32k training step ran 5-6% faster with the settings below, and with *only* the trim threshold
raised (every large block mmapped) twice as slow. :func:`tune_cpu_allocator` raises the mmap threshold to
1 GiB (blocks below it come from the heap) and the trim threshold to its maximum (the heap is not shrunk
after a peak): steady-state steps reuse the same memory. The resident size stays at the run's high-water
mark instead of dropping between steps.

The ``genoseq`` command applies it at start-up unless ``GENOSEQ_MALLOC=default`` is set; Python users call
it once, early. It changes nothing on other C libraries or systems (returns False).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 1 << 30  # bytes: larger blocks still get their own mapping (returned to the system when freed)
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: the largest value


def tune_cpu_allocator(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Set glibc's mmap and trim thresholds (see the module docstring). Returns True when both were applied;
    False on other platforms / C libraries, or when ``GENOSEQ_MALLOC=default``."""
    if os.environ.get("GENOSEQ_MALLOC", "").strip().lower() == "default" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not hasattr(libc, "gnu_get_libc_version"):  # glibc only: other C libraries read these differently
            return False
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
    return mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1 and ok
