"""Rotary position code: rotate each channel pair ``(x0, x1)`` by a per-position angle (``csrc/rotary.h``).

``out = x * cos + rotate(x) * sin`` with ``rotate(x0, x1) = (-x1, x0)``; the
plain form builds ``rotate(x)`` by stacking two strided slices, which costs a
gather, a scatter and another elementwise pass. The kernel reads each pair
once. ``sin`` and ``cos`` are fixed tables (no gradient flows into them).
"""
import jittor as jt

from . import flop_rules, kernels
from .dispatch import use_kernel
from .registry import fast_op

_HEADERS = ('rotary.h',)


class _Rotary(jt.Function):
    def execute(self, x, sin, cos):
        self.tables = sin, cos
        return kernels.code('rotate_pairs', x.shape, 'float32', [x, sin, cos], _HEADERS,
                            'dformer_seg::rotary_forward(in0_p, in1_p, in2_p, out0_p, in0_shape0, in1_shape0);')

    def grad(self, grad_y):
        sin, cos = self.tables
        grad_x = kernels.code('rotate_pairs', grad_y.shape, 'float32', [grad_y, sin, cos], _HEADERS,
                              'dformer_seg::rotary_backward(in0_p, in1_p, in2_p, out0_p, in0_shape0, in1_shape0);')
        return grad_x, None, None


def plain_rotate_pairs(x, sin, cos):
    pairs = x.reshape(x.shape[:-1] + (x.shape[-1] // 2, 2))
    rotated = jt.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).reshape(x.shape)
    return (x * cos) + (rotated * sin)


@fast_op(plain=plain_rotate_pairs, headers=_HEADERS, needs_onednn=False,
         applies='fixed tables (sin and cos need no gradient)', gradient='kernel (x only)',
         flops=flop_rules.rotate_pairs)
def rotate_pairs(x, sin, cos):
    """Rotary code of ``x`` (..., *T) with tables ``sin``, ``cos`` of shape T (last dim even, pairs adjacent).

    ``x``'s trailing dims must equal the tables' shape (they broadcast over
    the leading dims). Tables that need a gradient use the plain form.
    """
    table_shape = tuple(sin.shape)
    if tuple(cos.shape) != table_shape or tuple(x.shape[x.ndim - len(table_shape):]) != table_shape:
        raise ValueError(f'rotate_pairs: sin {tuple(sin.shape)} and cos {tuple(cos.shape)} must equal the '
                         f'trailing dims of x {tuple(x.shape)}')
    if x.shape[-1] % 2:
        raise ValueError(f'rotate_pairs: the last dim of x must be even (channel pairs), got {x.shape[-1]}')
    tables_fixed = sin.is_stop_grad() and cos.is_stop_grad()
    if not (tables_fixed and use_kernel('rotate_pairs', x, sin, cos)):
        return plain_rotate_pairs(x, sin, cos)
    table = sin.numel()
    flat = _Rotary()(x.reshape((-1, table)), sin.reshape((table,)), cos.reshape((table,)))
    return flat.reshape(x.shape)
