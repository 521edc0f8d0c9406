"""Depth-wise 2-D convolution (stride 1) directly on channels-last (N, H, W, C) tensors.

The DFormer blocks keep their features channels-last, so a depth-wise conv
through ``nn.Conv2d`` costs two full transposes, and Jittor's oneDNN relay
rebuilds the primitive and reorders the data on every call. These kernels
work on NHWC memory as it is: the innermost loop runs over contiguous
channels (vectorised), output rows are split over the cores.

* forward: ``y[n,i,j,c] = b[c] + sum_{u,v} x[n, i-p+u, j-p+v, c] * w[c,0,u,v]``
  (zero padding ``p``), the PyTorch ``(C, 1, K, K)`` weight layout;
* input gradient: the same kernel with the flipped filter and padding
  ``K-1-p``;
* weight and bias gradients: per-thread partial sums over output rows.
"""
import re

import jittor as jt
from jittor import nn

from .activation import gelu
from .dispatch import needs_grad, use_cpu_kernels

_HEADER = '#include <vector>\n#include <algorithm>\n#include <cmath>\n#include <omp.h>\n'
# What the conv kernel applies to each output value: nothing, or GELU (erf form, like ops.gelu).
_EPILOGUES = {
    None: 'static inline float epilogue(float v) { return v; }\n',
    'gelu': 'static inline float epilogue(float v) { return (erff(v * 0.70710678118654752f) + 1.0f) * v * 0.5f; }\n',
}

