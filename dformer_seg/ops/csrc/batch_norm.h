// Training-mode BatchNorm over NCHW as Jittor computes it, one channel per thread (each channel's planes are
// contiguous runs): mean and E[x^2] in one pass (in double), var = max(E[x^2] - mean^2, 0), y = x * w + b with
// w = weight / sqrt(var + eps) and b = bias - mean * w. The backward follows the same formula's derivatives.
#pragma once
#include "common.h"

namespace dformer_seg {

// Calls body(c, count) for every channel, in parallel; count = batch * plane values per channel.
template <typename Body>
static inline void for_each_channel(long channels, Body body) {
    #pragma omp parallel for schedule(dynamic, 1)
    for (long c = 0; c < channels; c++) body(c);
}

// Channel c's sum of a and of a * b over (batch, plane), summed per plane in float, across planes in double.
static inline void channel_sums(const float* a, const float* b, long batch, long channels, long plane, long c,
                                double& sum_a, double& sum_ab) {
    sum_a = 0.0;
    sum_ab = 0.0;
    for (long n = 0; n < batch; n++) {
        const float* ar = a + (n * channels + c) * plane;
        const float* br = b + (n * channels + c) * plane;
        float part = 0.0f, part_ab = 0.0f;
        #pragma omp simd reduction(+ : part, part_ab)
        for (long i = 0; i < plane; i++) {
            part += ar[i];
            part_ab += ar[i] * br[i];
        }
        sum_a += part;
        sum_ab += part_ab;
    }
}

// x, y (batch, channels, plane); mean, var (channels,): the batch statistics (biased variance).
DFORMER_SEG_KERNEL void batch_norm_train_forward(const float* x, const float* weight, const float* bias, float* y,
                                                 float* mean, float* var, long batch, long channels, long plane,
                                                 float eps) {
    const double count = (double)batch * plane;
    for_each_channel(channels, [&](long c) {
        double sum, sum_sq;
        channel_sums(x, x, batch, channels, plane, c, sum, sum_sq);
        const float m = (float)(sum / count), m2 = (float)(sum_sq / count);
        const float v = std::max(m2 - m * m, 0.0f);
        mean[c] = m;
        var[c] = v;
        const float w = weight[c] / sqrtf(v + eps), b = bias[c] - m * w;
        for (long n = 0; n < batch; n++) {
            const float* xr = x + (n * channels + c) * plane;
            float* yr = y + (n * channels + c) * plane;
            #pragma omp simd
            for (long i = 0; i < plane; i++) yr[i] = xr[i] * w + b;
        }
    });
}

// Gradients of batch_norm_train_forward's y for x, weight and bias, from dy and the saved batch statistics.
DFORMER_SEG_KERNEL void batch_norm_train_backward(const float* x, const float* weight, const float* mean,
                                                  const float* var, const float* dy, float* dx, float* dweight,
                                                  float* dbias, long batch, long channels, long plane, float eps) {
    const double count = (double)batch * plane;
    for_each_channel(channels, [&](long c) {
        double sum_dy, sum_dy_x;
        channel_sums(dy, x, batch, channels, plane, c, sum_dy, sum_dy_x);
        const float m = mean[c], v = var[c];
        const float rstd = 1.0f / sqrtf(v + eps), w = weight[c] * rstd;
        const float s1 = (float)sum_dy, s2 = (float)sum_dy_x;
        const float dw_total = s2 - m * s1;            // dL/dw through y = x * w + (bias - mean * w)
        dweight[c] = dw_total * rstd;
        dbias[c] = s1;
        // var = max(E[x^2] - mean^2, 0): no gradient where the clamp was active (var stored as 0).
        const float dvar = v > 0.0f ? dw_total * (-0.5f * w / (v + eps)) : 0.0f;
        const float dmean = -w * s1 - 2.0f * m * dvar;  // through b and through var
        const float a = (float)(dmean / count), two_dm2 = (float)(2.0 * dvar / count);
        for (long n = 0; n < batch; n++) {
            const float* xr = x + (n * channels + c) * plane;
            const float* g = dy + (n * channels + c) * plane;
            float* out = dx + (n * channels + c) * plane;
            #pragma omp simd
            for (long i = 0; i < plane; i++) out[i] = g[i] * w + a + two_dm2 * xr[i];
        }
    });
}

}  // namespace dformer_seg
