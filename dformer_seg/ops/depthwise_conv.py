"""Depth-wise 2-D convolution (stride 1) directly on channels-last (N, H, W, C) tensors.

The DFormer blocks keep their features channels-last, so a depth-wise conv
through ``nn.Conv2d`` costs two full transposes, and Jittor's oneDNN relay
rebuilds the primitive and reorders the data on every call. These kernels
work on NHWC memory as it is: the innermost loop runs over contiguous
channels (16-lane vectors), bands of output rows go to the cores, and wide
rows with many channels are cut into column strips whose input rows stay in
the L2 cache while the band is swept. With filter widths 3, 5 and 7 the
interior pixels go 8 (or 4) at a time through a sliding window that loads
each input vector once per filter row.

* forward: ``y[n,i,j,c] = b[c] + sum_{u,v} x[n, i-p+u, j-p+v, c] * w[c,0,u,v]``
  (zero padding ``p``), the PyTorch ``(C, 1, K, K)`` weight layout;
* input gradient: the same kernel with the flipped filter and padding
  ``K-1-p``;
* weight and bias gradients: per-thread partial sums over output rows.
"""
import jittor as jt
from jittor import nn

from .activation import GELU_SOURCE, gelu
from .dispatch import needs_grad, use_cpu_kernels

# Jittor inserts its own defines after the last `#include` line, so that line must not be conditional.
_HEADER = ('#ifdef __AVX512F__\n#include <immintrin.h>\n#endif\n'
           '#include <vector>\n#include <algorithm>\n#include <cmath>\n#include <cstdint>\n#include <omp.h>\n')
# What the conv kernel applies to each output value: nothing, or GELU (erf form, like ops.gelu).
_EPILOGUES = {
    None: 'static inline float epilogue(float v) { return v; }\n',
    'gelu': GELU_SOURCE + 'static inline float epilogue(float v) { return gelu_value(v); }\n',
}
# Working set (bytes) of one column strip: its kh input rows, output row and residual row. Rows of wide
# maps with many channels are cut into strips so that the input rows a strip reuses stay in the L2 cache.
_TILE_BYTES = 512 * 1024
# Outputs at least this large bypass the caches (streaming stores): they would not stay cached anyway,
# and the stores then skip reading the old contents of every line.
_STREAM_MIN_BYTES = 12 * 1024 * 1024

# Helpers of the forward kernel (after `epilogue`, `has_bias` and `has_residual` in the header).
_CONV_HELPERS = r"""
// -Ofast may reassociate the tap sums; an empty asm pins each partial sum, so the taps add up in the
// same order (to the same bits) on every code path.
#if defined(__AVX512F__)
#define KEEP_ORDER(v) __asm__("" : "+v"(v))
#else
#define KEEP_ORDER(v) (void)0
#endif
typedef float vec16 __attribute__((vector_size(64)));
typedef float vec16_unaligned __attribute__((vector_size(64), aligned(4)));
static inline vec16 load16(const float* p) { return *(const vec16_unaligned*)p; }

// out[0, 16) = epilogue(sum + bias + residual); streaming (non-temporal) stores need a 64-byte aligned out.
static inline void finish16(float* __restrict__ out, const float* __restrict__ sum, const float* __restrict__ bias,
                            const float* __restrict__ res, bool stream) {
    float value[16];
    #pragma omp simd
    for (int k = 0; k < 16; k++) value[k] = epilogue(sum[k] + (has_bias ? bias[k] : 0.0f) + (has_residual ? res[k] : 0.0f));
#if defined(__AVX512F__)
    if (stream) { _mm512_stream_ps(out, _mm512_loadu_ps(value)); return; }
#endif
    *(vec16_unaligned*)out = *(const vec16_unaligned*)value;
}

static inline void store16(float* __restrict__ out, vec16 acc, const float* __restrict__ bias,
                           const float* __restrict__ res, bool stream) {
    float sum[16];
    *(vec16_unaligned*)sum = acc;
    finish16(out, sum, bias, res, stream);
}

// P neighbouring output pixels whose horizontal taps all lie inside the input, 16 channels at a time.
// Each input vector is loaded once and feeds every output pixel it touches (a sliding window over the
// KW taps of a filter row), so a filter row costs P + KW - 1 input loads for P * KW multiply-adds.
// in: the input pixel under tap (first row, 0) of the first output pixel; taps: that filter row, as
// (KW, tap_stride); res, out: the first pixel.
template <int KW, int P>
static inline void interior_pixels(const float* __restrict__ in, long in_row_stride, int rows,
                                   const float* __restrict__ taps, long tap_stride, int channels, int vec_channels,
                                   const float* __restrict__ bias, const float* __restrict__ res,
                                   float* __restrict__ out, bool stream) {
    for (int c = 0; c < vec_channels; c += 16) {
        vec16 acc[P];
        #pragma GCC unroll 16
        for (int p = 0; p < P; p++) acc[p] = vec16{};
        for (int u = 0; u < rows; u++) {
            const float* row = in + u * in_row_stride + c;
            const float* tap = taps + u * KW * tap_stride + c;
            vec16 w[KW];
            #pragma GCC unroll 16
            for (int v = 0; v < KW; v++) w[v] = load16(tap + v * tap_stride);
            #pragma GCC unroll 32
            for (int s = 0; s < P + KW - 1; s++) {
                const vec16 x = load16(row + (long)s * channels);
                #pragma GCC unroll 16
                for (int p = (s - KW + 1 > 0 ? s - KW + 1 : 0); p <= (s < P - 1 ? s : P - 1); p++) {
                    acc[p] += x * w[s - p];
                    KEEP_ORDER(acc[p]);
                }
            }
        }
        // All sums leave the registers first: the epilogue may call a vector erf, which clobbers them all.
        float sums[P][16];
        #pragma GCC unroll 16
        for (int p = 0; p < P; p++) *(vec16_unaligned*)sums[p] = acc[p];
        for (int p = 0; p < P; p++)
            finish16(out + (long)p * channels + c, sums[p], bias + c, has_residual ? res + (long)p * channels + c : nullptr,
                     stream);
    }
}
"""

