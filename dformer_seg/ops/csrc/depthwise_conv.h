// Depth-wise 2-D convolution (stride 1) directly on channels-last (N, H, W, C) memory.
//
// The innermost loop runs over contiguous channels (vectors of kLanes floats: one register of the target),
// bands of output rows go to the cores, and wide rows with many channels are cut into column strips whose
// input rows stay in the L2 cache while the band is swept. With filter widths 3, 5 and 7 the interior pixels go 8 (or 4) at a time
// through a sliding window that loads each input vector once per filter row.
//
// forward: y[n,i,j,c] = epilogue(b[c] + sum_{u,v} x[n, i-p+u, j-p+v, c] * w[c,0,u,v] + residual[n,i,j,c])
// (zero padding p, PyTorch's (C, 1, K, K) weight layout, epilogue = identity or GELU); the input gradient
// is the same kernel with the filter rotated by 180 degrees and padding K-1-p; the weight and bias
// gradients are per-thread partial sums over output rows.
#pragma once
#include "gelu.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace dformer_seg {

// -Ofast may reassociate the tap sums; on AVX-512 an empty asm pins each partial sum (one zmm register),
// so the taps add up in the same order (to the same bits) on every code path of the kernel.
#if defined(__AVX512F__)
#define DFORMER_SEG_KEEP_ORDER(v) __asm__("" : "+v"(v))
#else
#define DFORMER_SEG_KEEP_ORDER(v) (void)0
#endif
// One vector register of channels: 16 floats on AVX-512, 8 on AVX / AVX2, 4 otherwise (SSE, NEON). Wider
// vectors than the registers would split every accumulator over several registers, and the sliding window
// (8 accumulators + up to 7 taps) would spill on AVX2's 16 registers.
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float vecL __attribute__((vector_size(kLanes * sizeof(float))));
typedef float vecL_unaligned __attribute__((vector_size(kLanes * sizeof(float)), aligned(4)));
static inline vecL load_lanes(const float* p) { return *(const vecL_unaligned*)p; }

// What happens to each conv sum before it is stored: + bias, + residual, then GELU (each if enabled).
template <bool kGelu, bool kBias, bool kResidual>
struct DwconvEpilogue {
    static constexpr bool residual = kResidual;
    static inline float apply(float sum, const float* bias, const float* res, long k) {
        const float v = sum + (kBias ? bias[k] : 0.0f) + (kResidual ? res[k] : 0.0f);
        return kGelu ? gelu_value(v) : v;
    }
};

// out[0, kLanes) = epilogue(sum + bias + residual); streaming (non-temporal) stores need an out aligned to the
// vector size.
template <class E>
static inline void finish_lanes(float* __restrict__ out, const float* __restrict__ sum,
                                const float* __restrict__ bias, const float* __restrict__ res, bool stream) {
    float value[kLanes];
    #pragma omp simd
    for (int k = 0; k < kLanes; k++) value[k] = E::apply(sum[k], bias, res, k);
#if defined(__AVX512F__)
    if (stream) {
        _mm512_stream_ps(out, _mm512_loadu_ps(value));
        return;
    }
#endif
    (void)stream;
    *(vecL_unaligned*)out = *(const vecL_unaligned*)value;
}

// P neighbouring output pixels whose horizontal taps all lie inside the input, kLanes channels at a time.
// Each input vector is loaded once and feeds every output pixel it touches (a sliding window over the
// KW taps of a filter row), so a filter row costs P + KW - 1 input loads for P * KW multiply-adds.
// in: the input pixel under tap (first row, 0) of the first output pixel; taps: that filter row, as
// (KW, tap_stride); res, out: the first pixel.
template <class E, int KW, int P>
static inline void interior_pixels(const float* __restrict__ in, long in_row_stride, int rows,
                                   const float* __restrict__ taps, long tap_stride, int channels, int vec_channels,
                                   const float* __restrict__ bias, const float* __restrict__ res,
                                   float* __restrict__ out, bool stream) {
    for (int c = 0; c < vec_channels; c += kLanes) {
        vecL acc[P];
        #pragma GCC unroll 16
        for (int p = 0; p < P; p++) acc[p] = vecL{};
        for (int u = 0; u < rows; u++) {
            const float* row = in + u * in_row_stride + c;
            const float* tap = taps + u * KW * tap_stride + c;
            // Pointers step by the (run-time) stride: P + KW - 1 precomputed offsets would not fit the
            // integer registers, and AVX2 builds then reloaded them from the stack for every load.
            vecL w[KW];
            #pragma GCC unroll 16
            for (int v = 0; v < KW; v++, tap += tap_stride) w[v] = load_lanes(tap);
            #pragma GCC unroll 32
            for (int s = 0; s < P + KW - 1; s++, row += channels) {
                const vecL x = load_lanes(row);
                #pragma GCC unroll 16
                for (int p = (s - KW + 1 > 0 ? s - KW + 1 : 0); p <= (s < P - 1 ? s : P - 1); p++) {
                    acc[p] += x * w[s - p];
                    DFORMER_SEG_KEEP_ORDER(acc[p]);
                }
            }
        }
        // All sums leave the registers first: the epilogue may call a vector erf, which clobbers them all.
        float sums[P][kLanes];
        #pragma GCC unroll 16
        for (int p = 0; p < P; p++) *(vecL_unaligned*)sums[p] = acc[p];
        for (int p = 0; p < P; p++)
            finish_lanes<E>(out + (long)p * channels + c, sums[p], bias ? bias + c : nullptr,
                            E::residual ? res + (long)p * channels + c : nullptr, stream);
    }
}

