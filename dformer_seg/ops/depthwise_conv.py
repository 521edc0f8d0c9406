"""Depth-wise 2-D convolution (stride 1) directly on channels-last (N, H, W, C) tensors (``csrc/depthwise_conv.h``).

The DFormer blocks keep their features channels-last, so a depth-wise conv
through ``nn.Conv2d`` costs two full transposes, and Jittor's oneDNN relay
rebuilds the primitive and reorders the data on every call. The kernels work
on NHWC memory as it is (see the header for the blocking): the forward
applies the bias, an optional residual and an optional GELU as it stores;
the input gradient is the same kernel with the flipped filter and padding
``K-1-p``; the weight and bias gradients are per-thread partial sums.
"""
import jittor as jt
from jittor import nn

from ..utils.shapes import int_pair
from . import flop_rules, kernels
from .activation import gelu
from .dispatch import needs_grad, use_kernel
from .op_registry import fast_op

_HEADERS = ('depthwise_conv.h',)
_ACTIVATIONS = (None, 'gelu')
# Working set (bytes) of one column strip: its kh input rows, output row and residual row. Rows of wide
# maps with many channels are cut into strips so that the input rows a strip reuses stay in the L2 cache.
_TILE_BYTES = 512 * 1024
# Outputs at least this large bypass the caches (streaming stores): they would not stay cached anyway,
# and the stores then skip reading the old contents of every line.
_STREAM_MIN_BYTES = 12 * 1024 * 1024


def _conv_kernel(x, weight, bias, pad, flip, out_hw, residual=None, activation=None):
    inputs = [x, weight] + [t for t in (bias, residual) if t is not None]
    bias_p = 'in2_p' if bias is not None else 'nullptr'
    residual_p = f'in{len(inputs) - 1}_p' if residual is not None else 'nullptr'
    gelu_flag = 'true' if activation == 'gelu' else 'false'
    shape = (x.shape[0],) + out_hw + (x.shape[3],)
    return kernels.code(
        'depthwise_conv2d_nhwc', shape, 'float32', inputs, _HEADERS,
        f'dformer_seg::depthwise_conv_forward(in0_p, in1_p, {bias_p}, {residual_p}, {gelu_flag}, out0_p, in0_shape0, '
        'in0_shape1, in0_shape2, in0_shape3, out0_shape1, out0_shape2, in1_shape2, in1_shape3, data["pad_h"], '
        'data["pad_w"], data["flip"] > 0.5, data["tile_bytes"], data["stream_min_bytes"]);',
        data=dict(pad_h=pad[0], pad_w=pad[1], flip=float(flip), tile_bytes=float(_TILE_BYTES),
                  stream_min_bytes=float(_STREAM_MIN_BYTES)))


class _DepthwiseConvNHWC(jt.Function):
    def __init__(self, padding, with_bias, with_residual):
        self.padding = padding
        self.with_bias = with_bias
        self.with_residual = with_residual

    def execute(self, x, weight, *extra):
        bias = extra[0] if self.with_bias else None
        residual = extra[-1] if self.with_residual else None
        kh, kw = weight.shape[2:]
        out_hw = (x.shape[1] + 2 * self.padding[0] - kh + 1, x.shape[2] + 2 * self.padding[1] - kw + 1)
        self.saved = x, weight
        return _conv_kernel(x, weight, bias, self.padding, False, out_hw, residual)

    def grad(self, grad_y):
        x, weight = self.saved
        kh, kw = weight.shape[2:]
        flipped_pad = (kh - 1 - self.padding[0], kw - 1 - self.padding[1])
        grad_x = _conv_kernel(grad_y, weight, None, flipped_pad, True, tuple(x.shape[1:3]))
        grad_w, grad_b = kernels.code(
            'depthwise_conv2d_nhwc', [weight.shape, (weight.shape[0],)], ['float32', 'float32'], [x, grad_y],
            _HEADERS, 'dformer_seg::depthwise_conv_weight_grad(in0_p, in1_p, out0_p, out1_p, in0_shape0, in0_shape1, '
            'in0_shape2, in0_shape3, in1_shape1, in1_shape2, out0_shape2, out0_shape3, data["pad_h"], data["pad_w"]);',
            data=dict(pad_h=self.padding[0], pad_w=self.padding[1]))
        grads = [grad_x, grad_w]
        if self.with_bias:
            grads.append(grad_b)
        if self.with_residual:
            grads.append(grad_y)  # the residual is added unchanged
        return tuple(grads)


