"""Rotary position code: rotate each channel pair ``(x0, x1)`` by a per-position angle (``csrc/rotary.h``).

``out = x * cos + rotate(x) * sin`` with ``rotate(x0, x1) = (-x1, x0)``; the
plain form builds ``rotate(x)`` by stacking two strided slices, which costs a
gather, a scatter and another elementwise pass. The kernel reads each pair
once. ``sin`` and ``cos`` are fixed tables (no gradient flows into them).
Given the number of heads, it also moves the heads of a channels-last input
in front of the positions, which saves attention a permute of q and k.
"""
import jittor as jt

from . import flop_rules, kernels
from .dispatch import use_kernel
from .op_registry import fast_op

_HEADERS = ('rotary.h',)
_FORWARD_SHAPES = 'in0_shape0, in0_shape1, in0_shape2, in0_shape3'  # batch, positions, heads, d of x
_BACKWARD_SHAPES = 'in0_shape0, in0_shape2, in0_shape1, in0_shape3'  # the same of dy (batch, heads, positions, d)


class _Rotary(jt.Function):
    """x (batch, positions, heads, d) -> (batch, heads, positions, d); tables (positions, d)."""

    def execute(self, x, sin, cos):
        self.tables = sin, cos
        self.x_shape = x.shape
        batch, positions, heads, d = x.shape
        return kernels.code('rotate_pairs', (batch, heads, positions, d), 'float32', [x, sin, cos], _HEADERS,
                            f'dformer_seg::rotary_forward(in0_p, in1_p, in2_p, out0_p, {_FORWARD_SHAPES});')

    def grad(self, grad_y):
        sin, cos = self.tables
        grad_x = kernels.code('rotate_pairs', self.x_shape, 'float32', [grad_y, sin, cos], _HEADERS,
                              f'dformer_seg::rotary_backward(in0_p, in1_p, in2_p, out0_p, {_BACKWARD_SHAPES});')
        return grad_x, None, None


def heads_first(x, table_shape, heads):
    """(B, *P, heads * d) -> (B, heads, *P, d) for the table shape (*P, d)."""
    positions = len(table_shape) - 1
    split = x.reshape(tuple(x.shape[:-1]) + (heads, table_shape[-1]))
    return split.permute((0, positions + 1) + tuple(range(1, positions + 1)) + (positions + 2,))


def plain_rotate_pairs(x, sin, cos, heads=None):
    if heads is not None:
        x = heads_first(x, tuple(sin.shape), heads)
    pairs = x.reshape(x.shape[:-1] + (x.shape[-1] // 2, 2))
    rotated = jt.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).reshape(x.shape)
    return (x * cos) + (rotated * sin)


def _check(x, sin, cos, heads):
    table_shape = tuple(sin.shape)
    if tuple(cos.shape) != table_shape:
        raise ValueError(f'rotate_pairs: sin {table_shape} and cos {tuple(cos.shape)} differ')
    if table_shape[-1] % 2:
        raise ValueError(f'rotate_pairs: the last dim of the tables must be even (channel pairs), got {table_shape}')
    if heads is None:
        if tuple(x.shape[x.ndim - len(table_shape):]) != table_shape:
            raise ValueError(f'rotate_pairs: sin {table_shape} and cos must equal the trailing dims of x '
                             f'{tuple(x.shape)}')
        return
    expected = table_shape[:-1] + (heads * table_shape[-1],)
    if x.ndim != len(table_shape) + 1 or tuple(x.shape[1:]) != expected:
        raise ValueError(f'rotate_pairs: with heads={heads} and tables {table_shape}, x must be (B, *{expected}), '
                         f'got {tuple(x.shape)}')


@fast_op(plain=plain_rotate_pairs, headers=_HEADERS, needs_onednn=False,
         applies='fixed tables (sin and cos need no gradient)', gradient='kernel (x only)',
         flops=flop_rules.rotate_pairs)
def rotate_pairs(x, sin, cos, heads=None):
    """Rotary code of ``x`` with tables ``sin``, ``cos`` of shape T = (*P, d) (d even, pairs adjacent).

    Without ``heads``, x is (..., *T): its trailing dims equal the tables'
    (they broadcast over the leading dims) and the result has x's shape.
    With ``heads``, x is channels-last (B, *P, heads * d) and the result
    comes heads-first, (B, heads, *P, d), the layout attention wants (the
    kernel moves the heads while it rotates). Tables that need a gradient use
    the plain form.
    """
    _check(x, sin, cos, heads)
    tables_fixed = sin.is_stop_grad() and cos.is_stop_grad()
    if not (tables_fixed and use_kernel('rotate_pairs', x, sin, cos)):
        return plain_rotate_pairs(x, sin, cos, heads)
    d = sin.shape[-1]
    positions = sin.numel() // d
    flat_sin, flat_cos = sin.reshape((positions, d)), cos.reshape((positions, d))
    if heads is None:
        rows = x.numel() // sin.numel()
        return _Rotary()(x.reshape((rows, positions, 1, d)), flat_sin, flat_cos).reshape(x.shape)
    batch = x.shape[0]
    out = _Rotary()(x.reshape((batch, positions, heads, d)), flat_sin, flat_cos)
    return out.reshape((batch, heads) + tuple(sin.shape))
