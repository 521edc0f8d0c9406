"""Attention ``softmax(q k^T + bias) v`` with the scores kept in cache (inference).

Composed of :func:`matmul` and :func:`softmax`, attention writes the whole
(..., Lq, Lk) score tensor to memory and reads it back twice; for DFormerv2's
row/column attention that tensor is far larger than q, k and v. When no
gradient is needed, one kernel handles one batch entry per thread: scores
into a private buffer (seeded with the bias, so that the GEMM adds it),
softmax in place, then the product with v, all on cache-resident data.

With gradients the composed form runs (still the fast kernels): its backward
needs the probabilities, and recomputing them inside a fused backward
measured slower than keeping them.
"""
import jittor as jt

from .dispatch import needs_grad, use_cpu_kernels
from .matmul import matmul
from .softmax import softmax

_HEADER = ('#include <dnnl.h>\n#include <omp.h>\n#include <vector>\n#include <cstring>\n'
           '#include <cfloat>\n#include <cmath>\n')

# in0 q (B, Lq, d), in1 k (B, Lk, d), in2 v (B, Lk, dv) [, in3 bias (B, Lq, Lk)] -> softmax(q k^T + bias) v
_ATTENTION_SRC = '''
    // fastop_attention
    @alias(q, in0) @alias(k, in1) @alias(v, in2)
    const long batch = q_shape0;
    const int lq = q_shape1, d = q_shape2, lk = k_shape1, dv = v_shape2;
    const int threads = omp_get_max_threads();
    const size_t score_size = (size_t)lq * lk;

    auto row_softmax = [&](float* r) {{
        float top = -FLT_MAX;
        for (int c = 0; c < lk; c++) top = r[c] > top ? r[c] : top;
        float total = 0.0f;
        for (int c = 0; c < lk; c++) {{ r[c] = expf(r[c] - top); total += r[c]; }}
        for (int c = 0; c < lk; c++) r[c] = r[c] / total;
    }};
    auto one_entry = [&](long b, float* s, bool nested) {{
        {copy_bias}
        dnnl_sgemm('N', 'T', lq, lk, d, 1.0f, q_p + b * lq * d, d, k_p + b * lk * d, d, {beta}, s, lk);
        if (nested) {{
            #pragma omp parallel for schedule(static)
            for (int row = 0; row < lq; row++) row_softmax(s + (size_t)row * lk);
        }} else {{
            for (int row = 0; row < lq; row++) row_softmax(s + (size_t)row * lk);
        }}
        dnnl_sgemm('N', 'N', lq, dv, lk, 1.0f, s, lk, v_p + b * lk * dv, dv, 0.0f, out0_p + b * lq * dv, dv);
    }};
    if (batch >= threads) {{
        #pragma omp parallel
        {{
            std::vector<float> scores(score_size);
            #pragma omp for schedule(static)
            for (long b = 0; b < batch; b++) one_entry(b, scores.data(), false);
        }}
    }} else {{
        // Few entries: one at a time, threads inside the GEMMs and the softmax.
        std::vector<float> scores(score_size);
        for (long b = 0; b < batch; b++) one_entry(b, scores.data(), true);
    }}
'''


def _attention_kernel(q, k, v, bias=None):
    inputs = [q, k, v] if bias is None else [q, k, v, bias]
    copy_bias = 'std::memcpy(s, in3_p + b * score_size, score_size * sizeof(float));' if bias is not None else ''
    src = _ATTENTION_SRC.format(copy_bias=copy_bias, beta='1.0f' if bias is not None else '0.0f')
    return jt.code((q.shape[0], q.shape[1], v.shape[2]), 'float32', inputs, cpu_header=_HEADER, cpu_src=src)


def attention(q, k, v, bias=None):
    """``softmax(q @ k^T + bias) @ v`` over the last two dims.

    q (..., Lq, d), k (..., Lk, d), v (..., Lk, dv) and bias (..., Lq, Lk),
    all with the same leading dims. Scale q (or k) beforehand if needed.
    """
    batch_shape = tuple(q.shape[:-2])
    if q.ndim < 2 or tuple(k.shape[:-2]) != batch_shape or tuple(v.shape[:-2]) != batch_shape:
        raise ValueError(f'attention: q, k, v need the same leading dims, got {tuple(q.shape)}, '
                         f'{tuple(k.shape)}, {tuple(v.shape)}')
    if k.shape[-1] != q.shape[-1] or v.shape[-2] != k.shape[-2]:
        raise ValueError(f'attention: q (..., Lq, d), k (..., Lk, d) and v (..., Lk, dv) do not fit: '
                         f'{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}')
    expected_bias = batch_shape + (q.shape[-2], k.shape[-2])
    if bias is not None and tuple(bias.shape) != expected_bias:
        raise ValueError(f'attention: bias must have shape {expected_bias}, got {tuple(bias.shape)}')
    operands = [q, k, v] if bias is None else [q, k, v, bias]
    if needs_grad(*operands) or not use_cpu_kernels(*operands, needs_onednn=True):
        return matmul(softmax(matmul(q, k, trans_b=True), bias=bias), v)
    out = _attention_kernel(*[t.reshape((-1,) + tuple(t.shape[-2:])) for t in operands])
    return out.reshape(batch_shape + tuple(out.shape[1:]))
