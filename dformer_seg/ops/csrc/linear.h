// Linear layer y = [residual +] [multiplier *] activation(x W^T [+ bias]) as one oneDNN matmul primitive: the
// bias, GELU, multiplier (per output channel or full size) and residual are applied as it stores each output
// block (post-ops), so none of them costs another pass over memory.
#pragma once
#include "onednn.h"

namespace dformer_seg {

// x (rows, in_features), weight (out_features, in_features); bias (out_features,), multiplier (out_features,)
// when per_channel else (rows, out_features), residual (rows, out_features): each may be null.
DFORMER_SEG_KERNEL void linear_forward(const float* x, const float* weight, const float* bias, bool gelu,
                                       const float* multiplier, bool per_channel, const float* residual, float* y,
                                       long rows, long in_features, long out_features) {
    using namespace dnnl;
    using tag = memory::format_tag;
    const auto f32 = memory::data_type::f32;
    const memory::desc x_md({rows, in_features}, f32, tag::ab);
    const memory::desc weight_md({in_features, out_features}, f32, tag::ba);  // (N, K) rows = columns of W^T
    const memory::desc out_md({rows, out_features}, f32, tag::ab);
    const memory::desc channel_md({1, out_features}, f32, tag::ab);
    const memory::desc& multiplier_md = per_channel ? channel_md : out_md;
    const int multiplier_kind = multiplier ? (per_channel ? 1 : 2) : 0;
    static PrimitiveCache<std::array<memory::dim, 7>, matmul> primitives;
    const std::array<memory::dim, 7> key{rows, in_features, out_features, bias != nullptr, gelu, multiplier_kind,
                                         residual != nullptr};
    matmul& product = primitives.get(key, [&] {
        post_ops epilogue;
        if (gelu) epilogue.append_eltwise(1.0f, algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
        if (multiplier) epilogue.append_binary(algorithm::binary_mul, multiplier_md);
        if (residual) epilogue.append_binary(algorithm::binary_add, out_md);
        primitive_attr attr;
        attr.set_post_ops(epilogue);
        const matmul::desc desc = bias ? matmul::desc(x_md, weight_md, channel_md, out_md)
                                       : matmul::desc(x_md, weight_md, out_md);
        return matmul(matmul::primitive_desc(desc, attr, cpu_engine()));
    });
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(x_md, cpu_engine(), (void*)x)},
                                         {DNNL_ARG_WEIGHTS, memory(weight_md, cpu_engine(), (void*)weight)},
                                         {DNNL_ARG_DST, memory(out_md, cpu_engine(), (void*)y)}};
    if (bias) args[DNNL_ARG_BIAS] = memory(channel_md, cpu_engine(), (void*)bias);
    int post_op = gelu ? 1 : 0;
    if (multiplier) args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(post_op++) | DNNL_ARG_SRC_1] = memory(multiplier_md, cpu_engine(), (void*)multiplier);
    if (residual) args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(post_op) | DNNL_ARG_SRC_1] = memory(out_md, cpu_engine(), (void*)residual);
    stream strm(cpu_engine());
    product.execute(strm, args);
    strm.wait();
}

// dx = dy W, dW = dy^T x, dbias = column sums of dy (per-thread partial sums).
DFORMER_SEG_KERNEL void linear_backward(const float* x, const float* weight, const float* dy, float* dx,
                                        float* dweight, float* dbias, long rows, int in_features, int out_features) {
    dnnl_sgemm('N', 'N', rows, in_features, out_features, 1.0f, dy, out_features, weight, in_features, 0.0f, dx,
               in_features);
    dnnl_sgemm('T', 'N', out_features, in_features, rows, 1.0f, dy, out_features, x, in_features, 0.0f, dweight,
               in_features);
    ThreadPartials sums(out_features);
    #pragma omp parallel
    {
        float* mine = sums.mine();
        #pragma omp for schedule(static)
        for (long r = 0; r < rows; r++) {
            const float* g = dy + r * out_features;
            #pragma omp simd
            for (int o = 0; o < out_features; o++) mine[o] += g[o];
        }
    }
    for (int o = 0; o < out_features; o++) dbias[o] = sums.total(o);
}

}  // namespace dformer_seg
