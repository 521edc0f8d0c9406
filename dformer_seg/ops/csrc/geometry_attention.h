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

// Where one (image, line, head) of the attention lives, as offsets (in floats) into its tensors: q and k are
// (batch, heads, height, width, head_dim), v and the results (batch, height, width, channels), depth
// (batch, 1, height, width), the probabilities (batch, heads, lines, length, length).
struct GeometryLine {
    long qk, qk_stride;       // first q / k row of the line, and the step between rows
    long offset, stride;      // the same in v and the channels-last results
    long depth, depth_step;   // the line's depths
    long probs;               // its (length, length) probabilities
    int length;
};

struct GeometryShape {
    int batch, heads, height, width, head_dim;
    long channels() const { return (long)heads * head_dim; }
    long image() const { return (long)height * width * channels(); }

    // Along W: row r of image n.
    GeometryLine row(int n, int r, int h) const {
        return {(((long)n * heads + h) * height + r) * width * head_dim, head_dim,
                n * image() + (long)r * width * channels() + (long)h * head_dim, channels(),
                ((long)n * height + r) * width, 1,
                (((long)n * heads + h) * height + r) * width * width, width};
    }
    // Along H: column c of image n.
    GeometryLine column(int n, int c, int h) const {
        return {(((long)n * heads + h) * height * width + c) * head_dim, (long)width * head_dim,
                n * image() + (long)c * channels() + (long)h * head_dim, (long)width * channels(),
                (long)n * height * width + c, width,
                (((long)n * heads + h) * width + c) * height * height, height};
    }
};

// body(line, head) for every (image, line, head) of one pass (rows, or columns), split over the threads of the
// enclosing parallel region; ends in a barrier.
template <typename Body>
static inline void for_each_line(const GeometryShape& shape, bool columns, Body body) {
    const int lines = columns ? shape.width : shape.height;
    #pragma omp for collapse(3) schedule(static)
    for (int n = 0; n < shape.batch; n++)
        for (int line = 0; line < lines; line++)
            for (int h = 0; h < shape.heads; h++)
                body(columns ? shape.column(n, line, h) : shape.row(n, line, h), h);
}

// One attention along a line: scores = prior + q k^T into `scores` (length, length), softmax in place, then
// out = scores v.
static inline void attend_along_line(const GeometryLine& line, const float* q, const float* k, const float* v,
                                     float* out, const float* depth, int head_dim, float head_decay,
                                     float position_weight, float depth_weight, float* scores) {
    const int length = line.length;
    fill_line_prior(scores, depth + line.depth, line.depth_step, length, head_decay, position_weight, depth_weight);
    dnnl_sgemm('N', 'T', length, length, head_dim, 1.0f, q + line.qk, line.qk_stride, k + line.qk, line.qk_stride,
               1.0f, scores, length);
    for (int i = 0; i < length; i++) softmax_row(scores + (size_t)i * length, length);
    dnnl_sgemm('N', 'N', length, head_dim, length, 1.0f, scores, length, v + line.offset, line.stride, 0.0f,
               out + line.offset, line.stride);
}

// Both passes over the batch. The softmax probabilities of every row and column go to `row_probs`
// (batch, heads, height, width, width) and `column_probs` (batch, heads, width, height, height) when given (training
// keeps them for the backward), else into a per-thread buffer; `rows_out` receives the result of the row pass.
static inline void geometry_attention_passes(const float* q, const float* k, const float* v, const float* depth,
                                             const float* decay, const float* weight, float* out, float* rows_out,
                                             float* row_probs, float* column_probs, const GeometryShape& shape) {
    const float position_weight = weight[0], depth_weight = weight[1];
    const int longest = std::max(shape.height, shape.width);
    #pragma omp parallel
    {
        std::vector<float> scratch(row_probs ? 0 : (size_t)longest * longest);
        for_each_line(shape, false, [&](const GeometryLine& line, int h) {
            float* scores = row_probs ? row_probs + line.probs : scratch.data();
            attend_along_line(line, q, k, v, rows_out, depth, shape.head_dim, decay[h], position_weight,
                              depth_weight, scores);
        });
        for_each_line(shape, true, [&](const GeometryLine& line, int h) {
            float* scores = column_probs ? column_probs + line.probs : scratch.data();
            attend_along_line(line, q, k, rows_out, out, depth, shape.head_dim, decay[h], position_weight,
                              depth_weight, scores);
        });
    }
}

// Inference. q, k (batch, heads, height, width, head_dim); v, out (batch, height, width, heads * head_dim);
// depth (batch, 1, height, width); decay (heads,); weight: the prior's (a, b).
DFORMER_SEG_KERNEL void geometry_attention_forward(const float* q, const float* k, const float* v, const float* depth,
                                                   const float* decay, const float* weight, float* out, int batch,
                                                   int heads, int height, int width, int head_dim) {
    const GeometryShape shape{batch, heads, height, width, head_dim};
    std::vector<float> rows_out((size_t)batch * shape.image());
    geometry_attention_passes(q, k, v, depth, decay, weight, out, rows_out.data(), nullptr, nullptr, shape);
}

