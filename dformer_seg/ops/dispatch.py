"""When the CPU kernels of :mod:`dformer_seg.ops` run, and a switch to turn them off.

This module holds the only device branch of the toolbox: each fast op asks
:func:`use_kernel` whether its kernel applies (Jittor runs on the CPU, every
input is float32, oneDNN is loaded if the op's registry entry needs it, the
switch is on) and otherwise computes its plain Jittor formulation, which is
what runs on CUDA.

The switch: the environment variable ``DFORMER_SEG_FAST_OPS=0`` disables
the kernels for the whole process; :func:`fast_ops` (a context manager)
enables or disables them for a block, e.g. to compare against the built-ins.
"""
import contextlib
import os

import jittor as jt

from .op_registry import FAST_OPS

FAST_OPS_ENV = 'DFORMER_SEG_FAST_OPS'

_state = dict(enabled=os.environ.get(FAST_OPS_ENV, '1').strip().lower() not in ('0', 'false', 'off', 'no'))


def fast_ops_enabled():
    return _state['enabled']


@contextlib.contextmanager
def fast_ops(enabled=True):
    """Enable (or disable) the CPU kernels inside a ``with`` block."""
    previous = _state['enabled']
    _state['enabled'] = bool(enabled)
    try:
        yield
    finally:
        _state['enabled'] = previous


def onednn_available():
    """True when Jittor was set up with oneDNN (its ``dnnl_sgemm`` is then loaded in the process)."""
    from jittor import compile_extern
    return compile_extern.mkl_ops is not None


def kernel_unavailable_reason(name):
    """Why op ``name``'s kernel cannot run in this process (None when it can, for float32 inputs)."""
    if name not in FAST_OPS:
        raise KeyError(f'unknown fast op {name!r}; declared: {", ".join(sorted(FAST_OPS))}')
    if not _state['enabled']:
        return f'the fast ops are switched off ({FAST_OPS_ENV}=0 or fast_ops(False))'
    if jt.flags.use_cuda:
        return 'Jittor runs on CUDA (the kernels are CPU kernels)'
    if FAST_OPS[name].needs_onednn and not onednn_available():
        return 'oneDNN is not loaded (install libdnnl-dev)'
    return None


def use_kernel(name, *variables):
    """Whether op ``name`` runs its kernel on ``variables`` (all float32 ``jt.Var``; see the module docstring)."""
    return kernel_unavailable_reason(name) is None and all(str(v.dtype) == 'float32' for v in variables)


def needs_grad(*variables):
    """Whether a gradient can flow into any of ``variables`` (inside ``jt.no_grad()`` none can)."""
    return not jt.flags.no_grad and not all(v.is_stop_grad() for v in variables)
