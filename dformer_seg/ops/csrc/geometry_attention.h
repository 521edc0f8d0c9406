// DFormerv2's decomposed geometry attention in one pass over channels-last memory, and its backward.
//
// Within every head, attention runs along W in each row, then along H in each column of the row result,
// each with the prior a * (|i - j| * g) + b * (|d_i - d_j| * g) (g the head's decay, d the depths along
// the line) written into the score buffer before the GEMM adds q k^T. The GEMMs read rows and columns
// straight from memory with a stride, and the result is written channels-last. Training keeps the probabilities
// of both passes; the backward reads them in the same layout, the column pass first.
#pragma once
#include "geometry_prior.h"
#include "onednn.h"
#include <memory>

namespace dformer_seg {

// One attention along a line of `length` positions: q and k rows `qk_stride` floats apart, v and out rows
// `stride` apart; `depth_line` holds the line's depths, `depth_step` apart.
static inline void attend_along_line(const float* q_line, const float* k_line, long qk_stride, const float* v_line,
                                     float* out_line, long stride, int length, int head_dim, const float* depth_line,
                                     long depth_step, float head_decay, float position_weight, float depth_weight,
                                     float* scores) {
    fill_line_prior(scores, depth_line, depth_step, length, head_decay, position_weight, depth_weight);
    dnnl_sgemm('N', 'T', length, length, head_dim, 1.0f, q_line, qk_stride, k_line, qk_stride, 1.0f, scores, length);
    for (int i = 0; i < length; i++) softmax_row(scores + (size_t)i * length, length);
    dnnl_sgemm('N', 'N', length, head_dim, length, 1.0f, scores, length, v_line, stride, 0.0f, out_line, stride);
}

// Both passes over the batch. The softmax probabilities of every row and column go to `row_probs`
// (batch, heads, height, width, width) and `column_probs` (batch, heads, width, height, height) when given (training
// keeps them for the backward), else into a per-thread buffer; `rows_out` receives the result of the row pass.
static inline void geometry_attention_passes(const float* q, const float* k, const float* v, const float* depth,
                                             const float* decay, const float* weight, float* out, float* rows_out,
                                             float* row_probs, float* column_probs, int batch, int heads,
                                             int height, int width, int head_dim) {
    const int channels = heads * head_dim;
    const float position_weight = weight[0], depth_weight = weight[1];
    const long image = (long)height * width * channels;
    #pragma omp parallel
    {
        std::vector<float> scratch(row_probs ? 0 : (size_t)std::max(height, width) * std::max(height, width));
        // Along W: one entry per (image, row, head).
        #pragma omp for collapse(3) schedule(static)
        for (int n = 0; n < batch; n++)
            for (int r = 0; r < height; r++)
                for (int h = 0; h < heads; h++) {
                    const long qk = (((long)n * heads + h) * height + r) * width * head_dim;
                    const long offset = n * image + (long)r * width * channels + (long)h * head_dim;
                    float* scores = row_probs ? row_probs + (((long)n * heads + h) * height + r) * width * width
                                              : scratch.data();
                    attend_along_line(q + qk, k + qk, head_dim, v + offset, rows_out + offset, channels, width,
                                      head_dim, depth + ((long)n * height + r) * width, 1, decay[h], position_weight,
                                      depth_weight, scores);
                }
        // Along H, on the row results: one entry per (image, column, head). The loop ends in a barrier.
        #pragma omp for collapse(3) schedule(static)
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < width; c++)
                for (int h = 0; h < heads; h++) {
                    const long qk = (((long)n * heads + h) * height * width + c) * head_dim;
                    const long offset = n * image + (long)c * channels + (long)h * head_dim;
                    float* scores = column_probs ? column_probs + (((long)n * heads + h) * width + c) * height * height
                                                 : scratch.data();
                    attend_along_line(q + qk, k + qk, (long)width * head_dim, rows_out + offset, out + offset,
                                      (long)width * channels, height, head_dim, depth + (long)n * height * width + c,
                                      width, decay[h], position_weight, depth_weight, scores);
                }
    }
}

// Inference. q, k (batch, heads, height, width, head_dim); v, out (batch, height, width, heads * head_dim);
// depth (batch, 1, height, width); decay (heads,); weight: the prior's (a, b).
DFORMER_SEG_KERNEL void geometry_attention_forward(const float* q, const float* k, const float* v, const float* depth,
                                                   const float* decay, const float* weight, float* out, int batch,
                                                   int heads, int height, int width, int head_dim) {
    std::vector<float> rows_out((size_t)batch * height * width * heads * head_dim);
    geometry_attention_passes(q, k, v, depth, decay, weight, out, rows_out.data(), nullptr, nullptr, batch, heads,
                              height, width, head_dim);
}

// Training: as the inference kernel, also keeping the row pass's result and both passes' probabilities.
DFORMER_SEG_KERNEL void geometry_attention_train_forward(const float* q, const float* k, const float* v,
                                                         const float* depth, const float* decay, const float* weight,
                                                         float* out, float* rows_out, float* row_probs,
                                                         float* column_probs, int batch, int heads, int height,
                                                         int width, int head_dim) {
    geometry_attention_passes(q, k, v, depth, decay, weight, out, rows_out, row_probs, column_probs, batch, heads,
                              height, width, head_dim);
}

