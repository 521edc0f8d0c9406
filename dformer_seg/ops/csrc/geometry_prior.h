// DFormerv2's geometry prior along one axis, a * (|i - j| * g) + b * (|d_i - d_j| * g) for every pair of positions
// (i, j) of a line (g the head's decay, d the depths along the line), and its gradient with respect to (a, b).
#pragma once
#include "common.h"

namespace dformer_seg {

// The (length, length) prior of one line into `out`; the line's depths lie `depth_step` floats apart.
static inline void fill_line_prior(float* out, const float* depth_line, long depth_step, int length,
                                   float head_decay, float position_weight, float depth_weight) {
    for (int i = 0; i < length; i++) {
        const float di = depth_line[(long)i * depth_step];
        float* row = out + (size_t)i * length;
        for (int j = 0; j < length; j++) {
            const float distance = (float)(i > j ? i - j : j - i);
            const float depth_gap = fabsf(di - depth_line[(long)j * depth_step]);
            row[j] = position_weight * (distance * head_decay) + depth_weight * (depth_gap * head_decay);
        }
    }
}

// Lines of depth (batch, 1, height, width): the rows (length = width), or with `columns` the columns
// (length = height). Calls body(n, line, depth_line, depth_step, length) for every (image, line).
template <typename Body>
static inline void for_each_depth_line(const float* depth, int batch, int height, int width, bool columns,
                                       Body body) {
    const int lines = columns ? width : height, length = columns ? height : width;
    const long depth_step = columns ? width : 1, line_step = columns ? 1 : width;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < batch; n++)
        for (int line = 0; line < lines; line++)
            body(n, line, depth + (long)n * height * width + line * line_step, depth_step, length);
}

// prior (batch, heads, lines, length, length); weight: (a, b).
DFORMER_SEG_KERNEL void geometry_prior_forward(const float* depth, const float* decay, const float* weight,
                                               float* prior, int batch, int heads, int height, int width,
                                               bool columns) {
    const int lines = columns ? width : height;
    for_each_depth_line(depth, batch, height, width, columns,
                        [&](int n, int line, const float* depth_line, long depth_step, int length) {
        const size_t square = (size_t)length * length;
        for (int h = 0; h < heads; h++)
            fill_line_prior(prior + (((size_t)n * heads + h) * lines + line) * square, depth_line, depth_step,
                            length, decay[h], weight[0], weight[1]);
    });
}

// dweight = (sum of dprior * |i - j| * g, sum of dprior * |d_i - d_j| * g), summed in double.
DFORMER_SEG_KERNEL void geometry_prior_backward(const float* depth, const float* decay, const float* dprior,
                                                float* dweight, int batch, int heads, int height, int width,
                                                bool columns) {
    const int lines = columns ? width : height;
    ThreadPartialsDouble sums(2);
    for_each_depth_line(depth, batch, height, width, columns,
                        [&](int n, int line, const float* depth_line, long depth_step, int length) {
        std::vector<float> d(length);
        for (int i = 0; i < length; i++) d[i] = depth_line[(long)i * depth_step];
        double position_sum = 0.0, depth_sum = 0.0;
        for (int h = 0; h < heads; h++) {
            const float* g = dprior + (((size_t)n * heads + h) * lines + line) * (size_t)length * length;
            float position_head = 0.0f, depth_head = 0.0f;
            for (int i = 0; i < length; i++) {
                const float* row = g + (size_t)i * length;
                float position_row = 0.0f, depth_row = 0.0f;
                #pragma omp simd reduction(+ : position_row, depth_row)
                for (int j = 0; j < length; j++) {
                    position_row += row[j] * (float)(i > j ? i - j : j - i);
                    depth_row += row[j] * fabsf(d[i] - d[j]);
                }
                position_head += position_row;
                depth_head += depth_row;
            }
            position_sum += (double)position_head * decay[h];
            depth_sum += (double)depth_head * decay[h];
        }
        double* mine = sums.mine();
        mine[0] += position_sum;
        mine[1] += depth_sum;
    });
    dweight[0] = (float)sums.total(0);
    dweight[1] = (float)sums.total(1);
}

}  // namespace dformer_seg
