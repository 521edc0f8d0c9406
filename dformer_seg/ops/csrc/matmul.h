// Batched matrix products c_i = op(a_i) op(b_i) through oneDNN's sgemm; op transposes when asked ('T').
#pragma once
#include "onednn.h"

namespace dformer_seg {

// a (batch, a_rows, a_cols), b (batch, b_rows, b_cols), c (batch, m, n), row-major.
DFORMER_SEG_KERNEL void batched_gemm(const float* a, const float* b, float* c, long batch, int a_rows, int a_cols,
                                     int b_rows, int b_cols, char trans_a, char trans_b) {
    const int m = trans_a == 'T' ? a_cols : a_rows;
    const int k = trans_a == 'T' ? a_rows : a_cols;
    const int n = trans_b == 'T' ? b_rows : b_cols;
    const long a_step = (long)a_rows * a_cols, b_step = (long)b_rows * b_cols, c_step = (long)m * n;
    const int threads = omp_get_max_threads();
    // Many small products: one GEMM per thread. Few large ones: let oneDNN thread each GEMM.
    if (batch >= threads && (batch % threads == 0 || batch >= 4 * threads)) {
        #pragma omp parallel for schedule(static)
        for (long i = 0; i < batch; i++)
            dnnl_sgemm(trans_a, trans_b, m, n, k, 1.0f, a + i * a_step, a_cols, b + i * b_step, b_cols, 0.0f,
                       c + i * c_step, n);
    } else {
        for (long i = 0; i < batch; i++)
            dnnl_sgemm(trans_a, trans_b, m, n, k, 1.0f, a + i * a_step, a_cols, b + i * b_step, b_cols, 0.0f,
                       c + i * c_step, n);
    }
}

}  // namespace dformer_seg
