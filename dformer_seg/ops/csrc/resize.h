// Bilinear resize of (planes, H, W) maps with PyTorch's F.interpolate source coordinates:
// align_corners=False: src = (dst + 0.5) * in / out - 0.5 clamped at 0; True: src = dst * (in - 1) / (out - 1).
#pragma once
#include "common.h"

namespace dformer_seg {

// For one axis: the low source index, the step to the high neighbour (0 at the border) and the weight
// of the high neighbour, per output index.
struct ResizeAxis {
    ResizeAxis(int in_size, int out_size, bool align_corners) : low(out_size), step(out_size), frac(out_size) {
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
    }
    std::vector<int> low, step;
    std::vector<float> frac;
};

// Each source row is interpolated along the row once (into a two-row buffer, reused by every output row
// that reads it: 8 consecutive output rows for an 8x upsampling), then each output row is the vertical
// blend of two buffered rows, a contiguous vectorised pass. Same arithmetic as interpolating each output
// value from its four source values, in the same order. Work items are (plane, band of output rows).
DFORMER_SEG_KERNEL void bilinear_resize_forward(const float* x, float* y, long planes, int in_h, int in_w,
                                                int out_h, int out_w, bool align_corners) {
    const ResizeAxis rows(in_h, out_h, align_corners), cols(in_w, out_w, align_corners);
    const long threads = omp_get_max_threads();
    const int bands = planes >= threads ? 1 : (int)std::min<long>(out_h, (threads + planes - 1) / planes);
    const long items = planes * bands;
    #pragma omp parallel
    {
        std::vector<float> buffer(2 * (size_t)out_w);
        #pragma omp for schedule(static)
        for (long item = 0; item < items; item++) {
            const long p = item / bands;
            const int band = (int)(item % bands);
            const int oy_begin = (int)((long)out_h * band / bands), oy_end = (int)((long)out_h * (band + 1) / bands);
            int held[2] = {-1, -1};  // source row in each buffer row
            // Source row r interpolated along the row, computed into the buffer row that does not hold `keep`.
            auto interpolated_row = [&](int r, int keep) -> const float* {
                for (int slot = 0; slot < 2; slot++)
                    if (held[slot] == r) return buffer.data() + (size_t)slot * out_w;
                const int slot = held[0] == keep ? 1 : 0;
                const float* src = x + (p * in_h + r) * in_w;
                float* h = buffer.data() + (size_t)slot * out_w;
                for (int ox = 0; ox < out_w; ox++) {
                    const int c0 = cols.low[ox], c1 = c0 + cols.step[ox];
                    const float wx1 = cols.frac[ox], wx0 = 1.0f - wx1;
                    h[ox] = wx0 * src[c0] + wx1 * src[c1];
                }
                held[slot] = r;
                return h;
            };
            for (int oy = oy_begin; oy < oy_end; oy++) {
                const int r0 = rows.low[oy], r1 = r0 + rows.step[oy];
                const float* top = interpolated_row(r0, r1);
                const float* bottom = interpolated_row(r1, r0);
                const float wy1 = rows.frac[oy], wy0 = 1.0f - wy1;
                float* out = y + (p * out_h + oy) * out_w;
                #pragma omp simd
                for (int ox = 0; ox < out_w; ox++) out[ox] = wy0 * top[ox] + wy1 * bottom[ox];
            }
        }
    }
}

// The transpose of the forward's two steps, one plane per thread (planes never race): each output gradient row
// is spread over its two source rows in a per-thread (in_h, out_w) buffer (contiguous, vectorised), then each
// buffered row is scattered along the row to its source columns: two scattered updates per source row and
// output column instead of four per output value.
DFORMER_SEG_KERNEL void bilinear_resize_backward(const float* dy, float* dx, long planes, int in_h, int in_w,
                                                 int out_h, int out_w, bool align_corners) {
    const ResizeAxis rows(in_h, out_h, align_corners), cols(in_w, out_w, align_corners);
    #pragma omp parallel
    {
        std::vector<float> spread((size_t)in_h * out_w);
        #pragma omp for schedule(static)
        for (long p = 0; p < planes; p++) {
            std::fill(spread.begin(), spread.end(), 0.0f);
            for (int oy = 0; oy < out_h; oy++) {
                float* top = spread.data() + (size_t)rows.low[oy] * out_w;
                float* bottom = top + (size_t)rows.step[oy] * out_w;
                const float wy1 = rows.frac[oy], wy0 = 1.0f - wy1;
                const float* g = dy + (p * out_h + oy) * out_w;
                #pragma omp simd
                for (int ox = 0; ox < out_w; ox++) top[ox] += wy0 * g[ox];
                #pragma omp simd
                for (int ox = 0; ox < out_w; ox++) bottom[ox] += wy1 * g[ox];
            }
            float* grad_in = dx + p * in_h * in_w;
            std::fill(grad_in, grad_in + (long)in_h * in_w, 0.0f);
            for (int r = 0; r < in_h; r++) {
                const float* h = spread.data() + (size_t)r * out_w;
                float* row = grad_in + (long)r * in_w;
                for (int ox = 0; ox < out_w; ox++) {
                    const int c0 = cols.low[ox], c1 = c0 + cols.step[ox];
                    const float wx1 = cols.frac[ox], wx0 = 1.0f - wx1;
                    row[c0] += wx0 * h[ox];
                    row[c1] += wx1 * h[ox];
                }
            }
        }
    }
}

}  // namespace dformer_seg
