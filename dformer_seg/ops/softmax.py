"""Softmax over the last axis (optionally of ``x + bias``) as one OpenMP pass per row (``csrc/softmax.h``).

Jittor's CPU softmax is three single-core kernels (max, exp-sum, divide);
attention with an additive prior adds a fourth for the sum. Here each row
is handled by one thread in a single kernel, forward and backward.
"""
import jittor as jt
from jittor import nn

from . import flop_rules, kernels
from .dispatch import use_kernel
from .op_registry import fast_op

_HEADERS = ('softmax.h',)


class _RowSoftmax(jt.Function):
    """Softmax of each row of a 2-D ``x`` (plus a same-shape ``bias`` when given)."""

    def execute(self, x, bias=None):
        inputs = [x] if bias is None else [x, bias]
        bias_p = 'nullptr' if bias is None else 'in1_p'
        y = kernels.code('softmax', x.shape, 'float32', inputs, _HEADERS,
                         f'dformer_seg::softmax_rows_forward(in0_p, {bias_p}, out0_p, in0_shape0, in0_shape1);')
        self.saved = y
        self.with_bias = bias is not None
        return y

    def grad(self, grad_y):
        y = self.saved
        grad_x = kernels.code('softmax', y.shape, 'float32', [y, grad_y], _HEADERS,
                              'dformer_seg::softmax_rows_backward(in0_p, in1_p, out0_p, in0_shape0, in0_shape1);')
        return (grad_x, grad_x) if self.with_bias else grad_x


def plain_softmax(x, dim=-1, bias=None):
    return nn.softmax(x if bias is None else x + bias, dim=dim)


@fast_op(plain=plain_softmax, headers=_HEADERS, needs_onednn=False, applies='the last axis',
         gradient='kernel', flops=flop_rules.softmax)
def softmax(x, dim=-1, bias=None):
    """``softmax(x + bias)`` along ``dim``; ``bias`` (optional) has the shape of ``x``.

    The fast path covers the last axis of float32 tensors on the CPU; other
    cases compute ``nn.softmax`` of the sum.
    """
    if bias is not None and tuple(bias.shape) != tuple(x.shape):
        raise ValueError(f'softmax: bias shape {tuple(bias.shape)} differs from x shape {tuple(x.shape)}')
    operands = [x] if bias is None else [x, bias]
    if dim not in (-1, x.ndim - 1) or not use_kernel('softmax', *operands):
        return plain_softmax(x, dim, bias)
    cols = x.shape[-1]
    flat = [v.reshape((-1, cols)) for v in operands]
    return _RowSoftmax()(*flat).reshape(x.shape)