template <class E, int KW>
static inline void interior_group(int group, const float* in, long in_row_stride, int rows, const float* taps,
                                  long tap_stride, int channels, int vec_channels, const float* bias, const float* res,
                                  float* out, bool stream) {
    if (group == 8)
        interior_pixels<E, KW, 8>(in, in_row_stride, rows, taps, tap_stride, channels, vec_channels, bias, res, out,
                                  stream);
    else
        interior_pixels<E, KW, 4>(in, in_row_stride, rows, taps, tap_stride, channels, vec_channels, bias, res, out,
                                  stream);
}

// Work items are (image, band of output rows, column strip); interior pixels go in groups of 8 or 4 with
// the filter widths 3, 5 and 7, every other pixel on its own. tile_bytes: the working set of one column
// strip (its kh input rows, output row and residual row); outputs of at least stream_min_bytes bypass
// the caches (streaming stores).
template <class E>
static void dwconv_forward_impl(const float* x, const float* w, const float* bias, const float* residual, float* out,
                                int batch, int in_h, int in_w, int channels, int out_h, int out_w, int kh, int kw,
                                int pad_h, int pad_w, bool flip, double tile_bytes, double stream_min_bytes) {
    // Filter as (kh, kw, tap_stride) so that the channel loop reads it contiguously; a power-of-two row
    // length would put every tap of a channel into the same L1 cache set, hence the extra 16.
    const long tap_stride = channels % 256 == 0 ? channels + 16 : channels;
    std::vector<float> taps((size_t)kh * kw * tap_stride);
    for (int c = 0; c < channels; c++)
        for (int u = 0; u < kh; u++)
            for (int v = 0; v < kw; v++) {
                const int su = flip ? kh - 1 - u : u, sv = flip ? kw - 1 - v : v;
                taps[(u * kw + v) * tap_stride + c] = w[((size_t)c * kh + su) * kw + sv];
            }
    const float* tap_p = taps.data();
    const int vec_channels = channels / kLanes * kLanes;
    const bool sliding = kw == 3 || kw == 5 || kw == 7;
    const bool stream = channels % kLanes == 0 && reinterpret_cast<std::uintptr_t>(out) % 64 == 0 &&
                        (double)batch * out_h * out_w * channels * sizeof(float) >= stream_min_bytes;
    const double strip_px_bytes = (double)channels * sizeof(float) * (kh + 1 + (E::residual ? 1 : 0));
    int strip_w = std::max(8, (int)(tile_bytes / strip_px_bytes) - (kw - 1));
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
            const float* in_first_row =
                x + ((long)n * in_h + std::min(in_h - 1, std::max(0, i - pad_h + u_begin))) * in_row_stride;
            const float* tap_first_row = tap_p + u_begin * kw * tap_stride;
            const long out_offset = ((long)n * out_h + i) * out_w * channels;
            float* out_row = out + out_offset;
            const float* res_row = E::residual ? residual + out_offset : nullptr;
            // One output pixel, channels [c_begin, channels), the taps clipped at the borders.
            auto single_pixel = [&](int j, int c_begin) {
                const int v_begin = std::max(0, pad_w - j), v_end = std::min(kw, in_w + pad_w - j);
                const float* in_px = in_first_row + (long)(j - pad_w) * channels;
                float* out_px = out_row + (long)j * channels;
                const float* res_px = E::residual ? res_row + (long)j * channels : nullptr;
                int c = c_begin;
                for (; c + kLanes <= channels; c += kLanes) {
                    vecL acc = vecL{};
                    for (int u = 0; u < rows; u++)
                        for (int v = v_begin; v < v_end; v++) {
                            acc += load_lanes(in_px + u * in_row_stride + (long)v * channels + c) *
                                   load_lanes(tap_first_row + (u * kw + v) * tap_stride + c);
                            DFORMER_SEG_KEEP_ORDER(acc);
                        }
                    float sum[kLanes];
                    *(vecL_unaligned*)sum = acc;
                    finish_lanes<E>(out_px + c, sum, bias ? bias + c : nullptr, E::residual ? res_px + c : nullptr,
                                    false);
                }
                for (; c < channels; c++) {
                    float acc = 0.0f;
                    for (int u = 0; u < rows; u++)
                        for (int v = v_begin; v < v_end; v++)
                            acc += in_px[u * in_row_stride + (long)v * channels + c] *
                                   tap_first_row[(u * kw + v) * tap_stride + c];
                    out_px[c] = E::apply(acc, bias, res_px, c);
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
                const float* res_px = E::residual ? res_row + (long)j * channels : nullptr;
                if (kw == 3)
                    interior_group<E, 3>(group, in_px, in_row_stride, rows, tap_first_row, tap_stride, channels,
                                         vec_channels, bias, res_px, out_px, stream);
                else if (kw == 5)
                    interior_group<E, 5>(group, in_px, in_row_stride, rows, tap_first_row, tap_stride, channels,
                                         vec_channels, bias, res_px, out_px, stream);
                else
                    interior_group<E, 7>(group, in_px, in_row_stride, rows, tap_first_row, tap_stride, channels,
                                         vec_channels, bias, res_px, out_px, stream);
                for (int q = 0; q < group && vec_channels < channels; q++) single_pixel(j + q, vec_channels);
                j += group;
            }
        }
#if defined(__AVX512F__)
        if (stream) _mm_sfence();  // this thread's streaming stores are visible before the op returns
#endif
    }
}