// Training: as the inference kernel, also keeping the row pass's result and both passes' probabilities.
DFORMER_SEG_KERNEL void geometry_attention_train_forward(const float* q, const float* k, const float* v,
                                                         const float* depth, const float* decay, const float* weight,
                                                         float* out, float* rows_out, float* row_probs,
                                                         float* column_probs, int batch, int heads, int height,
                                                         int width, int head_dim) {
    geometry_attention_passes(q, k, v, depth, decay, weight, out, rows_out, row_probs, column_probs,
                              GeometryShape{batch, heads, height, width, head_dim});
}

// The backward of attend_along_line, for its probabilities `probs` and the result's gradient `dout`:
// dvalues = P^T dout; the scores' gradient dS = P * (dP - rowsum(P * dP)) with dP = dout values^T (in `scratch`);
// dq = dS k and dk = dS^T q, added to what dq and dk hold when `accumulate`. Adds the prior weights' gradient,
// (sum dS * |i - j| * g, sum dS * |d_i - d_j| * g), to `dweight`.
static inline void attend_along_line_backward(const GeometryLine& line, const float* probs, const float* dout,
                                              const float* values, float* dvalues, const float* q, const float* k,
                                              float* dq, float* dk, bool accumulate, const float* depth,
                                              int head_dim, float head_decay, float* scratch, double* dweight) {
    const int length = line.length;
    const float* depth_line = depth + line.depth;
    dnnl_sgemm('N', 'T', length, length, head_dim, 1.0f, dout + line.offset, line.stride, values + line.offset,
               line.stride, 0.0f, scratch, length);
    dnnl_sgemm('T', 'N', length, head_dim, length, 1.0f, probs, length, dout + line.offset, line.stride, 0.0f,
               dvalues + line.offset, line.stride);
    float position_sum = 0.0f, depth_sum = 0.0f;
    for (int i = 0; i < length; i++) {
        const float* p = probs + (size_t)i * length;
        float* g = scratch + (size_t)i * length;
        float dot = 0.0f;
        #pragma omp simd reduction(+ : dot)
        for (int j = 0; j < length; j++) dot += p[j] * g[j];
        const float di = depth_line[(long)i * line.depth_step];
        for (int j = 0; j < length; j++) {
            const float ds = p[j] * (g[j] - dot);
            g[j] = ds;
            position_sum += ds * (float)(i > j ? i - j : j - i);
            depth_sum += ds * fabsf(di - depth_line[(long)j * line.depth_step]);
        }
    }
    dweight[0] += (double)position_sum * head_decay;
    dweight[1] += (double)depth_sum * head_decay;
    const float beta = accumulate ? 1.0f : 0.0f;
    dnnl_sgemm('N', 'N', length, head_dim, length, 1.0f, scratch, length, k + line.qk, line.qk_stride, beta,
               dq + line.qk, line.qk_stride);
    dnnl_sgemm('T', 'N', length, head_dim, length, 1.0f, scratch, length, q + line.qk, line.qk_stride, beta,
               dk + line.qk, line.qk_stride);
}

// Gradients of geometry_attention_train_forward from dout (layouts as there): the column pass first (it gives the
// gradient of the row pass's result), then the row pass. dweight: (2,).
DFORMER_SEG_KERNEL void geometry_attention_backward(const float* q, const float* k, const float* v, const float* depth,
                                                    const float* decay, const float* rows_out, const float* row_probs,
                                                    const float* column_probs, const float* dout, float* dq, float* dk,
                                                    float* dv, float* dweight, int batch, int heads, int height,
                                                    int width, int head_dim) {
    const GeometryShape shape{batch, heads, height, width, head_dim};
    std::unique_ptr<float[]> drows_out(new float[(size_t)batch * shape.image()]);  // all written by the column pass
    const int longest = std::max(height, width);
    ThreadPartialsDouble sums(2);
    #pragma omp parallel
    {
        std::vector<float> scratch((size_t)longest * longest);
        for_each_line(shape, true, [&](const GeometryLine& line, int h) {
            attend_along_line_backward(line, column_probs + line.probs, dout, rows_out, drows_out.get(), q, k, dq, dk,
                                       false, depth, head_dim, decay[h], scratch.data(), sums.mine());
        });
        for_each_line(shape, false, [&](const GeometryLine& line, int h) {
            attend_along_line_backward(line, row_probs + line.probs, drows_out.get(), v, dv, q, k, dq, dk, true,
                                       depth, head_dim, decay[h], scratch.data(), sums.mine());
        });
    }
    dweight[0] = (float)sums.total(0);
    dweight[1] = (float)sums.total(1);
}

}  // namespace dformer_seg
