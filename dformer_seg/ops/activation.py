"""GELU (erf form) as an OpenMP elementwise kernel with its derivative (``csrc/gelu.h``).

Jittor fuses GELU into one kernel, but on the CPU that kernel runs on one
core; the erf evaluation dominates, so splitting it over the cores pays, and
the erf itself is a vectorisable rational approximation (also used by the
kernels that fuse a GELU).
"""
import jittor as jt
from jittor import nn

from . import flop_rules, kernels
from .dispatch import use_kernel
from .op_registry import fast_op

_HEADERS = ('gelu.h',)


class _Gelu(jt.Function):
    def execute(self, x):
        self.saved = x
        return kernels.code('gelu', x.shape, 'float32', [x], _HEADERS,
                            'dformer_seg::gelu_forward(in0_p, out0_p, out0_shape0);')

    def grad(self, grad_y):
        return kernels.code('gelu', self.saved.shape, 'float32', [self.saved, grad_y], _HEADERS,
                            'dformer_seg::gelu_backward(in0_p, in1_p, out0_p, out0_shape0);')


def plain_gelu(x):
    return nn.gelu(x)


@fast_op(plain=plain_gelu, headers=_HEADERS, needs_onednn=False, applies='any non-empty tensor',
         gradient='kernel (derivative Phi(x) + x phi(x) with the same erf approximation, vectorised)',
         flops=flop_rules.gelu)
def gelu(x):
    """``x * Phi(x)`` with the exact (erf) normal CDF, like ``nn.gelu`` and PyTorch's default GELU."""
    if not use_kernel('gelu', x) or x.numel() == 0:
        return plain_gelu(x)
    return _Gelu()(x.reshape((-1,))).reshape(x.shape)


class GELU(nn.Module):
    """Module form of :func:`gelu` (a drop-in for ``nn.GELU``)."""

    def execute(self, x):
        return gelu(x)
