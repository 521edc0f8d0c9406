"""Bilinear resize of NCHW tensors with PyTorch's ``F.interpolate`` semantics, on all cores (``csrc/resize.h``).

Jittor's interpolate is a one-core gather (four ``reindex`` reads per output)
and its backward a one-core scatter. These kernels compute the source rows
and columns once per call, then loop over output rows in parallel; the
backward scatters within each (n, c) plane, so planes never race.
"""
import jittor as jt
from jittor import nn

from . import flop_rules, kernels
from .dispatch import use_kernel
from .op_registry import fast_op

_HEADERS = ('resize.h',)


class _BilinearResize(jt.Function):
    def __init__(self, size, align_corners):
        self.size = size
        self.align_corners = bool(align_corners)

    def execute(self, x):
        self.in_shape = tuple(x.shape)
        n, c = self.in_shape[:2]
        return kernels.code('bilinear_resize', (n, c) + self.size, 'float32', [x], _HEADERS,
                            'dformer_seg::bilinear_resize_forward(in0_p, out0_p, (long)in0_shape0 * in0_shape1, '
                            'in0_shape2, in0_shape3, out0_shape2, out0_shape3, data["align_corners"] > 0.5);',
                            data=dict(align_corners=float(self.align_corners)))

    def grad(self, grad_y):
        return kernels.code('bilinear_resize', self.in_shape, 'float32', [grad_y], _HEADERS,
                            'dformer_seg::bilinear_resize_backward(in0_p, out0_p, (long)out0_shape0 * out0_shape1, '
                            'out0_shape2, out0_shape3, in0_shape2, in0_shape3, data["align_corners"] > 0.5);',
                            data=dict(align_corners=float(self.align_corners)))


def plain_bilinear_resize(x, size, align_corners=False):
    return nn.interpolate(x, size=tuple(size), mode='bilinear', align_corners=align_corners)


@fast_op(plain=plain_bilinear_resize, headers=_HEADERS, needs_onednn=False, applies='any non-empty NCHW tensor',
         gradient='kernel', flops=flop_rules.bilinear_resize)
def bilinear_resize(x, size, align_corners=False):
    """Resize an NCHW tensor to ``size`` = (H, W) bilinearly, like PyTorch's ``F.interpolate``."""
    if x.ndim != 4:
        raise ValueError(f'bilinear_resize expects an NCHW tensor, got shape {tuple(x.shape)}')
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f'bilinear_resize: size must be two positive ints (H, W), got {size}')
    if not use_kernel('bilinear_resize', x) or x.numel() == 0:
        return plain_bilinear_resize(x, size, align_corners)
    return _BilinearResize(size, align_corners)(x)
