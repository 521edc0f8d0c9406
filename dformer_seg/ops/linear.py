"""Linear layer ``x W^T + b`` with optional GELU, scale (layer scale or gate) and residual, as one oneDNN matmul.

``nn.Linear`` on the CPU is a oneDNN GEMM followed by a separate bias add,
and that add (like every generic Jittor kernel on the CPU) runs on one core
and makes another pass over the output; so would a GELU or the layer-scaled
residual of a transformer block. Here a oneDNN matmul primitive applies all
of them while it stores each output block. The backward pass is two GEMMs
and a parallel column sum for the bias gradient.
"""
import jittor as jt
from jittor import nn

from . import flop_rules, kernels
from .activation import gelu
from .dispatch import needs_grad, use_kernel
from .registry import fast_op

_HEADERS = ('linear.h',)


def _linear_kernel(x, weight, bias=None, activation=None, scale=None, residual=None):
    """out (M, N) = [residual +] [scale *] activation(x (M, K) @ weight (N, K)^T [+ bias]) in one primitive."""
    inputs = [x, weight]

    def operand(t):
        if t is None:
            return 'nullptr'
        inputs.append(t)
        return f'in{len(inputs) - 1}_p'
    bias_p, scale_p, residual_p = operand(bias), operand(scale), operand(residual)
    per_channel = 'true' if scale is not None and scale.ndim == 1 else 'false'
    gelu_flag = 'true' if activation == 'gelu' else 'false'
    return kernels.code('linear', (x.shape[0], weight.shape[0]), 'float32', inputs, _HEADERS,
                        f'dformer_seg::linear_forward(in0_p, in1_p, {bias_p}, {gelu_flag}, {scale_p}, {per_channel}, '
                        f'{residual_p}, out0_p, in0_shape0, in0_shape1, in1_shape0);')


class _Linear(jt.Function):
    def execute(self, x, weight, bias=None):
        self.saved = x, weight, bias is not None
        return _linear_kernel(x, weight, bias)

    def grad(self, grad_y):
        x, weight, with_bias = self.saved
        grad_x, grad_w, grad_b = kernels.code(
            'linear', [x.shape, weight.shape, (weight.shape[0],)], ['float32'] * 3, [x, weight, grad_y], _HEADERS,
            'dformer_seg::linear_backward(in0_p, in1_p, in2_p, out0_p, out1_p, out2_p, in0_shape0, in0_shape1, '
            'in1_shape0);')
        return (grad_x, grad_w, grad_b) if with_bias else (grad_x, grad_w)


def _broadcasts_to(shape, target):
    return len(shape) <= len(target) and all(s in (1, t) for s, t in zip(shape[::-1], target[::-1]))


def _check_arguments(x, weight, bias, activation, scale, residual):
    if weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f'linear: x (..., {x.shape[-1]}) does not fit weight {tuple(weight.shape)} '
                         '(out_features, in_features)')
    out_features = weight.shape[0]
    if bias is not None and tuple(bias.shape) != (out_features,):
        raise ValueError(f'linear: bias must be ({out_features},), got {tuple(bias.shape)}')
    if activation not in (None, 'gelu'):
        raise ValueError(f'linear: activation must be None or "gelu", got {activation!r}')
    out_shape = tuple(x.shape[:-1]) + (out_features,)
    if scale is not None and not _broadcasts_to(tuple(scale.shape), out_shape):
        raise ValueError(f'linear: scale {tuple(scale.shape)} does not broadcast to the output shape {out_shape}')
    if residual is not None and tuple(residual.shape) != out_shape:
        raise ValueError(f'linear: residual must have the output shape {out_shape}, got {tuple(residual.shape)}')
    return out_shape


def plain_linear(x, weight, bias=None, activation=None, scale=None, residual=None):
    y = nn.linear(x, weight, bias)
    y = nn.gelu(y) if activation == 'gelu' else y
    y = y if scale is None else scale * y
    return y if residual is None else residual + y


@fast_op(plain=plain_linear, headers=_HEADERS, needs_onednn=True, applies='any input; scale and residual are fused '
         'without gradients when the scale is (out_features,) or of the output shape',
         gradient='kernel (two GEMMs and a column sum), then ops.gelu and Jittor elementwise ops',
         flops=flop_rules.linear)
def linear(x, weight, bias=None, activation=None, scale=None, residual=None):
    """``residual + scale * activation(x @ weight^T + bias)`` over the last axis of ``x`` (..., in_features).

    ``activation`` is None or 'gelu'; ``scale`` (anything that broadcasts to the
    output: a layer scale (out_features,), a gate of the output's shape, ...)
    and ``residual`` (the output's shape) are optional. Without gradients they
    run inside the GEMM kernel (unless the scale has yet another shape); with
    gradients they are applied after it (:func:`ops.gelu`, Jittor's
    elementwise ops).
    """
    out_shape = _check_arguments(x, weight, bias, activation, scale, residual)
    operands = [t for t in (x, weight, bias, scale, residual) if t is not None]
    if not use_kernel('linear', *operands) or x.numel() == 0:
        return plain_linear(x, weight, bias, activation, scale, residual)
    flat_x = x.reshape((-1, x.shape[-1]))
    fusable_scale = scale is None or tuple(scale.shape) in ((out_shape[-1],), out_shape)
    if fusable_scale and not needs_grad(*operands):
        def as_rows(t):  # full-shape terms as (rows, out_features); a (out_features,) scale stays
            return t if t is None or t.ndim == 1 else t.reshape(flat_x.shape[0], out_shape[-1])
        return _linear_kernel(flat_x, weight, bias, activation, as_rows(scale), as_rows(residual)).reshape(out_shape)
    y = _Linear()(flat_x, weight, *([] if bias is None else [bias])).reshape(out_shape)
    y = gelu(y) if activation == 'gelu' else y
    y = y if scale is None else scale * y
    return y if residual is None else residual + y


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and state-dict keys) computed by :func:`linear`.

    ``activation='gelu'`` makes the module compute ``GELU(linear(x))``.
    """

    def __init__(self, in_features, out_features, bias=True, activation=None):
        super().__init__(in_features, out_features, bias)
        self.activation = activation

    def execute(self, x, scale=None, residual=None):
        """``residual + scale * activation(linear(x))``; ``scale`` and ``residual`` are optional."""
        return linear(x, self.weight, self.bias, self.activation, scale, residual)
