"""Route each operator to its Triton kernel or its PyTorch path.

Per operator (``long_conv``, ``selective_scan``, ``ssd``, ``short_conv``) the implementation is
``"auto"`` (default), ``"torch"`` or ``"triton"``. It is resolved once from, in order:
:func:`set_impl`, the env var ``GENOSEQ_IMPL_<OP>`` (e.g. ``GENOSEQ_IMPL_LONG_CONV=torch``),
the env var ``GENOSEQ_IMPL`` (all operators), else ``"auto"``.

- ``auto``: the Triton kernel for CUDA tensors when ``genoseq_kernels`` imports and supports the
  shape/dtype; otherwise the PyTorch path, with a one-time warning naming the reason when a CUDA
  tensor falls back (CPU tensors take the PyTorch path silently).
- ``torch``: always the PyTorch path.
- ``triton``: always the kernel; where it cannot run a :class:`~genoseq.errors.GenoseqError` says
  why and how to fix it. With ``TRITON_INTERPRET=1`` set before triton is imported, forced Triton
  runs the kernels on CPU tensors through the Triton interpreter (slow; used by the tests).

Triton is imported only when a kernel is actually used.
"""

from __future__ import annotations

import functools
import os
import warnings

from genoseq.errors import ConfigError, DependencyError

OPS = ("long_conv", "selective_scan", "ssd", "short_conv")
IMPLS = ("auto", "torch", "triton")
_KERNEL_MODULES = {
    "long_conv": "genoseq_kernels.long_conv",
    "selective_scan": "genoseq_kernels.selective_scan",
    "ssd": "genoseq_kernels.ssd",
    "short_conv": "genoseq_kernels.short_conv",
}
_overrides: dict[str, str] = {}
_warned: set[tuple[str, str]] = set()


def _check_op(op: str) -> None:
    if op not in OPS:
        raise ConfigError(f"unknown operator {op!r}; expected one of {', '.join(OPS)}")


def _check_impl(impl: str, source: str) -> str:
    impl = impl.strip().lower()
    if impl not in IMPLS:
        raise ConfigError(f"{source}: unknown implementation {impl!r}; expected one of {', '.join(IMPLS)}")
    return impl


def set_impl(op: str | None, impl: str | None) -> None:
    """Override the implementation of ``op`` (``None`` = every operator); ``impl=None`` clears it."""
    ops = OPS if op is None else (op,)
    for name in ops:
        _check_op(name)
        if impl is None:
            _overrides.pop(name, None)
        else:
            _overrides[name] = _check_impl(impl, f"set_impl({name!r})")
    get_impl.cache_clear()


@functools.cache
def get_impl(op: str) -> str:
    """The configured implementation of ``op``: "auto", "torch" or "triton" (resolved once)."""
    _check_op(op)
    if op in _overrides:
        return _overrides[op]
    for var in (f"GENOSEQ_IMPL_{op.upper()}", "GENOSEQ_IMPL"):
        value = os.environ.get(var)
        if value:
            return _check_impl(value, var)
    return "auto"


def interpreter_enabled() -> bool:
    """True when TRITON_INTERPRET=1: forced Triton runs on CPU tensors through the interpreter."""
    return os.environ.get("TRITON_INTERPRET", "") == "1"


@functools.cache
def _kernel_module(op: str):
    """(module, None) when the op's kernel imports, else (None, reason)."""
    import importlib

    try:
        return importlib.import_module(_KERNEL_MODULES[op]), None
    except Exception as exc:  # noqa: BLE001 - any import failure means "use the PyTorch path"
        return None, f"genoseq_kernels could not be imported ({type(exc).__name__}: {exc})"


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _warn_once(op: str, reason: str) -> None:
    if (op, reason) not in _warned:
        _warned.add((op, reason))
        warnings.warn(f"genoseq: {op} uses the PyTorch path: {reason}", RuntimeWarning, stacklevel=4)