// bias and residual may be null; gelu applies GELU after the sum.
DFORMER_SEG_KERNEL void depthwise_conv_forward(const float* x, const float* w, const float* bias, const float* residual,
                                               bool gelu, float* out, int batch, int in_h, int in_w, int channels,
                                               int out_h, int out_w, int kh, int kw, int pad_h, int pad_w, bool flip,
                                               double tile_bytes, double stream_min_bytes) {
    auto run = [&](auto epilogue) {
        dwconv_forward_impl<decltype(epilogue)>(x, w, bias, residual, out, batch, in_h, in_w, channels, out_h, out_w,
                                                kh, kw, pad_h, pad_w, flip, tile_bytes, stream_min_bytes);
    };
    const int variant = (gelu ? 4 : 0) | (bias ? 2 : 0) | (residual ? 1 : 0);
    switch (variant) {
        case 0: run(DwconvEpilogue<false, false, false>{}); break;
        case 1: run(DwconvEpilogue<false, false, true>{}); break;
        case 2: run(DwconvEpilogue<false, true, false>{}); break;
        case 3: run(DwconvEpilogue<false, true, true>{}); break;
        case 4: run(DwconvEpilogue<true, false, false>{}); break;
        case 5: run(DwconvEpilogue<true, false, true>{}); break;
        case 6: run(DwconvEpilogue<true, true, false>{}); break;
        default: run(DwconvEpilogue<true, true, true>{}); break;
    }
}

// dw[c,0,u,v] = sum dy[n,i,j,c] * x[n,i-p+u,j-p+v,c]; dbias[c] = sum dy[n,i,j,c]. Threads take output rows;
// each sums one tap over a row in registers, then adds it to its partial sums.
DFORMER_SEG_KERNEL void depthwise_conv_weight_grad(const float* x, const float* dy, float* dw, float* dbias, int batch,
                                                   int in_h, int in_w, int channels, int out_h, int out_w, int kh,
                                                   int kw, int pad_h, int pad_w) {
    ThreadPartials sums((size_t)(kh * kw + 1) * channels);  // taps, then the bias sum
    #pragma omp parallel
    {
        float* acc_taps = sums.mine();
        float* acc_bias = acc_taps + (size_t)kh * kw * channels;
        #pragma omp for collapse(2) schedule(static)
        for (int n = 0; n < batch; n++) {
            for (int i = 0; i < out_h; i++) {
                const float* g_row = dy + ((long)n * out_h + i) * out_w * channels;
                for (int j = 0; j < out_w; j++) {
                    const float* g = g_row + (long)j * channels;
                    #pragma omp simd
                    for (int c = 0; c < channels; c++) acc_bias[c] += g[c];
                }
                for (int u = 0; u < kh; u++) {
                    const int y = i - pad_h + u;
                    if (y < 0 || y >= in_h) continue;
                    const float* in_row = x + ((long)n * in_h + y) * in_w * channels;
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
            for (int v = 0; v < kw; v++) dw[((size_t)c * kh + u) * kw + v] = sums.total(((size_t)u * kw + v) * channels + c);
        dbias[c] = sums.total((size_t)kh * kw * channels + c);
    }
}

}  // namespace dformer_seg
