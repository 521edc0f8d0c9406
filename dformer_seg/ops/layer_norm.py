"""LayerNorm over the last axis (channels-last tensors), forward and backward kernels (``csrc/layer_norm.h``).

The plain formulation follows PyTorch's arithmetic: the variance is taken
around the mean (two passes), biased, and the centred input is divided by
``sqrt(var + eps)``. The kernel does the same per row, on all cores, and
keeps each row's mean and ``1 / sqrt(var + eps)`` for the backward pass.
"""
import jittor as jt

from . import flop_rules, kernels
from .dispatch import use_kernel
from .op_registry import fast_op

_HEADERS = ('layer_norm.h',)


class _RowLayerNorm(jt.Function):
    def __init__(self, eps):
        self.eps = float(eps)

    def execute(self, x, weight, bias):
        rows = x.shape[0]
        y, mean, rstd = kernels.code(
            'layer_norm', [x.shape, (rows,), (rows,)], ['float32'] * 3, [x, weight, bias], _HEADERS,
            'dformer_seg::layer_norm_forward(in0_p, in1_p, in2_p, data["eps"], out0_p, out1_p, out2_p, '
            'in0_shape0, in0_shape1);', data=dict(eps=self.eps))
        self.saved = x, weight, mean, rstd
        return y

    def grad(self, grad_y):
        x, weight, mean, rstd = self.saved
        return kernels.code(
            'layer_norm', [x.shape, weight.shape, weight.shape], ['float32'] * 3, [x, weight, mean, rstd, grad_y],
            _HEADERS, 'dformer_seg::layer_norm_backward(in0_p, in1_p, in2_p, in3_p, in4_p, out0_p, out1_p, out2_p, '
            'in0_shape0, in0_shape1);')


def plain_layer_norm(x, weight, bias, eps):
    mean = x.mean(dim=-1, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(dim=-1, keepdims=True)
    return centered / jt.sqrt(var + eps) * weight + bias


@fast_op(plain=plain_layer_norm, headers=_HEADERS, needs_onednn=False, applies='any tensor (last axis)',
         gradient='kernel', flops=flop_rules.layer_norm)
def layer_norm(x, weight, bias, eps):
    """Normalise ``x`` over its last axis, then scale by ``weight`` and shift by ``bias`` (both (C,))."""
    channels = x.shape[-1]
    if tuple(weight.shape) != (channels,) or tuple(bias.shape) != (channels,):
        raise ValueError(f'layer_norm: weight {tuple(weight.shape)} and bias {tuple(bias.shape)} must both be '
                         f'({channels},) for input {tuple(x.shape)}')
    if not use_kernel('layer_norm', x, weight, bias):
        return plain_layer_norm(x, weight, bias, eps)
    return _RowLayerNorm(eps)(x.reshape((-1, channels)), weight, bias).reshape(x.shape)
