// Inference attention softmax(q k^T + bias) v with the scores kept in cache: per batch entry, the scores
// go into a private buffer (seeded with the bias, so that the GEMM adds it), the softmax runs in place,
// then the product with v; the (batch, lq, lk) score tensor never reaches memory.
#pragma once
#include "onednn.h"
#include <cstring>

namespace dformer_seg {

// q (batch, lq, d), k (batch, lk, d), v (batch, lk, dv), bias (batch, lq, lk) or null -> out (batch, lq, dv).
DFORMER_SEG_KERNEL void attention_forward(const float* q, const float* k, const float* v, const float* bias,
                                          float* out, long batch, int lq, int lk, int d, int dv) {
    const size_t score_size = (size_t)lq * lk;
    auto one_entry = [&](long b, float* scores, bool nested) {
        if (bias) std::memcpy(scores, bias + b * score_size, score_size * sizeof(float));
        dnnl_sgemm('N', 'T', lq, lk, d, 1.0f, q + b * lq * d, d, k + b * lk * d, d, bias ? 1.0f : 0.0f, scores, lk);
        if (nested) {
            #pragma omp parallel for schedule(static)
            for (int row = 0; row < lq; row++) softmax_row(scores + (size_t)row * lk, lk);
        } else {
            for (int row = 0; row < lq; row++) softmax_row(scores + (size_t)row * lk, lk);
        }
        dnnl_sgemm('N', 'N', lq, dv, lk, 1.0f, scores, lk, v + b * lk * dv, dv, 0.0f, out + b * lq * dv, dv);
    };
    if (batch >= omp_get_max_threads()) {
        #pragma omp parallel
        {
            std::vector<float> scores(score_size);
            #pragma omp for schedule(static)
            for (long b = 0; b < batch; b++) one_entry(b, scores.data(), false);
        }
    } else {
        // Few entries: one at a time, threads inside the GEMMs and the softmax.
        std::vector<float> scores(score_size);
        for (long b = 0; b < batch; b++) one_entry(b, scores.data(), true);
    }
}

}  // namespace dformer_seg
