// LayerNorm over rows with PyTorch's arithmetic (two-pass biased variance, divide by sqrt(var + eps)).
#pragma once
#include "common.h"

namespace dformer_seg {

// y = (x - mean) / sqrt(var + eps) * weight + bias per row; keeps each row's mean and 1 / sqrt(var + eps).
DFORMER_SEG_KERNEL void layer_norm_forward(const float* x, const float* weight, const float* bias, float eps,
                                           float* y, float* mean, float* rstd, long rows, long cols) {
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float* xr = x + r * cols;
        float* yr = y + r * cols;
        float total = 0.0f;
        for (long c = 0; c < cols; c++) total += xr[c];
        const float mu = total / cols;
        float squares = 0.0f;
        for (long c = 0; c < cols; c++) {
            const float d = xr[c] - mu;
            squares += d * d;
        }
        const float std_dev = sqrtf(squares / cols + eps);
        for (long c = 0; c < cols; c++) yr[c] = (xr[c] - mu) / std_dev * weight[c] + bias[c];
        mean[r] = mu;
        rstd[r] = 1.0f / std_dev;
    }
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * weight; dweight = sum dy * xhat,
// dbias = sum dy over rows.
DFORMER_SEG_KERNEL void layer_norm_backward(const float* x, const float* weight, const float* mean,
                                            const float* rstd, const float* dy, float* dx, float* dweight,
                                            float* dbias, long rows, long cols) {
    ThreadPartials sums(2 * cols);  // weight gradient, then bias gradient
    #pragma omp parallel
    {
        float* dw_part = sums.mine();
        float* db_part = dw_part + cols;
        #pragma omp for schedule(static)
        for (long r = 0; r < rows; r++) {
            const float* xr = x + r * cols;
            const float* dyr = dy + r * cols;
            const float mu = mean[r], inv = rstd[r];
            float sum_g = 0.0f, sum_gx = 0.0f;
            for (long c = 0; c < cols; c++) {
                const float xhat = (xr[c] - mu) * inv;
                const float g = dyr[c] * weight[c];
                sum_g += g;
                sum_gx += g * xhat;
                dw_part[c] += dyr[c] * xhat;
                db_part[c] += dyr[c];
            }
            const float mean_g = sum_g / cols, mean_gx = sum_gx / cols;
            for (long c = 0; c < cols; c++) {
                const float xhat = (xr[c] - mu) * inv;
                dx[r * cols + c] = inv * (dyr[c] * weight[c] - mean_g - xhat * mean_gx);
            }
        }
    }
    for (long c = 0; c < cols; c++) {
        dweight[c] = sums.total(c);
        dbias[c] = sums.total(cols + c);
    }
}

}  // namespace dformer_seg
