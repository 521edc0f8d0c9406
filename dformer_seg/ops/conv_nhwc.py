"""Dense 2-D convolution of channels-last (N, H, W, C) tensors (DFormer's downsampling convs; ``csrc/conv_nhwc.h``).

DFormer keeps its blocks channels-last, but ``nn.Conv2d`` wants NCHW, so each
downsampling conv between stages costs two transposes, and Jittor's oneDNN
relay reorders input and output to a blocked layout on every call as well.
Here a oneDNN convolution primitive reads and writes NHWC memory directly
(only the small weight is reordered per call); the primitive is built once
per shape and kept. Gradients come from the plain formulation (transposes
around ``nn.conv2d``), which is also what runs off the CPU kernels. Under
``inference_precision('bf16')`` the primitive takes bf16 input and weight
(float32 accumulation, bias and output; :mod:`.precision`).
"""
from jittor import nn

from ..utils.shapes import int_pair
from . import flop_rules, kernels
from .dispatch import needs_grad, use_kernel
from .op_registry import fast_op
from .precision import bf16_weight, use_bf16

_HEADERS = ('conv_nhwc.h',)


def plain_conv2d_nhwc(x, weight, bias=None, stride=1, padding=0):
    y = nn.conv2d(x.permute(0, 3, 1, 2), weight, bias, stride=stride, padding=padding)
    return y.permute(0, 2, 3, 1)


@fast_op(plain=plain_conv2d_nhwc, headers=_HEADERS, needs_onednn=True, applies='inference (no gradient needed)',
         gradient='plain formulation', flops=flop_rules.conv2d_nhwc, thop=flop_rules.conv_multiply_adds,
         thop_kind='Conv', thop_params=flop_rules.conv_params)
def conv2d_nhwc(x, weight, bias=None, stride=1, padding=0):
    """Dense conv (one group, no dilation) of ``x`` (N, H, W, C_in) with ``weight`` (C_out, C_in, kh, kw).

    Returns (N, OH, OW, C_out), the NHWC form of ``nn.conv2d`` on the NCHW
    tensors (zero padding, PyTorch's weight layout).
    """
    if x.ndim != 4:
        raise ValueError(f'conv2d_nhwc expects an (N, H, W, C) tensor, got shape {tuple(x.shape)}')
    if weight.ndim != 4 or weight.shape[1] != x.shape[3]:
        raise ValueError(f'conv2d_nhwc: weight must be (C_out, {x.shape[3]}, kh, kw) for {x.shape[3]} input '
                         f'channels, got {tuple(weight.shape)}')
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f'conv2d_nhwc: bias must be ({weight.shape[0]},), got {tuple(bias.shape)}')
    stride = int_pair(stride, 'conv2d_nhwc: stride', minimum=1)
    padding = int_pair(padding, 'conv2d_nhwc: padding')
    out_hw = tuple((x.shape[1 + i] + 2 * padding[i] - weight.shape[2 + i]) // stride[i] + 1 for i in range(2))
    if min(out_hw) < 1:
        raise ValueError(f'conv2d_nhwc: input {tuple(x.shape[1:3])} is smaller than the kernel '
                         f'{tuple(weight.shape[2:])} with padding {padding}')
    operands = [x, weight] if bias is None else [x, weight, bias]
    if needs_grad(*operands) or not use_kernel('conv2d_nhwc', *operands):
        return plain_conv2d_nhwc(x, weight, bias, stride, padding)
    bias_p = 'nullptr' if bias is None else 'in2_p'
    name, function = ('conv2d_nhwc', 'conv_nhwc_forward')
    if use_bf16('conv2d_nhwc', *operands):
        name, function = ('conv2d_nhwc_bf16', 'conv_nhwc_forward_bf16')
        operands[1] = bf16_weight(weight)
    return kernels.code(
        name, (x.shape[0],) + out_hw + (weight.shape[0],), 'float32', operands, _HEADERS,
        f'dformer_seg::{function}(in0_p, in1_p, {bias_p}, out0_p, in0_shape0, in0_shape1, in0_shape2, '
        'in0_shape3, out0_shape1, out0_shape2, out0_shape3, in1_shape2, in1_shape3, data["stride_h"], '
        'data["stride_w"], data["pad_h"], data["pad_w"]);',
        data=dict(stride_h=stride[0], stride_w=stride[1], pad_h=padding[0], pad_w=padding[1]))
