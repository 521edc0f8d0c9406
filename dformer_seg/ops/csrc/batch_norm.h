// Training-mode BatchNorm over NCHW, one channel per thread (each channel's planes are contiguous runs): the mean,
// then the biased variance of the centred values (jt.nn.BatchNorm's E[x^2] - mean^2 cancels to garbage when the
// mean is large against the spread), y = x * w + b with w = weight / sqrt(var + eps) and b = bias - mean * w; the
// backward is that formula's exact gradient.
#pragma once
#include "common.h"

namespace dformer_seg {

// Calls body(c, count) for every channel, in parallel; count = batch * plane values per channel.
template <typename Body>
static inline void for_each_channel(long channels, Body body) {
    #pragma omp parallel for schedule(dynamic, 1)
    for (long c = 0; c < channels; c++) body(c);
}

// Channel c's sums of f(x, other) and g(x, other) over (batch, plane): per plane in float, across planes in double.
template <typename F, typename G>
static inline void channel_sums(const float* x, const float* other, long batch, long channels, long plane, long c,
                                F f, G g, double& sum_f, double& sum_g) {
    sum_f = 0.0;
    sum_g = 0.0;
    for (long n = 0; n < batch; n++) {
        const float* xr = x + (n * channels + c) * plane;
        const float* orr = other + (n * channels + c) * plane;
        float part_f = 0.0f, part_g = 0.0f;
        #pragma omp simd reduction(+ : part_f, part_g)
        for (long i = 0; i < plane; i++) {
            part_f += f(xr[i], orr[i]);
            part_g += g(xr[i], orr[i]);
        }
        sum_f += part_f;
        sum_g += part_g;
    }
}

// x, y (batch, channels, plane); mean, var (channels,): the batch statistics (biased variance of the centred values).
DFORMER_SEG_KERNEL void batch_norm_train_forward(const float* x, const float* weight, const float* bias, float* y,
                                                 float* mean, float* var, long batch, long channels, long plane,
                                                 float eps) {
    const double count = (double)batch * plane;
    for_each_channel(channels, [&](long c) {
        double sum, centred_sq;
        channel_sums(x, x, batch, channels, plane, c, [](float v, float) { return v; },
                     [](float, float) { return 0.0f; }, sum, centred_sq);
        const float m = (float)(sum / count);
        channel_sums(x, x, batch, channels, plane, c, [m](float v, float) { return (v - m) * (v - m); },
                     [](float, float) { return 0.0f; }, centred_sq, sum);
        const float v = (float)(centred_sq / count);
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

// Gradients for x, weight and bias from dy and the saved statistics, with xhat = (x - mean) * rstd:
// dweight = sum dy * xhat, dbias = sum dy, dx = weight * rstd * (dy - (dbias + xhat * dweight) / count).
DFORMER_SEG_KERNEL void batch_norm_train_backward(const float* x, const float* weight, const float* mean,
                                                  const float* var, const float* dy, float* dx, float* dweight,
                                                  float* dbias, long batch, long channels, long plane, float eps) {
    const double count = (double)batch * plane;
    for_each_channel(channels, [&](long c) {
        const float m = mean[c], rstd = 1.0f / sqrtf(var[c] + eps);
        double sum_dy, sum_dy_centred;
        channel_sums(dy, x, batch, channels, plane, c, [](float g, float) { return g; },
                     [m](float g, float v) { return g * (v - m); }, sum_dy, sum_dy_centred);
        const float dw = (float)sum_dy_centred * rstd, db = (float)sum_dy;
        dweight[c] = dw;
        dbias[c] = db;
        const float scale = weight[c] * rstd, mean_db = (float)(db / count), mean_dw = (float)(dw / count);
        for (long n = 0; n < batch; n++) {
            const float* xr = x + (n * channels + c) * plane;
            const float* g = dy + (n * channels + c) * plane;
            float* out = dx + (n * channels + c) * plane;
            #pragma omp simd
            for (long i = 0; i < plane; i++) out[i] = scale * (g[i] - mean_db - (xr[i] - m) * rstd * mean_dw);
        }
    });
}

}  // namespace dformer_seg
