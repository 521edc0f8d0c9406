"""Softmax over the last axis (optionally of ``x + bias``) as one OpenMP pass per row.

Jittor's CPU softmax is three single-core kernels (max, exp-sum, divide);
attention with an additive prior adds a fourth for the sum. Here each row
is handled by one thread in a single kernel, forward and backward.
"""
import jittor as jt
from jittor import nn

from .dispatch import use_cpu_kernels

_FORWARD_SRC = '''
    // fastop_softmax
    const long rows = in0_shape0, cols = in0_shape1;
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {{
        const float* x = in0_p + r * cols;
        float* y = out0_p + r * cols;
        float top = -FLT_MAX;
        for (long c = 0; c < cols; c++) {{
            const float v = x[c]{add_bias};
            y[c] = v;
            top = v > top ? v : top;
        }}
        float total = 0.0f;
        for (long c = 0; c < cols; c++) {{
            const float e = expf(y[c] - top);
            y[c] = e;
            total += e;
        }}
        for (long c = 0; c < cols; c++) y[c] = y[c] / total;
    }}
'''

# d(logits) = y * (dy - <dy, y>) per row.
_BACKWARD_SRC = '''
    // fastop_softmax_grad
    const long rows = in0_shape0, cols = in0_shape1;
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float* y = in0_p + r * cols;
        const float* dy = in1_p + r * cols;
        float* dx = out0_p + r * cols;
        float dot = 0.0f;
        for (long c = 0; c < cols; c++) dot += dy[c] * y[c];
        for (long c = 0; c < cols; c++) dx[c] = y[c] * (dy[c] - dot);
    }
'''
_HEADER = '#include <cfloat>\n#include <cmath>\n'


class _RowSoftmax(jt.Function):
    """Softmax of each row of a 2-D ``x`` (plus a same-shape ``bias`` when given)."""

    def execute(self, x, bias=None):
        inputs = [x] if bias is None else [x, bias]
        src = _FORWARD_SRC.format(add_bias='' if bias is None else ' + in1_p[r * cols + c]')
        y = jt.code(x.shape, 'float32', inputs, cpu_header=_HEADER, cpu_src=src)
        self.saved = y
        self.with_bias = bias is not None
        return y

    def grad(self, grad_y):
        y = self.saved
        grad_x = jt.code(y.shape, 'float32', [y, grad_y], cpu_header=_HEADER, cpu_src=_BACKWARD_SRC)
        return (grad_x, grad_x) if self.with_bias else grad_x


def softmax(x, dim=-1, bias=None):
    """``softmax(x + bias)`` along ``dim``; ``bias`` (optional) has the shape of ``x``.

    The fast path covers the last axis of float32 tensors on the CPU; other
    cases compute ``nn.softmax`` of the sum.
    """
    if bias is not None and tuple(bias.shape) != tuple(x.shape):
        raise ValueError(f'softmax: bias shape {tuple(bias.shape)} differs from x shape {tuple(x.shape)}')
    last_axis = dim in (-1, x.ndim - 1)
    operands = [x] if bias is None else [x, bias]
    if not (last_axis and use_cpu_kernels(*operands)):
        return nn.softmax(x if bias is None else x + bias, dim=dim)
    cols = x.shape[-1]
    flat = [v.reshape((-1, cols)) for v in operands]
    return _RowSoftmax()(*flat).reshape(x.shape)