# out = epilogue(conv(in0, filter in1) + optional bias + optional residual (same shape as out; the inputs
# after the filter, in that order)). data: pad_h, pad_w, flip (use the filter rotated by 180 degrees),
# tile_bytes, stream_min_bytes. Work items are (image, band of output rows, column strip); interior
# pixels go in groups of 8 or 4 with the filter widths 3, 5 and 7, every other pixel on its own.
_CONV_SRC = r"""
    // fastop_dwconv
    @alias(x, in0) @alias(w, in1)
    const int batch = x_shape0, in_h = x_shape1, in_w = x_shape2, channels = x_shape3;
    const int out_h = out0_shape1, out_w = out0_shape2;
    const int kh = w_shape2, kw = w_shape3;
    const int pad_h = data["pad_h"], pad_w = data["pad_w"];
    const bool flip = data["flip"] > 0.5;
    // Filter as (kh, kw, tap_stride) so that the channel loop reads it contiguously; a power-of-two row
    // length would put every tap of a channel into the same L1 cache set, hence the extra 16.
    const long tap_stride = channels % 256 == 0 ? channels + 16 : channels;
    std::vector<float> taps((size_t)kh * kw * tap_stride);
    for (int c = 0; c < channels; c++)
        for (int u = 0; u < kh; u++)
            for (int v = 0; v < kw; v++) {
                const int su = flip ? kh - 1 - u : u, sv = flip ? kw - 1 - v : v;
                taps[(u * kw + v) * tap_stride + c] = w_p[((size_t)c * kh + su) * kw + sv];
            }
    const float* tap_p = taps.data();
    const int vec_channels = channels / 16 * 16;
    const bool sliding = kw == 3 || kw == 5 || kw == 7;
    const bool stream = channels % 16 == 0 && reinterpret_cast<std::uintptr_t>(out0_p) % 64 == 0 &&
                        (double)batch * out_h * out_w * channels * sizeof(float) >= data["stream_min_bytes"];
    const double strip_px_bytes = (double)channels * sizeof(float) * (kh + 1 + (has_residual ? 1 : 0));
    int strip_w = std::max(8, (int)(data["tile_bytes"] / strip_px_bytes) - (kw - 1));
    const int strips = std::max(1, (out_w + strip_w - 1) / strip_w);
    strip_w = ((out_w + strips - 1) / strips + 7) / 8 * 8;
    const int bands = std::max(1, std::min(out_h, omp_get_max_threads()));
    const int items = batch * bands * strips;
    const int interior_begin = std::min(out_w, pad_w);
    const int interior_end = std::max(interior_begin, std::min(out_w, in_w + pad_w - kw + 1));
    const long in_row_stride = (long)in_w * channels;
    #pragma omp parallel for schedule(static)
    for (int item = 0; item < items; item++) {
        const int n = item / (bands * strips), band = item / strips % bands, strip = item % strips;
        const int i_begin = (long)out_h * band / bands, i_end = (long)out_h * (band + 1) / bands;
        const int j_begin = std::min(out_w, strip * strip_w), j_end = std::min(out_w, j_begin + strip_w);
        const int interior_stop = std::min(j_end, interior_end);
        for (int i = i_begin; i < i_end; i++) {
            const int u_begin = std::max(0, pad_h - i), u_end = std::min(kh, in_h + pad_h - i);
            const int rows = std::max(0, u_end - u_begin);
            // input row of the first valid tap row (clamped: nothing is read when rows == 0)
            const float* in_first_row = x_p + ((long)n * in_h + std::min(in_h - 1, std::max(0, i - pad_h + u_begin))) * in_row_stride;
            const float* tap_first_row = tap_p + u_begin * kw * tap_stride;
            const long out_offset = ((long)n * out_h + i) * out_w * channels;
            float* out_row = out0_p + out_offset;
            const float* res_row = has_residual ? residual_p + out_offset : nullptr;
            // One output pixel, channels [c_begin, channels), the taps clipped at the borders.
            auto single_pixel = [&](int j, int c_begin) {
                const int v_begin = std::max(0, pad_w - j), v_end = std::min(kw, in_w + pad_w - j);
                const float* in_px = in_first_row + (long)(j - pad_w) * channels;
                float* out_px = out_row + (long)j * channels;
                const float* res_px = has_residual ? res_row + (long)j * channels : nullptr;
                int c = c_begin;
                for (; c + 16 <= channels; c += 16) {
                    vec16 acc = vec16{};
                    for (int u = 0; u < rows; u++)
                        for (int v = v_begin; v < v_end; v++) {
                            acc += load16(in_px + u * in_row_stride + (long)v * channels + c) *
                                   load16(tap_first_row + (u * kw + v) * tap_stride + c);
                            KEEP_ORDER(acc);
                        }
                    store16(out_px + c, acc, bias_p + c, has_residual ? res_px + c : nullptr, false);
                }
                for (; c < channels; c++) {
                    float acc = 0.0f;
                    for (int u = 0; u < rows; u++)
                        for (int v = v_begin; v < v_end; v++)
                            acc += in_px[u * in_row_stride + (long)v * channels + c] * tap_first_row[(u * kw + v) * tap_stride + c];
                    out_px[c] = epilogue(acc + (has_bias ? bias_p[c] : 0.0f) + (has_residual ? res_px[c] : 0.0f));
                }
            };
            int j = j_begin;
            while (j < j_end) {
                if (!sliding || j < interior_begin || j + 4 > interior_stop) {
                    single_pixel(j++, 0);
                    continue;
                }
                const int group = j + 8 <= interior_stop ? 8 : 4;
                const float* in_px = in_first_row + (long)(j - pad_w) * channels;
                float* out_px = out_row + (long)j * channels;
                const float* res_px = has_residual ? res_row + (long)j * channels : nullptr;
                #define DWCONV_GROUP(K) if (kw == K) { \
                    if (group == 8) interior_pixels<K, 8>(in_px, in_row_stride, rows, tap_first_row, tap_stride, channels, \
                                                          vec_channels, bias_p, res_px, out_px, stream); \
                    else interior_pixels<K, 4>(in_px, in_row_stride, rows, tap_first_row, tap_stride, channels, \
                                               vec_channels, bias_p, res_px, out_px, stream); }
                DWCONV_GROUP(3) DWCONV_GROUP(5) DWCONV_GROUP(7)
                #undef DWCONV_GROUP
                for (int q = 0; q < group && vec_channels < channels; q++) single_pixel(j + q, vec_channels);
                j += group;
            }
        }
#if defined(__AVX512F__)
        if (stream) _mm_sfence();  // this thread's streaming stores are visible before the op returns
#endif
    }
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
    flags = (f'static constexpr bool has_bias = {str(bias is not None).lower()};\n'
             f'static constexpr bool has_residual = {str(residual is not None).lower()};\n')
    operands = (f'const float* bias_p = {"in2_p" if bias is not None else "nullptr"};\n'
                f'const float* residual_p = {f"in{len(inputs) - 1}_p" if residual is not None else "nullptr"};\n')
    shape = (x.shape[0],) + out_hw + (x.shape[3],)
    return jt.code(shape, 'float32', inputs, cpu_header=_HEADER + flags + _EPILOGUES[activation] + _CONV_HELPERS,
                   cpu_src=operands + _CONV_SRC,
                   data=dict(pad_h=pad[0], pad_w=pad[1], flip=float(flip), tile_bytes=float(_TILE_BYTES),
                             stream_min_bytes=float(_STREAM_MIN_BYTES)))


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