// The backward of attend_along_line, for probabilities `probs` (length, length) and the result's gradient `dout`:
// dvalues = P^T dout; the scores' gradient dS = P * (dP - rowsum(P * dP)) with dP = dout values^T (in `scratch`);
// dq = dS k and dk = dS^T q, added to what dq and dk hold when `accumulate`. Adds the prior weights' gradient,
// (sum dS * |i - j| * g, sum dS * |d_i - d_j| * g), to `dweight`.
static inline void attend_along_line_backward(const float* probs, const float* dout, const float* values, float* dvalues,
                                              long stride, const float* q_line, const float* k_line, float* dq_line,
                                              float* dk_line, long qk_stride, bool accumulate, int length,
                                              int head_dim, const float* depth_line, long depth_step,
                                              float head_decay, float* scratch, double* dweight) {
    dnnl_sgemm('N', 'T', length, length, head_dim, 1.0f, dout, stride, values, stride, 0.0f, scratch, length);
    dnnl_sgemm('T', 'N', length, head_dim, length, 1.0f, probs, length, dout, stride, 0.0f, dvalues, stride);
    float position_sum = 0.0f, depth_sum = 0.0f;
    for (int i = 0; i < length; i++) {
        const float* p = probs + (size_t)i * length;
        float* g = scratch + (size_t)i * length;
        float dot = 0.0f;
        #pragma omp simd reduction(+ : dot)
        for (int j = 0; j < length; j++) dot += p[j] * g[j];
        const float di = depth_line[(long)i * depth_step];
        for (int j = 0; j < length; j++) {
            const float ds = p[j] * (g[j] - dot);
            g[j] = ds;
            position_sum += ds * (float)(i > j ? i - j : j - i);
            depth_sum += ds * fabsf(di - depth_line[(long)j * depth_step]);
        }
    }
    dweight[0] += (double)position_sum * head_decay;
    dweight[1] += (double)depth_sum * head_decay;
    const float beta = accumulate ? 1.0f : 0.0f;
    dnnl_sgemm('N', 'N', length, head_dim, length, 1.0f, scratch, length, k_line, qk_stride, beta, dq_line, qk_stride);
    dnnl_sgemm('T', 'N', length, head_dim, length, 1.0f, scratch, length, q_line, qk_stride, beta, dk_line, qk_stride);
}

// Gradients of geometry_attention_train_forward from dout (layouts as there): the column pass first (it gives the
// gradient of the row pass's result), then the row pass. dweight: (2,).
DFORMER_SEG_KERNEL void geometry_attention_backward(const float* q, const float* k, const float* v, const float* depth,
                                                    const float* decay, const float* rows_out, const float* row_probs,
                                                    const float* column_probs, const float* dout, float* dq, float* dk,
                                                    float* dv, float* dweight, int batch, int heads, int height,
                                                    int width, int head_dim) {
    const int channels = heads * head_dim;
    const long image = (long)height * width * channels;
    std::unique_ptr<float[]> drows_out(new float[(size_t)batch * image]);  // every entry written by the column pass
    const int threads = omp_get_max_threads();
    std::vector<double> partial((size_t)2 * threads, 0.0);
    #pragma omp parallel
    {
        std::vector<float> scratch((size_t)std::max(height, width) * std::max(height, width));
        double* mine = partial.data() + 2 * omp_get_thread_num();
        #pragma omp for collapse(3) schedule(static)
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < width; c++)
                for (int h = 0; h < heads; h++) {
                    const long qk = (((long)n * heads + h) * height * width + c) * head_dim;
                    const long offset = n * image + (long)c * channels + (long)h * head_dim;
                    attend_along_line_backward(
                        column_probs + (((long)n * heads + h) * width + c) * height * height, dout + offset,
                        rows_out + offset, drows_out.get() + offset, (long)width * channels, q + qk, k + qk, dq + qk,
                        dk + qk, (long)width * head_dim, false, height, head_dim, depth + (long)n * height * width + c,
                        width, decay[h], scratch.data(), mine);
                }
        #pragma omp for collapse(3) schedule(static)
        for (int n = 0; n < batch; n++)
            for (int r = 0; r < height; r++)
                for (int h = 0; h < heads; h++) {
                    const long qk = (((long)n * heads + h) * height + r) * width * head_dim;
                    const long offset = n * image + (long)r * width * channels + (long)h * head_dim;
                    attend_along_line_backward(
                        row_probs + (((long)n * heads + h) * height + r) * width * width, drows_out.get() + offset,
                        v + offset, dv + offset, channels, q + qk, k + qk, dq + qk, dk + qk, head_dim, true, width,
                        head_dim, depth + ((long)n * height + r) * width, 1, decay[h], scratch.data(), mine);
                }
    }
    double position = 0.0, depth_term = 0.0;
    for (int t = 0; t < threads; t++) {
        position += partial[2 * t];
        depth_term += partial[2 * t + 1];
    }
    dweight[0] = (float)position;
    dweight[1] = (float)depth_term;
}

}  // namespace dformer_seg
