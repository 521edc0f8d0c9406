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
from .dispatch import needs_grad, use_kernel
from .op_registry import fast_op
from .precision import bf16_weight, use_bf16

_HEADERS = ('linear.h',)


def _append_operands(inputs, *optional):
    """Append the optional kernel operands that are given to ``inputs``; their pointer names ('nullptr' if None)."""
    names = []
    for t in optional:
        if t is None:
            names.append('nullptr')
        else:
            inputs.append(t)
            names.append(f'in{len(inputs) - 1}_p')
    return names


def _linear_kernel(x, weight, bias=None, activation=None, multiplier=None, residual=None, bf16=False):
    """out (M, N) = [residual +] [multiplier *] activation(x (M, K) @ weight (N, K)^T [+ bias]) in one primitive.

    ``bf16``: x and weight enter the GEMM rounded to bf16 (float32 accumulation, bias, epilogue and output).
    """
    inputs = [x, bf16_weight(weight) if bf16 else weight]
    bias_p, multiplier_p, residual_p = _append_operands(inputs, bias, multiplier, residual)
    per_channel = 'true' if multiplier is not None and multiplier.ndim == 1 else 'false'
    gelu_flag = 'true' if activation == 'gelu' else 'false'
    name, function = ('linear_bf16', 'linear_forward_bf16') if bf16 else ('linear', 'linear_forward')
    return kernels.code(name, (x.shape[0], weight.shape[0]), 'float32', inputs, _HEADERS,
                        f'dformer_seg::{function}(in0_p, in1_p, {bias_p}, {gelu_flag}, {multiplier_p}, {per_channel}, '
                        f'{residual_p}, out0_p, in0_shape0, in0_shape1, in1_shape0);')


class _Linear(jt.Function):
    """``residual + multiplier * activation(x W^T + b)`` with gradients. With a GELU or a multiplier the GEMM keeps
    ``pre = x W^T + b`` and one parallel pass applies the rest; the backward pass folds their gradients into one pass
    before the two GEMMs. Without them the residual is a post-op of the GEMM and the backward is the plain one.
    ``groups``: rows of the (groups, out_features) view of the multiplier (0 without one)."""

    def __init__(self, activation, groups, with_bias, with_residual):
        self.gelu = activation == 'gelu'
        self.groups = groups
        self.with_bias = with_bias
        self.with_residual = with_residual

    def execute(self, x, weight, *rest):
        rest = list(rest)
        bias = rest.pop(0) if self.with_bias else None
        multiplier = rest.pop(0) if self.groups else None
        residual = rest.pop(0) if self.with_residual else None
        if not (self.gelu or self.groups):
            self.saved = x, weight, None, None
            return _linear_kernel(x, weight, bias, residual=residual)
        inputs = [x, weight]
        bias_p, multiplier_p, residual_p = _append_operands(inputs, bias, multiplier, residual)
        shape = (x.shape[0], weight.shape[0])
        y, pre = kernels.code(
            'linear', [shape, shape], ['float32'] * 2, inputs, _HEADERS,
            f'dformer_seg::linear_train_forward(in0_p, in1_p, {bias_p}, {str(self.gelu).lower()}, {multiplier_p}, '
            f'{self.groups}, {residual_p}, out0_p, out1_p, in0_shape0, in0_shape1, in1_shape0);')
        self.saved = x, weight, pre, multiplier
        return y

    def grad(self, grad_y):
        x, weight, pre, multiplier = self.saved
        out_features = weight.shape[0]
        grad_m = None
        if pre is None:
            grad_x, grad_w, grad_b = kernels.code(
                'linear', [x.shape, weight.shape, (out_features,)], ['float32'] * 3, [x, weight, grad_y], _HEADERS,
                'dformer_seg::linear_backward(in0_p, in1_p, in2_p, out0_p, out1_p, out2_p, in0_shape0, in0_shape1, '
                'in1_shape0);')
        else:
            inputs = [x, weight, grad_y, pre]
            (multiplier_p,) = _append_operands(inputs, multiplier)
            shapes = [x.shape, weight.shape, (out_features,), multiplier.shape if self.groups else (1,), pre.shape]
            grad_x, grad_w, grad_b, grad_m, _ = kernels.code(
                'linear', shapes, ['float32'] * 5, inputs, _HEADERS,
                f'dformer_seg::linear_train_backward(in0_p, in1_p, in2_p, in3_p, {str(self.gelu).lower()}, '
                f'{multiplier_p}, {self.groups}, out0_p, out1_p, {"out2_p" if self.with_bias else "nullptr"}, '
                f'{"out3_p" if self.groups else "nullptr"}, out4_p, in0_shape0, in0_shape1, in1_shape0);')
        optional = [(self.with_bias, grad_b), (self.groups, grad_m), (self.with_residual, grad_y)]
        return (grad_x, grad_w) + tuple(grad for present, grad in optional if present)


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


