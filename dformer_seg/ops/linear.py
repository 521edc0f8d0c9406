"""Linear layer ``x W^T + b`` with optional GELU, multiplier (layer scale or gate) and residual, as one oneDNN matmul.

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


def _linear_kernel(x, weight, bias=None, activation=None, multiplier=None, residual=None):
    """out (M, N) = [residual +] [multiplier *] activation(x (M, K) @ weight (N, K)^T [+ bias]) in one primitive."""
    inputs = [x, weight]

    def operand(t):
        if t is None:
            return 'nullptr'
        inputs.append(t)
        return f'in{len(inputs) - 1}_p'
    bias_p, multiplier_p, residual_p = operand(bias), operand(multiplier), operand(residual)
    per_channel = 'true' if multiplier is not None and multiplier.ndim == 1 else 'false'
    gelu_flag = 'true' if activation == 'gelu' else 'false'
    return kernels.code('linear', (x.shape[0], weight.shape[0]), 'float32', inputs, _HEADERS,
                        f'dformer_seg::linear_forward(in0_p, in1_p, {bias_p}, {gelu_flag}, {multiplier_p}, {per_channel}, '
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


def _check_arguments(x, weight, bias, activation, multiplier, residual):
    if weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f'linear: x (..., {x.shape[-1]}) does not fit weight {tuple(weight.shape)} '
                         '(out_features, in_features)')
    out_features = weight.shape[0]
    if bias is not None and tuple(bias.shape) != (out_features,):
        raise ValueError(f'linear: bias must be ({out_features},), got {tuple(bias.shape)}')
    if activation not in (None, 'gelu'):
        raise ValueError(f'linear: activation must be None or "gelu", got {activation!r}')
    out_shape = tuple(x.shape[:-1]) + (out_features,)
    if multiplier is not None and not _broadcasts_to(tuple(multiplier.shape), out_shape):
        raise ValueError(f'linear: multiplier (a layer scale or gate) {tuple(multiplier.shape)} does not broadcast '
                         f'to the output shape {out_shape}')
    if residual is not None and tuple(residual.shape) != out_shape:
        raise ValueError(f'linear: residual must have the output shape {out_shape}, got {tuple(residual.shape)}')
    return out_shape


def plain_linear(x, weight, bias=None, activation=None, multiplier=None, residual=None):
    y = nn.linear(x, weight, bias)
    y = nn.gelu(y) if activation == 'gelu' else y
    y = y if multiplier is None else multiplier * y
    return y if residual is None else residual + y


@fast_op(plain=plain_linear, headers=_HEADERS, needs_onednn=True, applies='any input; multiplier and residual are fused '
         'without gradients when the multiplier is (out_features,) or of the output shape',
         gradient='kernel (two GEMMs and a column sum), then ops.gelu and Jittor elementwise ops',
         flops=flop_rules.linear)
def linear(x, weight, bias=None, activation=None, multiplier=None, residual=None):
    """``residual + multiplier * activation(x @ weight^T + bias)`` over the last axis of ``x`` (..., in_features).

    ``activation`` is None or 'gelu'; ``multiplier`` (anything that broadcasts to the
    output: a layer scale (out_features,), a gate of the output's shape, ...)
    and ``residual`` (the output's shape) are optional. Without gradients they
    run inside the GEMM kernel (unless the multiplier has yet another shape); with
    gradients they are applied after it (:func:`ops.gelu`, Jittor's
    elementwise ops).
    """
    out_shape = _check_arguments(x, weight, bias, activation, multiplier, residual)
    operands = [t for t in (x, weight, bias, multiplier, residual) if t is not None]
    if not use_kernel('linear', *operands) or x.numel() == 0:
        return plain_linear(x, weight, bias, activation, multiplier, residual)
    flat_x = x.reshape((-1, x.shape[-1]))
    fusable_multiplier = multiplier is None or tuple(multiplier.shape) in ((out_shape[-1],), out_shape)
    if fusable_multiplier and not needs_grad(*operands):
        def as_rows(t):  # full-shape terms as (rows, out_features); a (out_features,) multiplier stays
            return t if t is None or t.ndim == 1 else t.reshape(flat_x.shape[0], out_shape[-1])
        return _linear_kernel(flat_x, weight, bias, activation, as_rows(multiplier), as_rows(residual)).reshape(out_shape)
    y = _Linear()(flat_x, weight, *([] if bias is None else [bias])).reshape(out_shape)
    y = gelu(y) if activation == 'gelu' else y
    y = y if multiplier is None else multiplier * y
    return y if residual is None else residual + y


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and state-dict keys) computed by :func:`linear`.

    ``activation='gelu'`` makes the module compute ``GELU(linear(x))``.
    """

    def __init__(self, in_features, out_features, bias=True, activation=None):
        super().__init__(in_features, out_features, bias)
        self.activation = activation

    def execute(self, x, multiplier=None, residual=None):
        """``residual + multiplier * activation(linear(x))``; ``multiplier`` and ``residual`` are optional."""
        return linear(x, self.weight, self.bias, self.activation, multiplier, residual)