# out = epilogue(conv(in0, filter in1) + optional bias + optional residual (same shape as out; the inputs
# after the filter, in that order)). data: pad_h, pad_w, flip (use the filter rotated by 180 degrees).
# Each output pixel accumulates 16 channels at a time in registers over all its taps.
_CONV_SRC = """
    // fastop_dwconv
    @alias(x, in0) @alias(w, in1)
    const int batch = x_shape0, in_h = x_shape1, in_w = x_shape2, channels = x_shape3;
    const int out_h = out0_shape1, out_w = out0_shape2;
    const int kh = w_shape2, kw = w_shape3;
    const int pad_h = data["pad_h"], pad_w = data["pad_w"];
    const bool flip = data["flip"] > 0.5;
    // Filter as (kh, kw, C) so that the channel loop reads it contiguously.
    std::vector<float> taps((size_t)kh * kw * channels);
    for (int c = 0; c < channels; c++)
        for (int u = 0; u < kh; u++)
            for (int v = 0; v < kw; v++) {{
                const int su = flip ? kh - 1 - u : u, sv = flip ? kw - 1 - v : v;
                taps[((size_t)u * kw + v) * channels + c] = w_p[((size_t)c * kh + su) * kw + sv];
            }}
    const float* tap_p = taps.data();
    #pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++) {{
        for (int i = 0; i < out_h; i++) {{
            const int u_begin = std::max(0, pad_h - i), u_end = std::min(kh, in_h + pad_h - i);
            const float* in_top = x_p + ((long)n * in_h + i - pad_h) * in_w * channels;
            float* out_row = out0_p + ((long)n * out_h + i) * out_w * channels;
            // Interior pixels (every horizontal tap inside the image) go four at a time: each tap vector
            // loaded once serves four accumulators. The borders go one pixel at a time.
            const int interior_begin = std::min(out_w, pad_w);
            const int interior_end = std::max(interior_begin, std::min(out_w, in_w + pad_w - kw + 1));
            int j = interior_begin;
            if (channels % 16 == 0) {{
                for (; j + 4 <= interior_end; j += 4) {{
                    const float* in_base = in_top + (long)(j - pad_w) * channels;
                    float* out_px = out_row + (long)j * channels;
                    for (int c = 0; c < channels; c += 16) {{
                        float acc0[16] = {{0}}, acc1[16] = {{0}}, acc2[16] = {{0}}, acc3[16] = {{0}};
                        for (int u = u_begin; u < u_end; u++)
                            for (int v = 0; v < kw; v++) {{
                                const float* in_px = in_base + ((long)u * in_w + v) * channels + c;
                                const float* tap = tap_p + ((size_t)u * kw + v) * channels + c;
                                #pragma omp simd
                                for (int k = 0; k < 16; k++) {{
                                    acc0[k] += in_px[k] * tap[k];
                                    acc1[k] += in_px[channels + k] * tap[k];
                                    acc2[k] += in_px[2 * channels + k] * tap[k];
                                    acc3[k] += in_px[3 * channels + k] * tap[k];
                                }}
                            }}
                        #pragma omp simd
                        for (int k = 0; k < 16; k++) {{
                            out_px[c + k] = epilogue(acc0[k]{bias_block}{residual}[c + k]);
                            out_px[channels + c + k] = epilogue(acc1[k]{bias_block}{residual}[channels + c + k]);
                            out_px[2 * channels + c + k] = epilogue(acc2[k]{bias_block}{residual}[2 * channels + c + k]);
                            out_px[3 * channels + c + k] = epilogue(acc3[k]{bias_block}{residual}[3 * channels + c + k]);
                        }}
                    }}
                }}
            }}
            auto single_pixel = [&](int j) {{
                const int v_begin = std::max(0, pad_w - j), v_end = std::min(kw, in_w + pad_w - j);
                const float* in_base = in_top + (long)(j - pad_w) * channels;
                float* out_px = out_row + (long)j * channels;
                int c = 0;
                for (; c + 16 <= channels; c += 16) {{
                    float acc[16] = {{0}};
                    for (int u = u_begin; u < u_end; u++)
                        for (int v = v_begin; v < v_end; v++) {{
                            const float* in_px = in_base + ((long)u * in_w + v) * channels + c;
                            const float* tap = tap_p + ((size_t)u * kw + v) * channels + c;
                            #pragma omp simd
                            for (int k = 0; k < 16; k++) acc[k] += in_px[k] * tap[k];
                        }}
                    #pragma omp simd
                    for (int k = 0; k < 16; k++) out_px[c + k] = epilogue(acc[k]{bias_block}{residual}[c + k]);
                }}
                for (; c < channels; c++) {{
                    float acc = 0.0f;
                    for (int u = u_begin; u < u_end; u++)
                        for (int v = v_begin; v < v_end; v++)
                            acc += in_base[((long)u * in_w + v) * channels + c] * tap_p[((size_t)u * kw + v) * channels + c];
                    out_px[c] = epilogue(acc{bias_scalar}{residual}[c]);
                }}
            }};
            for (int b = 0; b < interior_begin; b++) single_pixel(b);
            for (; j < out_w; j++) single_pixel(j);
        }}
    }}
"""

