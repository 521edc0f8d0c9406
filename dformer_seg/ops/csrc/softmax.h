// Softmax over rows (optionally of x + bias), one thread per row, forward and backward.
#pragma once
#include "common.h"

namespace dformer_seg {

// y = softmax(x [+ bias]) per row of `cols`; bias may be null.
DFORMER_SEG_KERNEL void softmax_rows_forward(const float* x, const float* bias, float* y, long rows, long cols) {
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        float* out = y + r * cols;
        for (long c = 0; c < cols; c++) out[c] = x[r * cols + c] + (bias ? bias[r * cols + c] : 0.0f);
        softmax_row(out, cols);
    }
}

// d(logits) = y * (dy - <dy, y>) per row.
DFORMER_SEG_KERNEL void softmax_rows_backward(const float* y, const float* dy, float* dx, long rows, long cols) {
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float* yr = y + r * cols;
        const float* gr = dy + r * cols;
        float dot = 0.0f;
        for (long c = 0; c < cols; c++) dot += gr[c] * yr[c];
        for (long c = 0; c < cols; c++) dx[r * cols + c] = yr[c] * (gr[c] - dot);
    }
}

}  // namespace dformer_seg