def _multiplier_groups(multiplier, out_shape):
    """The rows G of the (G, out_features) view of ``multiplier`` that the linear kernels index, or None.

    The kernels take a multiplier that varies along a prefix of the output's
    leading dims only: (out_features,) or (1, .., 1, C) -> 1 (a layer scale),
    (B, 1, 1, C) -> B (a per-sample scale), the output's shape -> every row (a gate).
    """
    if multiplier is None:
        return None
    shape = (1,) * (len(out_shape) - multiplier.ndim) + tuple(multiplier.shape)
    if len(shape) != len(out_shape) or shape[-1] != out_shape[-1]:
        return None
    for prefix in range(len(out_shape) - 1, -1, -1):
        if shape[:prefix] == tuple(out_shape[:prefix]) and all(s == 1 for s in shape[prefix:-1]):
            groups = 1
            for size in out_shape[:prefix]:
                groups *= size
            return groups
    return None


def plain_linear(x, weight, bias=None, activation=None, multiplier=None, residual=None):
    y = nn.linear(x, weight, bias)
    y = nn.gelu(y) if activation == 'gelu' else y
    y = y if multiplier is None else multiplier * y
    return y if residual is None else residual + y


@fast_op(plain=plain_linear, headers=_HEADERS, needs_onednn=True, applies='any input; a multiplier is fused when it is '
         '(out_features,) or of the output shape, and with gradients also when it varies along leading dims only',
         gradient='kernel (one pass for the GELU, multiplier and bias gradients, then two GEMMs)',
         flops=flop_rules.linear)
def linear(x, weight, bias=None, activation=None, multiplier=None, residual=None):
    """``residual + multiplier * activation(x @ weight^T + bias)`` over the last axis of ``x`` (..., in_features).

    ``activation`` is None or 'gelu'; ``multiplier`` (anything that broadcasts to the
    output: a layer scale (out_features,), a gate of the output's shape, ...)
    and ``residual`` (the output's shape) are optional. Without gradients they
    run inside the GEMM kernel (oneDNN post-ops), and the GEMM runs in bf16
    under ``inference_precision('bf16')`` (:mod:`.precision`). With gradients, a GELU or a
    multiplier makes the GEMM keep its output and one parallel pass apply the
    rest, and their gradients take one pass before the two GEMMs of the
    backward; a residual alone stays a post-op. A multiplier that varies along
    other than leading dims is applied by Jittor after the kernel.
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
        return _linear_kernel(flat_x, weight, bias, activation, as_rows(multiplier), as_rows(residual),
                              bf16=use_bf16('linear', *operands)).reshape(out_shape)
    groups = _multiplier_groups(multiplier, out_shape)
    if multiplier is not None and groups is None:  # a multiplier the kernel cannot index: Jittor applies it
        y = linear(x, weight, bias, activation, residual=None)
        return multiplier * y if residual is None else residual + multiplier * y
    rows = flat_x.shape[0]
    operands = [flat_x, weight] + [t for t in (bias,) if t is not None]
    if groups:
        operands.append(multiplier.reshape(groups, out_shape[-1]))
    if residual is not None:
        operands.append(residual.reshape(rows, out_shape[-1]))
    y = _Linear(activation, groups or 0, bias is not None, residual is not None)(*operands)
    return y.reshape(out_shape)


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