# Weight gradient dw[c,0,u,v] = sum dy[n,i,j,c] * x[n,i-p+u,j-p+v,c]; bias gradient sum dy[n,i,j,c].
# Threads take output rows; each sums one tap over a row in registers, then adds it to its partial sums.
_WEIGHT_GRAD_SRC = """
    // fastop_dwconv_wgrad
    @alias(x, in0) @alias(dy, in1)
    const int batch = x_shape0, in_h = x_shape1, in_w = x_shape2, channels = x_shape3;
    const int out_h = dy_shape1, out_w = dy_shape2;
    const int kh = out0_shape2, kw = out0_shape3;
    const int pad_h = data["pad_h"], pad_w = data["pad_w"];
    const int threads = omp_get_max_threads();
    const size_t per_thread = (size_t)(kh * kw + 1) * channels;  // taps, then the bias sum
    std::vector<float> partial(per_thread * threads, 0.0f);
    float* partial_p = partial.data();
    #pragma omp parallel
    {
        float* acc_taps = partial_p + per_thread * omp_get_thread_num();
        float* acc_bias = acc_taps + (size_t)kh * kw * channels;
        #pragma omp for collapse(2) schedule(static)
        for (int n = 0; n < batch; n++) {
            for (int i = 0; i < out_h; i++) {
                const float* g_row = dy_p + ((long)n * out_h + i) * out_w * channels;
                for (int j = 0; j < out_w; j++) {
                    const float* g = g_row + (long)j * channels;
                    #pragma omp simd
                    for (int c = 0; c < channels; c++) acc_bias[c] += g[c];
                }
                for (int u = 0; u < kh; u++) {
                    const int y = i - pad_h + u;
                    if (y < 0 || y >= in_h) continue;
                    const float* in_row = x_p + ((long)n * in_h + y) * in_w * channels;
                    for (int v = 0; v < kw; v++) {
                        float* tap = acc_taps + ((size_t)u * kw + v) * channels;
                        const int j_begin = std::max(0, pad_w - v), j_end = std::min(out_w, in_w + pad_w - v);
                        int c = 0;
                        for (; c + 16 <= channels; c += 16) {
                            float acc[16] = {0};
                            for (int j = j_begin; j < j_end; j++) {
                                const float* in_px = in_row + (long)(j - pad_w + v) * channels + c;
                                const float* g = g_row + (long)j * channels + c;
                                #pragma omp simd
                                for (int k = 0; k < 16; k++) acc[k] += g[k] * in_px[k];
                            }
                            #pragma omp simd
                            for (int k = 0; k < 16; k++) tap[c + k] += acc[k];
                        }
                        for (; c < channels; c++) {
                            float acc = 0.0f;
                            for (int j = j_begin; j < j_end; j++)
                                acc += g_row[(long)j * channels + c] * in_row[(long)(j - pad_w + v) * channels + c];
                            tap[c] += acc;
                        }
                    }
                }
            }
        }
    }
    for (int c = 0; c < channels; c++) {
        for (int u = 0; u < kh; u++)
            for (int v = 0; v < kw; v++) {
                float total = 0.0f;
                for (int t = 0; t < threads; t++) total += partial[per_thread * t + ((size_t)u * kw + v) * channels + c];
                out0_p[((size_t)c * kh + u) * kw + v] = total;
            }
        float bias_total = 0.0f;
        for (int t = 0; t < threads; t++) bias_total += partial[per_thread * t + (size_t)kh * kw * channels + c];
        out1_p[c] = bias_total;
    }
"""


def _conv_kernel(x, weight, bias, pad, flip, out_hw, residual=None, activation=None):
    inputs = [x, weight] + [t for t in (bias, residual) if t is not None]
    src = _CONV_SRC.format(bias_block=' + in2_p[c + k]' if bias is not None else '',
                           bias_scalar=' + in2_p[c]' if bias is not None else '',
                           residual='{residual}')
    if residual is None:
        src = re.sub(r'\{residual\}\[[^\]]*\]', '', src)
    else:
        src = re.sub(r'\{residual\}\[([^\]]*)\]', rf' + in{len(inputs) - 1}_p[(out_px - out0_p) + \1]', src)
    shape = (x.shape[0],) + out_hw + (x.shape[3],)
    return jt.code(shape, 'float32', inputs, cpu_header=_HEADER + _EPILOGUES[activation], cpu_src=src,
                   data=dict(pad_h=pad[0], pad_w=pad[1], flip=float(flip)))