def _use_triton(op: str, x, shape_check) -> bool:
    """Decide for one call. ``shape_check(module) -> reason | None`` asks the kernel module."""
    impl = get_impl(op)
    if impl == "torch":
        return False
    forced = impl == "triton"
    if not x.is_cuda and not (forced and interpreter_enabled()):
        if not forced:
            return False
        raise ConfigError(
            f"{op}: implementation 'triton' was forced but the tensors are on {x.device}; move them to a CUDA "
            "device, set TRITON_INTERPRET=1 before importing triton (slow CPU interpreter), or use "
            f"set_impl({op!r}, 'auto')"
        )
    module, reason = _kernel_module(op)
    if module is None:
        if forced:
            raise DependencyError("triton", f"{op} with implementation 'triton' ({reason})")
        _warn_once(op, reason)
        return False
    reason = shape_check(module)
    if reason is None:
        return True
    if forced:
        raise ConfigError(f"{op}: the Triton kernel cannot run this call: {reason}; use set_impl({op!r}, 'auto')")
    _warn_once(op, reason)
    return False


def describe() -> dict[str, str]:
    """{op: "triton" | "torch (reason)"}: the path CUDA tensors of supported shapes take here."""
    out = {}
    for op in OPS:
        impl = get_impl(op)
        if impl == "torch":
            out[op] = "torch (forced by set_impl / GENOSEQ_IMPL)"
            continue
        module, reason = _kernel_module(op)
        if module is None:
            out[op] = f"torch ({reason})"
        elif _cuda_available():
            out[op] = "triton"
        elif impl == "triton" and interpreter_enabled():
            out[op] = "triton (TRITON_INTERPRET=1, CPU interpreter)"
        else:
            out[op] = "torch (no CUDA device)"
    return out


# ---- operators -------------------------------------------------------------------------------------

def long_conv(u, k, skip=None, pre_gate=None, post_gate=None, bidirectional=False):
    """Gated long convolution; see :func:`genoseq.ops.fftconv.long_conv` for the contract."""
    if _use_triton("long_conv", u, lambda m: m.unsupported(u, k, bidirectional)):
        from genoseq_kernels.long_conv import long_conv as impl

        return impl(u, k, skip, pre_gate, post_gate, bidirectional)
    from genoseq.ops.fftconv import long_conv as ref

    return ref(u, k, skip=skip, pre_gate=pre_gate, post_gate=post_gate, bidirectional=bidirectional)


def short_conv(x, weight, bias=None, activation=None, gate=None, state=None):
    """Short causal depthwise conv; see :func:`genoseq.ops.short_conv.short_conv` for the contract."""
    if _use_triton("short_conv", x, lambda m: m.unsupported(x, weight, activation)):
        from genoseq_kernels.short_conv import short_conv as impl

        return impl(x, weight, bias, activation, gate, state)
    from genoseq.ops.short_conv import short_conv as ref

    return ref(x, weight, bias=bias, activation=activation, gate=gate, state=state)


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   initial_state=None, return_final_state=False, **torch_options):
    """Mamba-1 selective scan; see :func:`genoseq.ops.selective_scan.selective_scan` for the contract.

    ``torch_options`` (``chunk_size``, ``block_len``) tune the PyTorch path; the kernel ignores them.
    """
    if _use_triton("selective_scan", u, lambda m: m.unsupported(u, A, B)):
        from genoseq_kernels.selective_scan import selective_scan as impl

        return impl(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state, return_final_state)
    from genoseq.ops.selective_scan import selective_scan as ref

    return ref(u, delta, A, B, C, D=D, z=z, delta_bias=delta_bias, delta_softplus=delta_softplus,
               initial_state=initial_state, return_final_state=return_final_state, **torch_options)


def ssd(x, dt, A, B, C, D=None, initial_state=None, return_final_state=False, **torch_options):
    """Mamba-2 SSD; see :func:`genoseq.ops.ssd.ssd` for the contract.

    ``torch_options`` (``chunk_size``, ``block_len``, ``recompute``) tune the PyTorch path; the kernel
    uses its own chunk of 32 steps.
    """
    if _use_triton("ssd", x, lambda m: m.unsupported(x, B)):
        from genoseq_kernels.ssd import ssd as impl

        return impl(x, dt, A, B, C, D, initial_state, return_final_state)
    from genoseq.ops.ssd import ssd as ref

    return ref(x, dt, A, B, C, D=D, initial_state=initial_state, return_final_state=return_final_state,
               **torch_options)
