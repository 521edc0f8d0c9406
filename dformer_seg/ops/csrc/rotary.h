// Rotary position code: rotate each adjacent channel pair (x0, x1) by a per-position angle; optionally moving the
// heads of a channels-last input in front of the positions on the way.
#pragma once
#include "common.h"

namespace dformer_seg {

// body(channels_last, heads_first, sin, cos) for every (image, position, head): the offsets of that head's d values
// in the (batch, positions, heads, d) and (batch, heads, positions, d) layouts, and the position's tables.
template <typename Body>
static inline void for_each_rotary_head(const float* sin_t, const float* cos_t, long batch, long positions, long heads,
                                        long d, Body body) {
    #pragma omp parallel for collapse(2) schedule(static)
    for (long n = 0; n < batch; n++)
        for (long p = 0; p < positions; p++)
            for (long h = 0; h < heads; h++)
                body(((n * positions + p) * heads + h) * d, ((n * heads + h) * positions + p) * d, sin_t + p * d,
                     cos_t + p * d);
}

// x (batch, positions, heads, d) -> y (batch, heads, positions, d) with y = x * cos + rotate(x) * sin and
// rotate(x0, x1) = (-x1, x0); sin / cos (positions, d). With heads == 1 both layouts are (batch, positions, d).
DFORMER_SEG_KERNEL void rotary_forward(const float* x, const float* sin_t, const float* cos_t, float* y, long batch,
                                       long positions, long heads, long d) {
    for_each_rotary_head(sin_t, cos_t, batch, positions, heads, d,
                         [&](long channels_last, long heads_first, const float* s, const float* c) {
        const float* xr = x + channels_last;
        float* yr = y + heads_first;
        #pragma omp simd
        for (long i = 0; i < d; i += 2) {
            yr[i] = xr[i] * c[i] - xr[i + 1] * s[i];
            yr[i + 1] = xr[i + 1] * c[i + 1] + xr[i] * s[i + 1];
        }
    });
}

// The transpose of the rotation above, from dy (batch, heads, positions, d) to dx (batch, positions, heads, d).
DFORMER_SEG_KERNEL void rotary_backward(const float* dy, const float* sin_t, const float* cos_t, float* dx,
                                        long batch, long positions, long heads, long d) {
    for_each_rotary_head(sin_t, cos_t, batch, positions, heads, d,
                         [&](long channels_last, long heads_first, const float* s, const float* c) {
        const float* g = dy + heads_first;
        float* out = dx + channels_last;
        #pragma omp simd
        for (long i = 0; i < d; i += 2) {
            out[i] = g[i] * c[i] + g[i + 1] * s[i + 1];
            out[i + 1] = g[i + 1] * c[i + 1] - g[i] * s[i];
        }
    });
}

}  // namespace dformer_seg
