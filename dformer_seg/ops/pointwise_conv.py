"""1x1 convolution of NCHW tensors as one GEMM per image (``csrc/pointwise_conv.h``).

A 1x1 conv is ``Y_n = W X_n`` with ``X_n`` the (C_in, H*W) view of image n.
Jittor relays it to oneDNN's convolution, which is rebuilt on every call and
reorders input and output to a blocked layout and back; the decode heads'
1x1 convs on (512, 60x80) maps spend more time in that than in the arithmetic.
Here each product goes straight to ``dnnl_sgemm`` (multi-threaded inside
oneDNN), and the gradients are GEMMs as well. Under ``inference_precision('bf16')``
inference runs a oneDNN bf16 matmul per image instead (:mod:`.precision`).
"""
import jittor as jt
from jittor import nn

from . import flop_rules, kernels
from .dispatch import use_kernel
from .op_registry import fast_op
from .precision import bf16_weight, use_bf16

_HEADERS = ('pointwise_conv.h',)
_SIZES = 'in0_shape0, in0_shape1, in1_shape0, (long)in0_shape2 * in0_shape3'


class _PointwiseConv(jt.Function):
    def execute(self, x, weight, bias=None):
        self.saved = x, weight, bias is not None
        inputs = [x, weight] if bias is None else [x, weight, bias]
        bias_p = 'nullptr' if bias is None else 'in2_p'
        shape = (x.shape[0], weight.shape[0]) + tuple(x.shape[2:])
        return kernels.code('pointwise_conv2d', shape, 'float32', inputs, _HEADERS,
                            f'dformer_seg::pointwise_conv_forward(in0_p, in1_p, {bias_p}, out0_p, {_SIZES});')

    def grad(self, grad_y):
        x, weight, with_bias = self.saved
        grad_x, grad_w, grad_b = kernels.code(
            'pointwise_conv2d', [x.shape, weight.shape, (weight.shape[0],)], ['float32'] * 3, [x, weight, grad_y],
            _HEADERS, f'dformer_seg::pointwise_conv_backward(in0_p, in1_p, in2_p, out0_p, out1_p, out2_p, {_SIZES});')
        return (grad_x, grad_w, grad_b) if with_bias else (grad_x, grad_w)


def _pointwise_conv_bf16(x, weight, bias):
    """Inference in bf16: x and weight rounded to bf16, float32 accumulation, bias and output."""
    inputs = [x, bf16_weight(weight)] + ([] if bias is None else [bias])
    bias_p = 'nullptr' if bias is None else 'in2_p'
    shape = (x.shape[0], weight.shape[0]) + tuple(x.shape[2:])
    return kernels.code('pointwise_conv2d_bf16', shape, 'float32', inputs, _HEADERS,
                        f'dformer_seg::pointwise_conv_forward_bf16(in0_p, in1_p, {bias_p}, out0_p, {_SIZES});')


def plain_pointwise_conv2d(x, weight, bias=None):
    return nn.conv2d(x, weight, bias)


@fast_op(plain=plain_pointwise_conv2d, headers=_HEADERS, needs_onednn=True, applies='1x1 weights (by definition)',
         gradient='kernel (GEMMs)', flops=flop_rules.pointwise_conv2d)
def pointwise_conv2d(x, weight, bias=None):
    """1x1 conv (stride 1, no padding, one group) of ``x`` (N, C_in, H, W) with ``weight`` (C_out, C_in, 1, 1)."""
    if x.ndim != 4 or weight.ndim != 4 or tuple(weight.shape[2:]) != (1, 1) or weight.shape[1] != x.shape[1]:
        raise ValueError(f'pointwise_conv2d: expected x (N, C_in, H, W) and weight (C_out, C_in, 1, 1), got '
                         f'{tuple(x.shape)} and {tuple(weight.shape)}')
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f'pointwise_conv2d: bias must be ({weight.shape[0]},), got {tuple(bias.shape)}')
    operands = [x, weight] if bias is None else [x, weight, bias]
    if not use_kernel('pointwise_conv2d', *operands):
        return plain_pointwise_conv2d(x, weight, bias)
    if use_bf16('pointwise_conv2d', *operands):
        return _pointwise_conv_bf16(x, weight, bias)
    return _PointwiseConv()(*operands)


def is_pointwise(conv):
    """Whether the ``nn.Conv2d`` ``conv`` is a plain 1x1 conv (stride 1, no padding/dilation, one group)."""
    return (tuple(conv.kernel_size) == (1, 1) and tuple(conv.stride) == (1, 1) and tuple(conv.padding) == (0, 0)
            and tuple(conv.dilation) == (1, 1) and conv.groups == 1)


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` whose plain 1x1 case runs :func:`pointwise_conv2d` (same parameters and state-dict keys)."""

    def execute(self, x):
        if is_pointwise(self):
            return pointwise_conv2d(x, self.weight, self.bias)
        return super().execute(x)