def plain_depthwise_conv2d_nhwc(x, weight, bias=None, padding=0, residual=None, activation=None):
    y = nn.conv2d(x.permute(0, 3, 1, 2), weight, bias, stride=1, padding=padding, groups=x.shape[3])
    y = y.permute(0, 2, 3, 1)
    y = y if residual is None else y + residual
    return nn.gelu(y) if activation == 'gelu' else y


@fast_op(plain=plain_depthwise_conv2d_nhwc, headers=_HEADERS, needs_onednn=False, applies='any filter size, stride 1',
         gradient='kernel (flipped-filter conv and partial sums), then ops.gelu', flops=flop_rules.depthwise_conv2d_nhwc,
         thop=flop_rules.conv_multiply_adds, thop_kind='Conv', thop_params=flop_rules.conv_params)
def depthwise_conv2d_nhwc(x, weight, bias=None, padding=0, residual=None, activation=None):
    """Depth-wise conv, stride 1, of ``x`` (N, H, W, C) with ``weight`` (C, 1, kh, kw) and ``bias`` (C,).

    Returns ``activation(conv(x) + bias + residual)`` of shape
    (N, H + 2 * pad_h - kh + 1, W + 2 * pad_w - kw + 1, C); ``residual``
    (that shape) and ``activation`` (None or 'gelu') are optional and cost no
    extra pass over memory when no gradient is needed (with gradients the GELU
    runs as :func:`ops.gelu` after the conv). Off the fast path this is
    ``nn.conv2d(groups=C)`` between two transposes, then the addition and GELU.
    """
    if x.ndim != 4:
        raise ValueError(f'depthwise_conv2d_nhwc expects an (N, H, W, C) tensor, got shape {tuple(x.shape)}')
    channels = x.shape[3]
    if weight.ndim != 4 or weight.shape[0] != channels or weight.shape[1] != 1:
        raise ValueError(f'depthwise_conv2d_nhwc: weight must be ({channels}, 1, kh, kw) for {channels} channels, '
                         f'got {tuple(weight.shape)}')
    if bias is not None and tuple(bias.shape) != (channels,):
        raise ValueError(f'depthwise_conv2d_nhwc: bias must be ({channels},), got {tuple(bias.shape)}')
    if activation not in _ACTIVATIONS:
        raise ValueError(f'depthwise_conv2d_nhwc: activation must be None or "gelu", got {activation!r}')
    padding = int_pair(padding, 'depthwise_conv2d_nhwc: padding')
    out_shape = (x.shape[0], x.shape[1] + 2 * padding[0] - weight.shape[2] + 1,
                 x.shape[2] + 2 * padding[1] - weight.shape[3] + 1, channels)
    if residual is not None and tuple(residual.shape) != out_shape:
        raise ValueError(f'depthwise_conv2d_nhwc: residual must have the output shape {out_shape}, '
                         f'got {tuple(residual.shape)}')
    operands = [x, weight] + [t for t in (bias, residual) if t is not None]
    if not use_kernel('depthwise_conv2d_nhwc', *operands):
        return plain_depthwise_conv2d_nhwc(x, weight, bias, padding, residual, activation)
    if activation is not None and not needs_grad(*operands):
        return _conv_kernel(x, weight, bias, padding, False, out_shape[1:3], residual, activation)
    y = _DepthwiseConvNHWC(padding, bias is not None, residual is not None)(*operands)
    return gelu(y) if activation == 'gelu' else y
