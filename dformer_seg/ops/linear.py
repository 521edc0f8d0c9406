"""Linear layer ``x W^T + b`` with optional GELU, scale (layer scale or gate) and residual, as one oneDNN matmul.

``nn.Linear`` on the CPU is a oneDNN GEMM followed by a separate bias add,
and that add (like every generic Jittor kernel on the CPU) runs on one core
and makes another pass over the output; so would a GELU or the layer-scaled
residual of a transformer block. Here a oneDNN matmul primitive applies all
of them while it stores each output block. The backward pass is two GEMMs
and a parallel column sum for the bias gradient.
"""
import jittor as jt
from jittor import nn

from .activation import gelu
from .dispatch import needs_grad, use_cpu_kernels

_HEADER = '#include <dnnl.h>\n#include <omp.h>\n#include <vector>\n'
_FORWARD_HEADER = '#include <array>\n#include <map>\n#include <unordered_map>\n#include <dnnl.hpp>\n'

# out0 (M, N) = [residual +] [scale *] activation(in0 x (M, K) @ in1 weight (N, K)^T [+ bias]).
# A oneDNN matmul primitive (blocked JIT kernels) with the bias, GELU, scale (per channel or full size) and
# residual applied as it stores each output block, so none of them costs a pass over memory. Building a
# primitive generates its kernels, so each one is kept for its shape (the static map lives as long as
# the compiled kernel).
_FORWARD_SRC = '''
    // fastop_linear
    using namespace dnnl;
    using tag = memory::format_tag;
    const memory::dim rows = in0_shape0, in_features = in0_shape1, out_features = in1_shape0;
    const auto f32 = memory::data_type::f32;
    const memory::desc x_md({{rows, in_features}}, f32, tag::ab);
    const memory::desc weight_md({{in_features, out_features}}, f32, tag::ba);  // (N, K) rows = columns of W^T
    const memory::desc out_md({{rows, out_features}}, f32, tag::ab);
    const memory::desc channel_md({{1, out_features}}, f32, tag::ab);
    static const engine cpu(engine::kind::cpu, 0);
    static std::map<std::array<memory::dim, 3>, matmul> primitives;
    const std::array<memory::dim, 3> shape{{rows, in_features, out_features}};
    auto found = primitives.find(shape);
    if (found == primitives.end()) {{
        if (primitives.size() >= 64) primitives.clear();  // e.g. many input sizes: keep the map small
        post_ops epilogue;
        {post_ops}
        primitive_attr attr;
        attr.set_post_ops(epilogue);
        const matmul::desc desc({desc_args});
        found = primitives.emplace(shape, matmul(matmul::primitive_desc(desc, attr, cpu))).first;
    }}
    std::unordered_map<int, memory> args{{
        {{DNNL_ARG_SRC, memory(x_md, cpu, (void*)in0_p)}},
        {{DNNL_ARG_WEIGHTS, memory(weight_md, cpu, (void*)in1_p)}},
        {{DNNL_ARG_DST, memory(out_md, cpu, (void*)out0_p)}}}};
    {extra_args}
    stream strm(cpu);
    found->second.execute(strm, args);
    strm.wait();
'''


def _forward_source(with_bias, activation, scale_kind, with_residual):
    """The kernel source for one combination of epilogue terms (inputs: x, weight, then the given ones).

    ``scale_kind``: None, 'channel' (a (N,) vector) or 'full' (a tensor of the output's shape).
    """
    post_ops, extra_args = [], []
    next_input = 2
    if with_bias:
        extra_args.append(f'args[DNNL_ARG_BIAS] = memory(channel_md, cpu, (void*)in{next_input}_p);')
        next_input += 1
    if activation == 'gelu':
        post_ops.append('epilogue.append_eltwise(1.0f, algorithm::eltwise_gelu_erf, 0.0f, 0.0f);')
    scale_md = 'channel_md' if scale_kind == 'channel' else 'out_md'
    for present, algorithm, md in ((scale_kind is not None, 'binary_mul', scale_md),
                                   (with_residual, 'binary_add', 'out_md')):
        if present:
            extra_args.append(f'args[DNNL_ARG_ATTR_MULTIPLE_POST_OP({len(post_ops)}) | DNNL_ARG_SRC_1] = '
                              f'memory({md}, cpu, (void*)in{next_input}_p);')
            post_ops.append(f'epilogue.append_binary(algorithm::{algorithm}, {md});')
            next_input += 1
    desc_args = 'x_md, weight_md, channel_md, out_md' if with_bias else 'x_md, weight_md, out_md'
    return _FORWARD_SRC.format(post_ops='\n        '.join(post_ops), desc_args=desc_args,
                               extra_args='\n    '.join(extra_args))


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


