"""Training-mode BatchNorm of NCHW maps with batch statistics, one channel per thread (``csrc/batch_norm.h``).

Jittor's BatchNorm in training runs its statistics (two reductions over N, H
and W) and their gradients as one-core kernels; for the decode head's and
the stems' maps at 480x640 that is a visible part of a CPU training step.
The variance comes from the centred values (two passes, as PyTorch), not
from Jittor's E[x^2] - mean^2, which cancels to garbage when a channel's
mean is large against its spread; the backward is the exact gradient.
"""
import jittor as jt

from . import flop_rules, kernels
from .dispatch import use_kernel
from .op_registry import fast_op

_HEADERS = ('batch_norm.h',)
_SHAPE_ARGS = 'in0_shape0, in0_shape1, in0->num / in0_shape0 / in0_shape1'  # batch, channels, plane


class _BatchNormTrain(jt.Function):
    def __init__(self, eps):
        self.eps = float(eps)

    def execute(self, x, weight, bias):
        channels = x.shape[1]
        y, mean, var = kernels.code(
            'batch_norm_train', [x.shape, (channels,), (channels,)], ['float32'] * 3, [x, weight, bias], _HEADERS,
            f'dformer_seg::batch_norm_train_forward(in0_p, in1_p, in2_p, out0_p, out1_p, out2_p, {_SHAPE_ARGS}, '
            'data["eps"]);', data=dict(eps=self.eps))
        self.saved = x, weight, mean, var
        return y, mean, var

    def grad(self, grad_y, grad_mean, grad_var):
        # mean and var are statistics for the running averages: no gradient flows back through them.
        x, weight, mean, var = self.saved
        channels = x.shape[1]
        grad_x, grad_weight, grad_bias = kernels.code(
            'batch_norm_train', [x.shape, (channels,), (channels,)], ['float32'] * 3, [x, weight, mean, var, grad_y],
            _HEADERS, 'dformer_seg::batch_norm_train_backward(in0_p, in1_p, in2_p, in3_p, in4_p, out0_p, out1_p, '
            f'out2_p, {_SHAPE_ARGS}, data["eps"]);', data=dict(eps=self.eps))
        return grad_x, grad_weight, grad_bias


def plain_batch_norm_train(x, weight, bias, eps=1e-5):
    """BatchNorm with the batch's statistics; returns (y, batch mean, biased batch variance)."""
    dims = [0] + list(range(2, x.ndim))
    mean = jt.mean(x, dims=dims)
    var = jt.mean((x - mean.broadcast(x, dims)).sqr(), dims=dims)
    w = weight / jt.sqrt(var + eps)
    b = bias - mean * w
    # detach(): copies without a gradient (stop_grad() would cut the gradient through mean and var into y too).
    return x * w.broadcast(x, dims) + b.broadcast(x, dims), mean.detach(), var.detach()


@fast_op(plain=plain_batch_norm_train, headers=_HEADERS, needs_onednn=False,
         applies='(N, C, H, W) input', gradient='kernel (x, weight, bias)', flops=flop_rules.batch_norm_train)
def batch_norm_train(x, weight, bias, eps=1e-5):
    """BatchNorm of ``x`` (N, C, *S) with its own batch statistics (the variance of the centred values):
    returns ``(y, mean, var)``, the batch mean and biased variance per channel (no gradient) for the running
    averages."""
    channels = x.shape[1] if x.ndim >= 2 else None
    if channels is None or tuple(weight.shape) != (channels,) or tuple(bias.shape) != (channels,):
        raise ValueError(f'batch_norm_train: x (N, C, ...) with weight and bias (C,), got {tuple(x.shape)}, '
                         f'{tuple(weight.shape)} and {tuple(bias.shape)}')
    if x.ndim != 4 or not use_kernel('batch_norm_train', x, weight, bias):
        return plain_batch_norm_train(x, weight, bias, eps)
    y, mean, var = _BatchNormTrain(eps)(x, weight, bias)
    return y, mean.detach(), var.detach()
