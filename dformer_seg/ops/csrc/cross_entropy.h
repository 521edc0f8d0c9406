// Softmax cross-entropy per pixel, -log softmax(x)[label], on NCHW logits (classes `pixels` floats apart), and its
// gradient softmax(x) - onehot(label). Blocks of consecutive pixels of one image go to the threads; every loop
// over a block's pixels is contiguous, so the max, exp and log run vectorised. A pixel labelled `ignore_index`
// gets loss 0 and gradient 0; a label outside [0, classes) gives a NaN loss (callers check labels first).
#pragma once
#include "common.h"

namespace dformer_seg {

constexpr long kCrossEntropyBlock = 256;

// Calls body(n, first_pixel, count) for every block of pixels of every image, in parallel.
template <typename Body>
static inline void for_each_pixel_block(long batch, long pixels, Body body) {
    const long blocks = (pixels + kCrossEntropyBlock - 1) / kCrossEntropyBlock;
    #pragma omp parallel for schedule(static)
    for (long task = 0; task < batch * blocks; task++) {
        const long n = task / blocks, first = (task % blocks) * kCrossEntropyBlock;
        body(n, first, std::min(kCrossEntropyBlock, pixels - first));
    }
}

static inline bool is_ignored(int label, bool has_ignore, int ignore_index) {
    return has_ignore && label == ignore_index;
}

// logits (batch, classes, pixels), label (batch, pixels) -> loss and log-sum-exp (batch, pixels).
DFORMER_SEG_KERNEL void cross_entropy_forward(const float* logits, const int* label, float* loss, float* log_sum_exp,
                                              long batch, long classes, long pixels, bool has_ignore,
                                              int ignore_index) {
    for_each_pixel_block(batch, pixels, [&](long n, long first, long count) {
        const float* x = logits + n * classes * pixels + first;
        float top[kCrossEntropyBlock], total[kCrossEntropyBlock];
        for (long s = 0; s < count; s++) top[s] = x[s];
        for (long c = 1; c < classes; c++) {
            const float* row = x + c * pixels;
            #pragma omp simd
            for (long s = 0; s < count; s++) top[s] = row[s] > top[s] ? row[s] : top[s];
        }
        for (long s = 0; s < count; s++) total[s] = 0.0f;
        for (long c = 0; c < classes; c++) {
            const float* row = x + c * pixels;
            #pragma omp simd
            for (long s = 0; s < count; s++) total[s] += expf(row[s] - top[s]);
        }
        const long offset = n * pixels + first;
        for (long s = 0; s < count; s++) {
            const float lse = top[s] + logf(total[s]);
            const int y = label[offset + s];
            log_sum_exp[offset + s] = lse;
            if (is_ignored(y, has_ignore, ignore_index)) loss[offset + s] = 0.0f;
            else if (y < 0 || y >= classes) loss[offset + s] = NAN;
            else loss[offset + s] = lse - x[y * pixels + s];
        }
    });
}

// dlogits = dloss * (softmax(logits) - onehot(label)), 0 at ignored pixels.
DFORMER_SEG_KERNEL void cross_entropy_backward(const float* logits, const int* label, const float* log_sum_exp,
                                               const float* dloss, float* dlogits, long batch, long classes,
                                               long pixels, bool has_ignore, int ignore_index) {
    for_each_pixel_block(batch, pixels, [&](long n, long first, long count) {
        const long offset = n * pixels + first;
        float scale[kCrossEntropyBlock];
        for (long s = 0; s < count; s++)
            scale[s] = is_ignored(label[offset + s], has_ignore, ignore_index) ? 0.0f : dloss[offset + s];
        const float* lse = log_sum_exp + offset;
        const int* y = label + offset;
        for (long c = 0; c < classes; c++) {
            const float* row = logits + (n * classes + c) * pixels + first;
            float* out = dlogits + (n * classes + c) * pixels + first;
            #pragma omp simd
            for (long s = 0; s < count; s++)
                out[s] = scale[s] * (expf(row[s] - lse[s]) - (y[s] == c ? 1.0f : 0.0f));
        }
    });
}

}  // namespace dformer_seg