def _linear_kernel(x, weight, bias=None, activation=None, scale=None, residual=None):
    extras = [t for t in (bias, scale, residual) if t is not None]
    scale_kind = None if scale is None else 'channel' if scale.ndim == 1 else 'full'
    src = _forward_source(bias is not None, activation, scale_kind, residual is not None)
    return jt.code((x.shape[0], weight.shape[0]), 'float32', [x, weight] + extras,
                   cpu_header=_FORWARD_HEADER, cpu_src=src)


class _Linear(jt.Function):
    def execute(self, x, weight, bias=None):
        self.saved = x, weight, bias is not None
        return _linear_kernel(x, weight, bias)

    def grad(self, grad_y):
        x, weight, with_bias = self.saved
        grad_x, grad_w, grad_b = jt.code([x.shape, weight.shape, (weight.shape[0],)], ['float32'] * 3,
                                         [x, weight, grad_y], cpu_header=_HEADER, cpu_src=_BACKWARD_SRC)
        return (grad_x, grad_w, grad_b) if with_bias else (grad_x, grad_w)


def _broadcasts_to(shape, target):
    return len(shape) <= len(target) and all(s in (1, t) for s, t in zip(shape[::-1], target[::-1]))


def _check_arguments(x, weight, bias, activation, scale, residual):
    if weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f'linear: x (..., {x.shape[-1]}) does not fit weight {tuple(weight.shape)} '
                         '(out_features, in_features)')
    out_features = weight.shape[0]
    if bias is not None and tuple(bias.shape) != (out_features,):
        raise ValueError(f'linear: bias must be ({out_features},), got {tuple(bias.shape)}')
    if activation not in (None, 'gelu'):
        raise ValueError(f'linear: activation must be None or "gelu", got {activation!r}')
    out_shape = tuple(x.shape[:-1]) + (out_features,)
    if scale is not None and not _broadcasts_to(tuple(scale.shape), out_shape):
        raise ValueError(f'linear: scale {tuple(scale.shape)} does not broadcast to the output shape {out_shape}')
    if residual is not None and tuple(residual.shape) != out_shape:
        raise ValueError(f'linear: residual must have the output shape {out_shape}, got {tuple(residual.shape)}')
    return out_shape


def linear(x, weight, bias=None, activation=None, scale=None, residual=None):
    """``residual + scale * activation(x @ weight^T + bias)`` over the last axis of ``x`` (..., in_features).

    ``activation`` is None or 'gelu'; ``scale`` (anything that broadcasts to the
    output: a layer scale (out_features,), a gate of the output's shape, ...)
    and ``residual`` (the output's shape) are optional. Without gradients they
    run inside the GEMM kernel (unless the scale has yet another shape); with
    gradients they are applied after it (:func:`ops.gelu`, Jittor's
    elementwise ops).
    """
    out_shape = _check_arguments(x, weight, bias, activation, scale, residual)
    operands = [t for t in (x, weight, bias, scale, residual) if t is not None]
    use_kernels = use_cpu_kernels(*operands, needs_onednn=True) and x.numel() > 0
    flat_x = x.reshape((-1, x.shape[-1]))
    fusable_scale = scale is None or tuple(scale.shape) in ((out_shape[-1],), out_shape)
    if use_kernels and fusable_scale and not needs_grad(*operands):
        def as_rows(t):  # full-shape terms as (rows, out_features); a (out_features,) scale stays
            return t if t is None or t.ndim == 1 else t.reshape(flat_x.shape[0], out_shape[-1])
        return _linear_kernel(flat_x, weight, bias, activation, as_rows(scale), as_rows(residual)).reshape(out_shape)
    if use_kernels:
        y = _Linear()(flat_x, weight, *([] if bias is None else [bias])).reshape(out_shape)
        y = gelu(y) if activation == 'gelu' else y
    else:
        y = nn.linear(x, weight, bias)
        y = nn.gelu(y) if activation == 'gelu' else y
    if scale is not None:
        y = scale * y
    return y if residual is None else residual + y


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and state-dict keys) computed by :func:`linear`.

    ``activation='gelu'`` makes the module compute ``GELU(linear(x))``.
    """

    def __init__(self, in_features, out_features, bias=True, activation=None):
        super().__init__(in_features, out_features, bias)
        self.activation = activation

    def execute(self, x, scale=None, residual=None):
        """``residual + scale * activation(linear(x))``; ``scale`` and ``residual`` are optional."""
        return linear(x, self.weight, self.bias, self.activation, scale, residual)
