// One AdamW step of one parameter tensor, in the order of operations of jt.optim.AdamW, split over the threads
// (Jittor runs its fused elementwise update on one core):
//   p = p * (1 - lr * wd);  m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g * g;
//   p = p - step_size * m / (sqrt(v) / sqrt(1 - b2^t) + eps)   with step_size = lr / (1 - b1^t).
#pragma once
#include "common.h"

namespace dformer_seg {

// decay = 1 - lr * wd, sqrt_correction2 = sqrt(1 - b2^t), step_size = lr / (1 - b1^t).
DFORMER_SEG_KERNEL void adamw_step(const float* param, const float* grad, const float* exp_avg,
                                   const float* exp_avg_sq, float* param_out, float* exp_avg_out,
                                   float* exp_avg_sq_out, long n, float decay, float b1, float one_minus_b1, float b2,
                                   float one_minus_b2, float sqrt_correction2, float eps, float step_size) {
    #pragma omp parallel for simd schedule(static)
    for (long i = 0; i < n; i++) {
        const float g = grad[i];
        const float m = b1 * exp_avg[i] + one_minus_b1 * g;
        const float v = b2 * exp_avg_sq[i] + one_minus_b2 * g * g;
        exp_avg_out[i] = m;
        exp_avg_sq_out[i] = v;
        // Below FLT_MIN, sqrt(v) is far under eps and adds nothing; and the kernels' -Ofast vector sqrt
        // (x * rsqrt(x)) turns a denormal v (a tiny gradient squared) into inf or NaN.
        const float root = v >= FLT_MIN ? sqrtf(v) : 0.0f;
        param_out[i] = param[i] * decay - step_size * m / (root / sqrt_correction2 + eps);
    }
}

}  // namespace dformer_seg
