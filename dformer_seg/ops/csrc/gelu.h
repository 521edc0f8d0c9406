// GELU (erf form) and its derivative, elementwise over all cores.
//
// erf is a vectorisable rational approximation: erf(x) = x * P(s) / Q(s) with s = (x / 3.92)^2 and x
// clamped to [-3.92, 3.92] (beyond that erf rounds to +-1 in float32). P and Q (degree 5) were fitted by
// iterated weighted least squares to erf; evaluated in float32 the error is below 3.5e-7 everywhere
// (glibc's erff: ~3e-8), on every instruction set (see the quotient below). glibc's vector erff costs
// ~44 cycles per 16 floats on the project's CPUs, several times this.
#pragma once
#include "common.h"

namespace dformer_seg {

static inline float fast_erf(float x) {
    const float c = x < -3.92f ? -3.92f : (x > 3.92f ? 3.92f : x);
    const float s = (c * 0.25510204f) * (c * 0.25510204f);
    const float p = ((((1.7433734f * s + 16.028551f) * s + 14.035014f) * s + 12.528797f) * s + 2.9619935f) * s
                    + 1.1283790f;
    const float q = ((((32.618412f * s + 66.241379f) * s + 55.049541f) * s + 27.173908f) * s + 7.7471061f) * s
                    + 1.0f;
    // With -Ofast, GCC may compute a vector p / q as a reciprocal estimate plus one Newton step (it does for
    // AVX2, not for AVX-512), which is off by a few ulp; one correction with the residual p - r q (an FMA)
    // makes the quotient as good as a true division on every instruction set.
    const float inv_q = 1.0f / q;
    const float quotient = p * inv_q;
    const float r = c * (quotient + (p - quotient * q) * inv_q);
    return r < -1.0f ? -1.0f : (r > 1.0f ? 1.0f : r);
}

static inline float gelu_value(float x) { return (fast_erf(x * 0.70710678118654752f) + 1.0f) * x * 0.5f; }

DFORMER_SEG_KERNEL void gelu_forward(const float* x, float* y, long count) {
    #pragma omp parallel for simd schedule(static)
    for (long i = 0; i < count; i++) y[i] = gelu_value(x[i]);
}

// GELU'(x) = Phi(x) + x phi(x); also gives GELU(x) = x Phi(x) (a multiplier's gradient needs it).
static inline float gelu_and_derivative(float x, float* value) {
    const float cdf = 0.5f * (1.0f + fast_erf(x * 0.70710678118654752f));
    *value = x * cdf;
    return cdf + x * 0.39894228040143268f * expf(-0.5f * x * x);
}

DFORMER_SEG_KERNEL void gelu_backward(const float* x, const float* dy, float* dx, long count) {
    #pragma omp parallel for simd schedule(static)
    for (long i = 0; i < count; i++) {
        float value;
        dx[i] = dy[i] * gelu_and_derivative(x[i], &value);
    }
}

}  // namespace dformer_seg
