"""The declared fast ops: one :class:`FastOp` entry per public op of :mod:`dformer_seg.ops`.

An op module declares its op with the :func:`fast_op` decorator: the kernel
headers it is built from (``csrc/``), when the kernel applies, how the
gradient is computed, the plain Jittor formulation (what runs elsewhere, with
the same signature), whether it needs oneDNN, and its FLOP rules in both
counting conventions. :func:`dispatch.use_kernel` reads the entry to decide
between kernel and plain formulation, the FLOP counter
(:mod:`dformer_seg.analysis`) reads its rules, and the op test
(``tests/test_ops/test_fast_ops.py``) runs every entry against its plain
formulation and a numpy reference.
"""
import inspect
from dataclasses import dataclass
from typing import Callable, Optional

from . import kernels


@dataclass(frozen=True)
class FastOp:
    """One fast op. FLOP rules take the call's bound arguments (a dict, defaults filled in) and its output.

    ``flops``: the full count (what the plain formulation computes). ``thop``:
    the count in thop's convention, None for a functional op (thop counts
    zero); ``thop_kind`` names the layer it stands for and ``thop_params``
    returns the Vars thop counts as that layer's parameters.
    """
    name: str
    function: Callable
    plain: Callable
    headers: tuple
    needs_onednn: bool
    applies: str
    gradient: str
    flops: Callable
    thop: Optional[Callable] = None
    thop_kind: Optional[str] = None
    thop_params: Optional[Callable] = None

    @property
    def params(self):
        """The op's argument names (a call is counted only with arguments its rules know)."""
        return tuple(inspect.signature(self.function).parameters)

    def bind(self, args, kwargs):
        bound = inspect.signature(self.function).bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)


FAST_OPS = {}


def fast_op(*, plain, headers, needs_onednn, applies, gradient, flops, thop=None, thop_kind=None, thop_params=None):
    """Declare the decorated public function as a fast op (see :class:`FastOp`)."""
    def register(function):
        name = function.__name__
        if name in FAST_OPS:
            raise ValueError(f'fast op {name!r} is declared twice')
        if inspect.signature(plain).parameters.keys() != inspect.signature(function).parameters.keys():
            raise TypeError(f'fast op {name!r}: the plain formulation {plain.__name__} must take the same arguments')
        for header in headers:
            kernels.header_path(header)
        FAST_OPS[name] = FastOp(name, function, plain, tuple(headers), needs_onednn, applies, gradient, flops, thop,
                                thop_kind, thop_params)
        return function
    return register
