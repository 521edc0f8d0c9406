// Linear layer y = [residual +] [multiplier *] activation(x W^T [+ bias]) as one oneDNN matmul primitive: the
// bias, GELU, multiplier (per output channel or full size) and residual are applied as it stores each output
// block (post-ops), so none of them costs another pass over memory.
#pragma once
#include "bf16.h"
#include "gelu.h"
#include "onednn.h"

namespace dformer_seg {

// The matmul of linear_forward for x and weight of type `source` (f32, or bf16 with float32 accumulation); the
// bias, post-op operands and y are float32.
static inline void linear_matmul(dnnl::memory::data_type source, const void* x, const void* weight, const float* bias,
                                 bool gelu, const float* multiplier, bool per_channel, const float* residual, float* y,
                                 long rows, long in_features, long out_features) {
    using namespace dnnl;
    using tag = memory::format_tag;
    const auto f32 = memory::data_type::f32;
    const memory::desc x_md({rows, in_features}, source, tag::ab);
    const memory::desc weight_md({in_features, out_features}, source, tag::ba);  // (N, K) rows = columns of W^T
    const memory::desc out_md({rows, out_features}, f32, tag::ab);
    const memory::desc channel_md({1, out_features}, f32, tag::ab);
    const memory::desc& multiplier_md = per_channel ? channel_md : out_md;
    const int multiplier_kind = multiplier ? (per_channel ? 1 : 2) : 0;
    static PrimitiveCache<std::array<memory::dim, 8>, matmul> primitives;
    const std::array<memory::dim, 8> key{rows, in_features, out_features, bias != nullptr, gelu, multiplier_kind,
                                         residual != nullptr, (memory::dim)source};
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

// x (rows, in_features), weight (out_features, in_features); bias (out_features,), multiplier (out_features,)
// when per_channel else (rows, out_features), residual (rows, out_features): each may be null.
DFORMER_SEG_KERNEL void linear_forward(const float* x, const float* weight, const float* bias, bool gelu,
                                       const float* multiplier, bool per_channel, const float* residual, float* y,
                                       long rows, long in_features, long out_features) {
    linear_matmul(dnnl::memory::data_type::f32, x, weight, bias, gelu, multiplier, per_channel, residual, y, rows,
                  in_features, out_features);
}

// linear_forward in bf16 (inference): x is converted on the fly, weight holds the bf16 bits of W (out_features,
// in_features); products are accumulated in float32 and the epilogue and y stay float32.
DFORMER_SEG_KERNEL void linear_forward_bf16(const float* x, const uint16_t* weight, const float* bias, bool gelu,
                                            const float* multiplier, bool per_channel, const float* residual,
                                            float* y, long rows, long in_features, long out_features) {
    static Bf16Scratch scratch;
    uint16_t* x_bf16 = scratch.get((size_t)rows * in_features);
    convert_to_bf16(x, x_bf16, rows * in_features);
    linear_matmul(dnnl::memory::data_type::bf16, x_bf16, weight, bias, gelu, multiplier, per_channel, residual, y,
                  rows, in_features, out_features);
}

// dx = dy W and dW = dy^T x (two GEMMs).
static inline void linear_gemm_backward(const float* x, const float* weight, const float* dy, float* dx,
                                        float* dweight, long rows, int in_features, int out_features) {
    dnnl_sgemm('N', 'N', rows, in_features, out_features, 1.0f, dy, out_features, weight, in_features, 0.0f, dx,
               in_features);
    dnnl_sgemm('T', 'N', out_features, in_features, rows, 1.0f, dy, out_features, x, in_features, 0.0f, dweight,
               in_features);
}

// dx = dy W, dW = dy^T x, dbias = column sums of dy (per-thread partial sums).
DFORMER_SEG_KERNEL void linear_backward(const float* x, const float* weight, const float* dy, float* dx,
                                        float* dweight, float* dbias, long rows, int in_features, int out_features) {
    linear_gemm_backward(x, weight, dy, dx, dweight, rows, in_features, out_features);
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

// ---- Training form, for a GELU and / or a multiplier: the epilogue y = [residual +] [multiplier *] gelu?(pre),
// pre = x W^T [+ bias], as one parallel pass after the GEMM (pre is kept for the backward pass), and its backward
// as one pass before the two GEMMs. (Without either, the forward is linear_forward with the residual as a post-op
// and the backward linear_backward.) The multiplier is a (groups, out_features) table over consecutive blocks of
// rows: one block for a per-channel layer scale, one per sample for a stochastic-depth scale, one per row for a gate.

template <bool kGelu, bool kMultiplier, bool kResidual>
static void linear_epilogue_rows(const float* pre, const float* multiplier, long rows_per_group,
                                 const float* residual, float* y, long rows, long out_features) {
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float* p = pre + r * out_features;
        const float* m = kMultiplier ? multiplier + (r / rows_per_group) * out_features : nullptr;
        const float* res = kResidual ? residual + r * out_features : nullptr;
        float* out = y + r * out_features;
        #pragma omp simd
        for (long o = 0; o < out_features; o++) {
            float v = kGelu ? gelu_value(p[o]) : p[o];
            if (kMultiplier) v *= m[o];
            if (kResidual) v += res[o];
            out[o] = v;
        }
    }
}

template <bool kGelu, bool kMultiplier>
static void linear_epilogue_forward(const float* pre, const float* multiplier, long rows_per_group,
                                    const float* residual, float* y, long rows, long out_features) {
    if (residual) linear_epilogue_rows<kGelu, kMultiplier, true>(pre, multiplier, rows_per_group, residual, y, rows,
                                                                 out_features);
    else linear_epilogue_rows<kGelu, kMultiplier, false>(pre, multiplier, rows_per_group, residual, y, rows,
                                                         out_features);
}

// x (rows, in_features), weight (out_features, in_features), bias (out_features,) or null, multiplier
// (groups, out_features) or null, residual (rows, out_features) or null -> y and pre (rows, out_features).
// At least one of gelu and multiplier.
DFORMER_SEG_KERNEL void linear_train_forward(const float* x, const float* weight, const float* bias, bool gelu,
                                             const float* multiplier, long groups, const float* residual, float* y,
                                             float* pre, long rows, long in_features, long out_features) {
    linear_forward(x, weight, bias, false, nullptr, false, nullptr, pre, rows, in_features, out_features);
    const long rows_per_group = multiplier ? rows / groups : rows;
    if (gelu && multiplier)
        linear_epilogue_forward<true, true>(pre, multiplier, rows_per_group, residual, y, rows, out_features);
    else if (gelu)
        linear_epilogue_forward<true, false>(pre, multiplier, rows_per_group, residual, y, rows, out_features);
    else
        linear_epilogue_forward<false, true>(pre, multiplier, rows_per_group, residual, y, rows, out_features);
}

// dpre = dy * multiplier * GELU'(pre); dbias = column sums of dpre; dmultiplier = sums of dy * activation(pre)
// over each group's rows (written directly when every row is its own group).
template <bool kGelu, bool kMultiplier>
static void linear_epilogue_backward(const float* dy, const float* pre, const float* multiplier, long groups,
                                     float* dpre, float* dbias, float* dmultiplier, long rows, long out_features) {
    const long rows_per_group = kMultiplier ? rows / groups : rows;
    const bool per_row = kMultiplier && groups == rows;
    ThreadPartials bias_sums(out_features);
    ThreadPartials multiplier_sums(kMultiplier && !per_row ? groups * out_features : 0);
    #pragma omp parallel
    {
        float* bias_mine = bias_sums.mine();
        float* multiplier_mine = kMultiplier && !per_row ? multiplier_sums.mine() : nullptr;
        #pragma omp for schedule(static)
        for (long r = 0; r < rows; r++) {
            const long offset = r * out_features;
            const long group_offset = (r / rows_per_group) * out_features;
            const float* m = kMultiplier ? multiplier + group_offset : nullptr;
            float* dm = kMultiplier ? (per_row ? dmultiplier + offset : multiplier_mine + group_offset) : nullptr;
            #pragma omp simd
            for (long o = 0; o < out_features; o++) {
                const float p = pre[offset + o];
                float value = p, slope = 1.0f;
                if (kGelu) slope = gelu_and_derivative(p, &value);
                const float g = dy[offset + o];
                if (kMultiplier) {
                    if (per_row) dm[o] = g * value; else dm[o] += g * value;
                }
                const float d = (kMultiplier ? g * m[o] : g) * slope;
                dpre[offset + o] = d;
                bias_mine[o] += d;
            }
        }
    }
    if (dbias)
        for (long o = 0; o < out_features; o++) dbias[o] = bias_sums.total(o);
    if (kMultiplier && !per_row)
        for (long i = 0; i < groups * out_features; i++) dmultiplier[i] = multiplier_sums.total(i);
}

// Gradients of linear_train_forward: dx, dweight, dbias (may be null), dmultiplier (null without a multiplier);
// dpre (rows, out_features) is scratch memory. The residual's gradient is dy itself.
DFORMER_SEG_KERNEL void linear_train_backward(const float* x, const float* weight, const float* dy, const float* pre,
                                              bool gelu, const float* multiplier, long groups, float* dx,
                                              float* dweight, float* dbias, float* dmultiplier, float* dpre,
                                              long rows, int in_features, int out_features) {
    if (gelu && multiplier)
        linear_epilogue_backward<true, true>(dy, pre, multiplier, groups, dpre, dbias, dmultiplier, rows,
                                             out_features);
    else if (gelu)
        linear_epilogue_backward<true, false>(dy, pre, multiplier, groups, dpre, dbias, dmultiplier, rows,
                                              out_features);
    else
        linear_epilogue_backward<false, true>(dy, pre, multiplier, groups, dpre, dbias, dmultiplier, rows,
                                              out_features);
    linear_gemm_backward(x, weight, dpre, dx, dweight, rows, in_features, out_features);
}

}  // namespace dformer_seg
