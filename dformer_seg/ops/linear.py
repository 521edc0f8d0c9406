"""Linear layer ``x W^T + b`` as one oneDNN GEMM with the bias folded in.

``nn.Linear`` on the CPU is a oneDNN GEMM followed by a separate bias add,
and that add (like every generic Jittor kernel on the CPU) runs on one core.
Here the output is first filled with the bias (in parallel) and the GEMM
accumulates into it; the backward pass is two GEMMs and a parallel column
sum for the bias gradient.
"""
import jittor as jt
from jittor import nn

from .dispatch import use_cpu_kernels

_HEADER = '#include <dnnl.h>\n#include <omp.h>\n#include <vector>\n'

# in0 x (M, K), in1 weight (N, K) [, in2 bias (N,)] -> out0 (M, N)
_FORWARD_SRC = '''
    // fastop_linear
    const long rows = in0_shape0;
    const int in_features = in0_shape1, out_features = in1_shape0;
    {fill_bias}
    dnnl_sgemm('N', 'T', rows, out_features, in_features, 1.0f, in0_p, in_features, in1_p, in_features,
               {beta}, out0_p, out_features);
'''
_FILL_BIAS = '''#pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++)
        for (int o = 0; o < out_features; o++) out0_p[r * out_features + o] = in2_p[o];'''

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


class _Linear(jt.Function):
    def execute(self, x, weight, bias=None):
        self.saved = x, weight, bias is not None
        inputs = [x, weight] if bias is None else [x, weight, bias]
        src = _FORWARD_SRC.format(fill_bias='' if bias is None else _FILL_BIAS,
                                  beta='0.0f' if bias is None else '1.0f')
        return jt.code((x.shape[0], weight.shape[0]), 'float32', inputs, cpu_header=_HEADER, cpu_src=src)

    def grad(self, grad_y):
        x, weight, with_bias = self.saved
        grad_x, grad_w, grad_b = jt.code([x.shape, weight.shape, (weight.shape[0],)], ['float32'] * 3,
                                         [x, weight, grad_y], cpu_header=_HEADER, cpu_src=_BACKWARD_SRC)
        return (grad_x, grad_w, grad_b) if with_bias else (grad_x, grad_w)


def linear(x, weight, bias=None):
    """``x @ weight^T + bias`` over the last axis of ``x`` (..., in_features)."""
    if weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f'linear: x (..., {x.shape[-1]}) does not fit weight {tuple(weight.shape)} '
                         '(out_features, in_features)')
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f'linear: bias must be ({weight.shape[0]},), got {tuple(bias.shape)}')
    operands = [x, weight] if bias is None else [x, weight, bias]
    if not use_cpu_kernels(*operands, needs_onednn=True) or x.numel() == 0:
        return nn.linear(x, weight, bias)
    flat = _Linear()(x.reshape((-1, x.shape[-1])), *operands[1:])
    return flat.reshape(tuple(x.shape[:-1]) + (weight.shape[0],))


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and state-dict keys) computed by :func:`linear`."""

    def execute(self, x):
        return linear(x, self.weight, self.bias)
