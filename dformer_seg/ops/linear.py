"""Linear layer ``x W^T + b`` (optionally followed by GELU) as oneDNN GEMMs over cache-sized row blocks.

``nn.Linear`` on the CPU is a oneDNN GEMM followed by a separate bias add,
and that add (like every generic Jittor kernel on the CPU) runs on one core
and makes another pass over the output. Here the rows are cut into blocks
whose output fits in cache; a thread runs a block's GEMM and adds the bias
(and applies the GELU) while the block is still in cache. The backward pass
is two GEMMs and a parallel column sum for the bias gradient.
"""
import jittor as jt
from jittor import nn

from .activation import gelu
from .dispatch import needs_grad, use_cpu_kernels

_HEADER = '#include <dnnl.h>\n#include <omp.h>\n#include <vector>\n#include <algorithm>\n#include <cmath>\n'

# in0 x (M, K), in1 weight (N, K) [, in2 bias (N,)] -> out0 (M, N), then the optional activation.
# Row blocks small enough for the output block to stay in cache: each thread runs the GEMM of a block
# and adds the bias (and applies the activation) while the block is still in cache, so neither costs a
# pass over memory. Large weights or too few blocks for the threads: one multi-threaded GEMM over
# everything, then the bias / activation pass split over the threads.
_FORWARD_SRC = '''
    // fastop_linear
    const long rows = in0_shape0;
    const int in_features = in0_shape1, out_features = in1_shape0;
    const long block = std::max(16L, 65536L / out_features);
    const long blocks = (rows + block - 1) / block;
    auto epilogue = [&](long r) {{ {epilogue} }};
    auto gemm = [&](long first, long count) {{
        dnnl_sgemm('N', 'T', count, out_features, in_features, 1.0f, in0_p + first * in_features, in_features,
                   in1_p, in_features, 0.0f, out0_p + first * out_features, out_features);
    }};
    // Every block's GEMM packs the whole weight again: only worth it while the weight is small.
    const bool small_weight = (long)out_features * in_features <= 131072L;
    if (small_weight && blocks >= 2 * omp_get_max_threads()) {{
        #pragma omp parallel for schedule(dynamic)
        for (long b = 0; b < blocks; b++) {{
            const long first = b * block, count = std::min(block, rows - first);
            gemm(first, count);
            for (long r = first; r < first + count; r++) epilogue(r);
        }}
    }} else {{
        gemm(0, rows);
        #pragma omp parallel for schedule(static)
        for (long r = 0; r < rows; r++) epilogue(r);
    }}
'''
# Epilogues, applied to each output row right after its block's GEMM (while the block is in cache).
_EPILOGUES = {
    (False, None): '',
    (True, None): '''float* out = out0_p + r * out_features;
        #pragma omp simd
        for (int o = 0; o < out_features; o++) out[o] += in2_p[o];''',
    (False, 'gelu'): '''float* out = out0_p + r * out_features;
        #pragma omp simd
        for (int o = 0; o < out_features; o++) out[o] = (erff(out[o] * 0.70710678118654752f) + 1.0f) * out[o] * 0.5f;''',
    (True, 'gelu'): '''float* out = out0_p + r * out_features;
        #pragma omp simd
        for (int o = 0; o < out_features; o++) {
            const float v = out[o] + in2_p[o];
            out[o] = (erff(v * 0.70710678118654752f) + 1.0f) * v * 0.5f;
        }''',
}

# in0 x (M, K), in1 weight (N, K), in2 dy (M, N) -> out0 dx (M, K), out1 dweight (N, K), out2 dbias (N,)
_BACKWARD_SRC = '''
    // fastop_linear_grad
    const long rows = in0_shape0;
    const int in_features = in0_shape1, out_features = in1_shape0;
    dnnl_sgemm('N', 'N', rows, in_features, out_features, 1.0f, in2_p, out_features, in1_p, in_features,
               0.0f, out0_p, in_features);
    dnnl_sgemm('T', 'N', out_features, in_features, rows, 1.0f, in2_p, out_features, in0_p, in_features,
               0.0f, out1_p, in_features);
    const int threads = omp_get_max_threads();
    std::vector<float> partial((size_t)threads * out_features, 0.0f);
    #pragma omp parallel
    {
        float* sums = partial.data() + (size_t)omp_get_thread_num() * out_features;
        #pragma omp for schedule(static)
        for (long r = 0; r < rows; r++) {
            const float* g = in2_p + r * out_features;
            #pragma omp simd
            for (int o = 0; o < out_features; o++) sums[o] += g[o];
        }
    }
    for (int o = 0; o < out_features; o++) {
        float total = 0.0f;
        for (int t = 0; t < threads; t++) total += partial[(size_t)t * out_features + o];
        out2_p[o] = total;
    }
'''


def _linear_kernel(x, weight, bias, activation=None):
    inputs = [x, weight] if bias is None else [x, weight, bias]
    src = _FORWARD_SRC.format(epilogue=_EPILOGUES[bias is not None, activation])
    return jt.code((x.shape[0], weight.shape[0]), 'float32', inputs, cpu_header=_HEADER, cpu_src=src)


class _Linear(jt.Function):
    def execute(self, x, weight, bias=None):
        self.saved = x, weight, bias is not None
        return _linear_kernel(x, weight, bias)

    def grad(self, grad_y):
        x, weight, with_bias = self.saved
        grad_x, grad_w, grad_b = jt.code([x.shape, weight.shape, (weight.shape[0],)], ['float32'] * 3,
                                         [x, weight, grad_y], cpu_header=_HEADER, cpu_src=_BACKWARD_SRC)
        return (grad_x, grad_w, grad_b) if with_bias else (grad_x, grad_w)


def linear(x, weight, bias=None, activation=None):
    """``activation(x @ weight^T + bias)`` over the last axis of ``x`` (..., in_features).

    ``activation`` is None or 'gelu'; without gradients the GELU runs inside
    the kernel, with gradients as :func:`ops.gelu` after it.
    """
    if weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f'linear: x (..., {x.shape[-1]}) does not fit weight {tuple(weight.shape)} '
                         '(out_features, in_features)')
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f'linear: bias must be ({weight.shape[0]},), got {tuple(bias.shape)}')
    if activation not in (None, 'gelu'):
        raise ValueError(f'linear: activation must be None or "gelu", got {activation!r}')
    operands = [x, weight] if bias is None else [x, weight, bias]
    if not use_cpu_kernels(*operands, needs_onednn=True) or x.numel() == 0:
        y = nn.linear(x, weight, bias)
        return nn.gelu(y) if activation == 'gelu' else y
    flat_x = x.reshape((-1, x.shape[-1]))
    out_shape = tuple(x.shape[:-1]) + (weight.shape[0],)
    if activation is not None and not needs_grad(*operands):
        return _linear_kernel(flat_x, weight, bias, activation).reshape(out_shape)
    y = _Linear()(flat_x, *operands[1:]).reshape(out_shape)
    return gelu(y) if activation == 'gelu' else y


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and state-dict keys) computed by :func:`linear`.

    ``activation='gelu'`` makes the module compute ``GELU(linear(x))``.
    """

    def __init__(self, in_features, out_features, bias=True, activation=None):
        super().__init__(in_features, out_features, bias)
        self.activation = activation

    def execute(self, x):
        return linear(x, self.weight, self.bias, self.activation)