class _DepthwiseConvNHWC(jt.Function):
    def __init__(self, padding, with_bias, with_residual):
        self.padding = padding
        self.with_bias = with_bias
        self.with_residual = with_residual

    def execute(self, x, weight, *extra):
        bias = extra[0] if self.with_bias else None
        residual = extra[-1] if self.with_residual else None
        kh, kw = weight.shape[2:]
        out_hw = (x.shape[1] + 2 * self.padding[0] - kh + 1, x.shape[2] + 2 * self.padding[1] - kw + 1)
        self.saved = x, weight
        return _conv_kernel(x, weight, bias, self.padding, False, out_hw, residual)

    def grad(self, grad_y):
        x, weight = self.saved
        kh, kw = weight.shape[2:]
        flipped_pad = (kh - 1 - self.padding[0], kw - 1 - self.padding[1])
        grad_x = _conv_kernel(grad_y, weight, None, flipped_pad, True, tuple(x.shape[1:3]))
        grad_w, grad_b = jt.code([weight.shape, (weight.shape[0],)], ['float32', 'float32'], [x, grad_y],
                                 cpu_header=_HEADER, cpu_src=_WEIGHT_GRAD_SRC,
                                 data=dict(pad_h=self.padding[0], pad_w=self.padding[1]))
        grads = [grad_x, grad_w]
        if self.with_bias:
            grads.append(grad_b)
        if self.with_residual:
            grads.append(grad_y)  # the residual is added unchanged
        return tuple(grads)


def _pair(value, name):
    pair = (value, value) if isinstance(value, int) else tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 0:
        raise ValueError(f'depthwise_conv2d_nhwc: {name} must be a non-negative int or pair, got {value!r}')
    return pair


def depthwise_conv2d_nhwc(x, weight, bias=None, padding=0, residual=None, activation=None):
    """Depth-wise conv, stride 1, of ``x`` (N, H, W, C) with ``weight`` (C, 1, kh, kw) and ``bias`` (C,).

    Returns ``activation(conv(x) + bias + residual)`` of shape
    (N, H + 2 * pad_h - kh + 1, W + 2 * pad_w - kw + 1, C); ``residual``
    (that shape) and ``activation`` (None or 'gelu') are optional and cost no
    extra pass over memory when no gradient is needed (with gradients the GELU
    runs as :func:`ops.gelu` after the conv). Off the fast path this is
    ``nn.conv2d(groups=C)`` between two transposes, then the addition and GELU.
    """
    if x.ndim != 4:
        raise ValueError(f'depthwise_conv2d_nhwc expects an (N, H, W, C) tensor, got shape {tuple(x.shape)}')
    channels = x.shape[3]
    if weight.ndim != 4 or weight.shape[0] != channels or weight.shape[1] != 1:
        raise ValueError(f'depthwise_conv2d_nhwc: weight must be ({channels}, 1, kh, kw) for {channels} channels, '
                         f'got {tuple(weight.shape)}')
    if bias is not None and tuple(bias.shape) != (channels,):
        raise ValueError(f'depthwise_conv2d_nhwc: bias must be ({channels},), got {tuple(bias.shape)}')
    if activation not in _EPILOGUES:
        raise ValueError(f'depthwise_conv2d_nhwc: activation must be None or "gelu", got {activation!r}')
    padding = _pair(padding, 'padding')
    out_shape = (x.shape[0], x.shape[1] + 2 * padding[0] - weight.shape[2] + 1,
                 x.shape[2] + 2 * padding[1] - weight.shape[3] + 1, channels)
    if residual is not None and tuple(residual.shape) != out_shape:
        raise ValueError(f'depthwise_conv2d_nhwc: residual must have the output shape {out_shape}, '
                         f'got {tuple(residual.shape)}')
    operands = [x, weight] + [t for t in (bias, residual) if t is not None]
    if not use_cpu_kernels(*operands):
        y = nn.conv2d(x.permute(0, 3, 1, 2), weight, bias, stride=1, padding=padding, groups=channels)
        y = y.permute(0, 2, 3, 1)
        y = y if residual is None else y + residual
        return nn.gelu(y) if activation == 'gelu' else y
    if activation is not None and not needs_grad(*operands):
        return _conv_kernel(x, weight, bias, padding, False, out_shape[1:3], residual, activation)
    y = _DepthwiseConvNHWC(padding, bias is not None, residual is not None)(*operands)
    return gelu(y) if activation == 'gelu' else y
