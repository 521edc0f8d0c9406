// DFormerv2's decomposed geometry attention, inference, in one pass over channels-last memory.
//
// Within every head, attention runs along W in each row, then along H in each column of the row result,
// each with the prior a * (|i - j| * g) + b * (|d_i - d_j| * g) (g the head's decay, d the depths along
// the line) written into the score buffer before the GEMM adds q k^T. The GEMMs read rows and columns
// straight from memory with a stride, and the result is written channels-last.
#pragma once
#include "geometry_prior.h"
#include "onednn.h"

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

// q, k (batch, heads, height, width, head_dim); v, out (batch, height, width, heads * head_dim);
// depth (batch, 1, height, width); decay (heads,); weight: the prior's (a, b).
DFORMER_SEG_KERNEL void geometry_attention_forward(const float* q, const float* k, const float* v, const float* depth,
                                                   const float* decay, const float* weight, float* out, int batch,
                                                   int heads, int height, int width, int head_dim) {
    const int channels = heads * head_dim;
    const float position_weight = weight[0], depth_weight = weight[1];
    const long image = (long)height * width * channels;
    std::vector<float> rows_out((size_t)batch * image);  // result of the row pass
    #pragma omp parallel
    {
        std::vector<float> scores((size_t)std::max(height, width) * std::max(height, width));
        // Along W: one entry per (image, row, head).
        #pragma omp for collapse(3) schedule(static)
        for (int n = 0; n < batch; n++)
            for (int r = 0; r < height; r++)
                for (int h = 0; h < heads; h++) {
                    const long qk = (((long)n * heads + h) * height + r) * width * head_dim;
                    const long offset = n * image + (long)r * width * channels + (long)h * head_dim;
                    attend_along_line(q + qk, k + qk, head_dim, v + offset, rows_out.data() + offset, channels, width,
                                      head_dim, depth + ((long)n * height + r) * width, 1, decay[h], position_weight,
                                      depth_weight, scores.data());
                }
        // Along H, on the row results: one entry per (image, column, head). The loop ends in a barrier.
        #pragma omp for collapse(3) schedule(static)
        for (int n = 0; n < batch; n++)
            for (int c = 0; c < width; c++)
                for (int h = 0; h < heads; h++) {
                    const long qk = (((long)n * heads + h) * height * width + c) * head_dim;
                    const long offset = n * image + (long)c * channels + (long)h * head_dim;
                    attend_along_line(q + qk, k + qk, (long)width * head_dim, rows_out.data() + offset, out + offset,
                                      (long)width * channels, height, head_dim, depth + (long)n * height * width + c,
                                      width, decay[h], position_weight, depth_weight, scores.data());
                }
    }
}

}  // namespace dformer_seg
