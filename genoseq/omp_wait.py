"""OpenMP wait policy for long-sequence runs: idle OpenMP threads sleep instead of spinning.

PyTorch's CPU ops run on GNU OpenMP, whose threads spin for a while after every parallel region, waiting for
the next one. With long sequences genoseq's fused ops (Hyena, MLP, implicit filter) run their channel groups
and position blocks on worker threads of their own (genoseq.ops._groups); an OpenMP thread still spinning
after the main thread's last matmul then holds a core those workers need. Measured on a 2-core machine
(hyenadna-tiny training step, bf16, batch 1), ``OMP_WAIT_POLICY=PASSIVE`` made steps 17% faster at 8k
positions, ~6% at 16k and 32k; but 2.4x slower at 1k and 1.5x slower at 4k (where every op runs in the main
thread's OpenMP regions, many of them short), 17% slower for batch 32 x 1k, and Mamba-1 layers lose a third
at 32k (their scan is many short OpenMP-parallel ops).

The policy is read once, when PyTorch loads its OpenMP library: :func:`prefer_passive_openmp` must run
before ``import torch``. ``genoseq pretrain / finetune`` call it for recipes whose every stage has sequences
of at least :data:`LONG_SEQUENCE` positions and whose model has no Mamba-1 layer. It leaves an ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` the user
has set alone, and ``GENOSEQ_OMP_WAIT=default`` turns it off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, MutableMapping

LONG_SEQUENCE = 8192  # positions per sequence (genoseq.ops._groups.PARALLEL_MIN_POSITIONS for batch 1)


def prefer_passive_openmp(seq_lens: Iterable[int | None], layer_types: Iterable[str] | None,
                          environ: MutableMapping[str, str] | None = None, torch_loaded: bool | None = None) -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` when every length in ``seq_lens`` is known and >= LONG_SEQUENCE, the
    model's ``layer_types`` (letters of ModelConfig.layer_pattern) are known and hold no Mamba-1 layer ("M":
    its fused op runs the scan as many short OpenMP-parallel ops in the calling thread, bench-mamba 32k bf16
    3,300 -> 2,200 tok/s and the H S M H hybrid 9,500 -> 7,100 under PASSIVE), PyTorch is not loaded yet
    (``torch_loaded`` None: look in sys.modules) and neither the user nor ``GENOSEQ_OMP_WAIT=default`` says
    otherwise. ``environ``: where to set it (default os.environ). Returns True when it was set."""
    env = os.environ if environ is None else environ
    lens = list(seq_lens)
    if torch_loaded is None:
        torch_loaded = "torch" in sys.modules
    if (torch_loaded or not lens or any(n is None or n < LONG_SEQUENCE for n in lens)
            or layer_types is None or "M" in set(layer_types)
            or env.get("GENOSEQ_OMP_WAIT", "").strip().lower() == "default"
            or "OMP_WAIT_POLICY" in env or "GOMP_SPINCOUNT" in env):
        return False
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    return True
