// Rotary position code: rotate each adjacent channel pair (x0, x1) by a per-position angle; optionally moving the
// heads of a channels-last input in front of the positions on the way.
#pragma once
#include "common.h"

namespace dformer_seg {

// x (batch, positions, heads, d) -> y (batch, heads, positions, d) with y = x * cos + rotate(x) * sin and
// rotate(x0, x1) = (-x1, x0); sin / cos (positions, d). With heads == 1 both layouts are (batch, positions, d).
DFORMER_SEG_KERNEL void rotary_forward(const float* x, const float* sin_t, const float* cos_t, float* y, long batch,
                                       long positions, long heads, long d) {
    #pragma omp parallel for collapse(2) schedule(static)
    for (long n = 0; n < batch; n++)
        for (long p = 0; p < positions; p++) {
            const float* s = sin_t + p * d;
            const float* c = cos_t + p * d;
            for (long h = 0; h < heads; h++) {
                const float* xr = x + ((n * positions + p) * heads + h) * d;
                float* yr = y + ((n * heads + h) * positions + p) * d;
                #pragma omp simd
                for (long i = 0; i < d; i += 2) {
                    yr[i] = xr[i] * c[i] - xr[i + 1] * s[i];
                    yr[i + 1] = xr[i + 1] * c[i + 1] + xr[i] * s[i + 1];
                }
            }
        }
}

// The transpose of the rotation above, from dy (batch, heads, positions, d) to dx (batch, positions, heads, d).
DFORMER_SEG_KERNEL void rotary_backward(const float* dy, const float* sin_t, const float* cos_t, float* dx,
                                        long batch, long positions, long heads, long d) {
    #pragma omp parallel for collapse(2) schedule(static)
    for (long n = 0; n < batch; n++)
        for (long p = 0; p < positions; p++) {
            const float* s = sin_t + p * d;
            const float* c = cos_t + p * d;
            for (long h = 0; h < heads; h++) {
                const float* g = dy + ((n * heads + h) * positions + p) * d;
                float* out = dx + ((n * positions + p) * heads + h) * d;
                #pragma omp simd
                for (long i = 0; i < d; i += 2) {
                    out[i] = g[i] * c[i] + g[i + 1] * s[i + 1];
                    out[i + 1] = g[i + 1] * c[i + 1] - g[i] * s[i];
                }
            }
        }
}

}  // namespace dformer_seg
