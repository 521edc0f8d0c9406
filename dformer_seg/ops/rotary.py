"""Rotary position code: rotate each channel pair ``(x0, x1)`` by a per-position angle.

``out = x * cos + rotate(x) * sin`` with ``rotate(x0, x1) = (-x1, x0)``; the
plain form builds ``rotate(x)`` by stacking two strided slices, which costs a
gather, a scatter and another elementwise pass. The kernel reads each pair
once. ``sin`` and ``cos`` are fixed tables (no gradient flows into them).
"""
import jittor as jt

from .dispatch import use_cpu_kernels

_FORWARD_SRC = '''
    // fastop_rotary
    const long rows = in0_shape0, table = in1_shape0;  // x (rows, table), sin / cos (table,)
    const float* sin_p = in1_p;
    const float* cos_p = in2_p;
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float* x = in0_p + r * table;
        float* y = out0_p + r * table;
        #pragma omp simd
        for (long i = 0; i < table; i += 2) {
            y[i] = x[i] * cos_p[i] - x[i + 1] * sin_p[i];
            y[i + 1] = x[i + 1] * cos_p[i + 1] + x[i] * sin_p[i + 1];
        }
    }
'''

_BACKWARD_SRC = '''
    // fastop_rotary_grad
    const long rows = in0_shape0, table = in1_shape0;  // dy (rows, table), sin / cos (table,)
    const float* sin_p = in1_p;
    const float* cos_p = in2_p;
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float* g = in0_p + r * table;
        float* dx = out0_p + r * table;
        #pragma omp simd
        for (long i = 0; i < table; i += 2) {
            dx[i] = g[i] * cos_p[i] + g[i + 1] * sin_p[i + 1];
            dx[i + 1] = g[i + 1] * cos_p[i + 1] - g[i] * sin_p[i];
        }
    }
'''


class _Rotary(jt.Function):
    def execute(self, x, sin, cos):
        self.tables = sin, cos
        return jt.code(x.shape, 'float32', [x, sin, cos], cpu_src=_FORWARD_SRC)

    def grad(self, grad_y):
        sin, cos = self.tables
        return jt.code(grad_y.shape, 'float32', [grad_y, sin, cos], cpu_src=_BACKWARD_SRC), None, None


def plain_rotate_pairs(x, sin, cos):
    pairs = x.reshape(x.shape[:-1] + (x.shape[-1] // 2, 2))
    rotated = jt.stack([-pairs[..., 1], pairs[..., 0]], dim=-1).reshape(x.shape)
    return (x * cos) + (rotated * sin)


def rotate_pairs(x, sin, cos):
    """Rotary code of ``x`` (..., *T) with tables ``sin``, ``cos`` of shape T (last dim even, pairs adjacent).

    ``x``'s trailing dims must equal the tables' shape (they broadcast over
    the leading dims). Tables that need a gradient use the plain form.
    """
    table_shape = tuple(sin.shape)
    if tuple(cos.shape) != table_shape or tuple(x.shape[x.ndim - len(table_shape):]) != table_shape:
        raise ValueError(f'rotate_pairs: sin {tuple(sin.shape)} and cos {tuple(cos.shape)} must equal the '
                         f'trailing dims of x {tuple(x.shape)}')
    if x.shape[-1] % 2:
        raise ValueError(f'rotate_pairs: the last dim of x must be even (channel pairs), got {x.shape[-1]}')
    tables_fixed = sin.is_stop_grad() and cos.is_stop_grad()
    if not (tables_fixed and use_cpu_kernels(x, sin, cos)):
        return plain_rotate_pairs(x, sin, cos)
    table = sin.numel()
    flat = _Rotary()(x.reshape((-1, table)), sin.reshape((table,)), cos.reshape((table,)))
    return flat.reshape(x.shape)
