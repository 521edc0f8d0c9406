"""Bilinear resize of NCHW tensors with PyTorch's ``F.interpolate`` semantics, on both cores.

Jittor's interpolate is a one-core gather (four ``reindex`` reads per output)
and its backward a one-core scatter. These kernels compute the source rows
and columns once per call, then loop over output rows in parallel; the
backward scatters within each (n, c) plane, so planes never race.

Source coordinates follow PyTorch: with ``align_corners=False``,
``src = (dst + 0.5) * in / out - 0.5`` clamped at 0; with ``True``,
``src = dst * (in - 1) / (out - 1)``.
"""
import jittor as jt
from jittor import nn

from .dispatch import use_cpu_kernels

_HEADER = '#include <vector>\n#include <algorithm>\n'

# Fills, for one axis, the low index, the step to the high neighbour (0 at the border) and the weight
# of the high neighbour. Shared by forward and backward.
_AXIS_TABLE = '''
    auto axis_table = [&](int in_size, int out_size, std::vector<int>& low, std::vector<int>& step,
                          std::vector<float>& frac) {
        low.resize(out_size); step.resize(out_size); frac.resize(out_size);
        float scale;
        if (align_corners) scale = out_size > 1 ? (float)(in_size - 1) / (float)(out_size - 1) : 0.0f;
        else scale = (float)in_size / (float)out_size;
        for (int o = 0; o < out_size; o++) {
            float src = align_corners ? scale * o : scale * (o + 0.5f) - 0.5f;
            if (src < 0.0f) src = 0.0f;
            int i0 = (int)src;
            if (i0 > in_size - 1) i0 = in_size - 1;
            low[o] = i0;
            step[o] = i0 < in_size - 1 ? 1 : 0;
            frac[o] = src - i0;
        }
    };
'''

_FORWARD_SRC = '''
    // fastop_resize
    const bool align_corners = data["align_corners"] > 0.5;
    const long planes = (long)in0_shape0 * in0_shape1;
    const int in_h = in0_shape2, in_w = in0_shape3, out_h = out0_shape2, out_w = out0_shape3;
''' + _AXIS_TABLE + '''
    std::vector<int> y0, dy, x0, dx;
    std::vector<float> fy, fx;
    axis_table(in_h, out_h, y0, dy, fy);
    axis_table(in_w, out_w, x0, dx, fx);
    #pragma omp parallel for collapse(2) schedule(static)
    for (long p = 0; p < planes; p++) {
        for (int oy = 0; oy < out_h; oy++) {
            const float* top = in0_p + (p * in_h + y0[oy]) * in_w;
            const float* bottom = top + (long)dy[oy] * in_w;
            const float wy1 = fy[oy], wy0 = 1.0f - wy1;
            float* out = out0_p + (p * out_h + oy) * out_w;
            for (int ox = 0; ox < out_w; ox++) {
                const int c0 = x0[ox], c1 = c0 + dx[ox];
                const float wx1 = fx[ox], wx0 = 1.0f - wx1;
                out[ox] = wy0 * (wx0 * top[c0] + wx1 * top[c1]) + wy1 * (wx0 * bottom[c0] + wx1 * bottom[c1]);
            }
        }
    }
'''

_BACKWARD_SRC = '''
    // fastop_resize_grad
    const bool align_corners = data["align_corners"] > 0.5;
    const long planes = (long)out0_shape0 * out0_shape1;
    const int in_h = out0_shape2, in_w = out0_shape3, out_h = in0_shape2, out_w = in0_shape3;
''' + _AXIS_TABLE + '''
    std::vector<int> y0, dy, x0, dx;
    std::vector<float> fy, fx;
    axis_table(in_h, out_h, y0, dy, fy);
    axis_table(in_w, out_w, x0, dx, fx);
    #pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        float* grad_in = out0_p + p * in_h * in_w;
        std::fill(grad_in, grad_in + (long)in_h * in_w, 0.0f);
        for (int oy = 0; oy < out_h; oy++) {
            float* top = grad_in + (long)y0[oy] * in_w;
            float* bottom = top + (long)dy[oy] * in_w;
            const float wy1 = fy[oy], wy0 = 1.0f - wy1;
            const float* g = in0_p + (p * out_h + oy) * out_w;
            for (int ox = 0; ox < out_w; ox++) {
                const int c0 = x0[ox], c1 = c0 + dx[ox];
                const float wx1 = fx[ox], wx0 = 1.0f - wx1;
                top[c0] += wy0 * wx0 * g[ox];
                top[c1] += wy0 * wx1 * g[ox];
                bottom[c0] += wy1 * wx0 * g[ox];
                bottom[c1] += wy1 * wx1 * g[ox];
            }
        }
    }
'''


class _BilinearResize(jt.Function):
    def __init__(self, size, align_corners):
        self.size = size
        self.align_corners = bool(align_corners)

    def execute(self, x):
        self.in_shape = tuple(x.shape)
        n, c = self.in_shape[:2]
        return jt.code((n, c) + self.size, 'float32', [x], cpu_header=_HEADER, cpu_src=_FORWARD_SRC,
                       data=dict(align_corners=float(self.align_corners)))

    def grad(self, grad_y):
        return jt.code(self.in_shape, 'float32', [grad_y], cpu_header=_HEADER, cpu_src=_BACKWARD_SRC,
                       data=dict(align_corners=float(self.align_corners)))


def bilinear_resize(x, size, align_corners=False):
    """Resize an NCHW tensor to ``size`` = (H, W) bilinearly, like PyTorch's ``F.interpolate``."""
    if x.ndim != 4:
        raise ValueError(f'bilinear_resize expects an NCHW tensor, got shape {tuple(x.shape)}')
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f'bilinear_resize: size must be two positive ints (H, W), got {size}')
    if not use_cpu_kernels(x) or x.numel() == 0:
        return nn.interpolate(x, size=size, mode='bilinear', align_corners=align_corners)
    return _BilinearResize(size, align_corners)(x)
