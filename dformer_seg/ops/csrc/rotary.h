// Rotary position code: rotate each adjacent channel pair (x0, x1) by a per-position angle.
#pragma once
#include "common.h"

namespace dformer_seg {

// y = x * cos + rotate(x) * sin with rotate(x0, x1) = (-x1, x0); x (rows, table), sin / cos (table,).
DFORMER_SEG_KERNEL void rotary_forward(const float* x, const float* sin_t, const float* cos_t, float* y, long rows,
                                       long table) {
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float* xr = x + r * table;
        float* yr = y + r * table;
        #pragma omp simd
        for (long i = 0; i < table; i += 2) {
            yr[i] = xr[i] * cos_t[i] - xr[i + 1] * sin_t[i];
            yr[i + 1] = xr[i + 1] * cos_t[i + 1] + xr[i] * sin_t[i + 1];
        }
    }
}

// The transpose of the rotation above, applied to the output gradient.
DFORMER_SEG_KERNEL void rotary_backward(const float* dy, const float* sin_t, const float* cos_t, float* dx,
                                        long rows, long table) {
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float* g = dy + r * table;
        float* d = dx + r * table;
        #pragma omp simd
        for (long i = 0; i < table; i += 2) {
            d[i] = g[i] * cos_t[i] + g[i + 1] * sin_t[i + 1];
            d[i + 1] = g[i + 1] * cos_t[i + 1] - g[i] * sin_t[i];
        }
    }
}

}  // namespace dformer_seg
