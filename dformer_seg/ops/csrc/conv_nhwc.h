// Dense 2-D convolution (one group, no dilation) of channels-last maps with a cached oneDNN primitive that
// reads and writes NHWC memory directly; only the (small) weight is reordered into the primitive's
// layout on each call. Float32, or bf16 inputs with float32 accumulation and output for inference.
#pragma once
#include "bf16.h"
#include "onednn.h"

namespace dformer_seg {

struct PreparedConv {
    dnnl::convolution_forward conv;
    dnnl::reorder to_blocked;
    dnnl::memory::desc blocked_md;
};

// The convolution of conv_nhwc_forward for x and weight of type `source` (f32, or bf16 with float32
// accumulation); the bias and y are float32.
static inline void conv_nhwc(dnnl::memory::data_type source, const void* x, const void* weight, const float* bias,
                             float* y, long batch, long in_h, long in_w, long in_ch, long out_h, long out_w,
                             long out_ch, long kh, long kw, long stride_h, long stride_w, long pad_h, long pad_w) {
    using namespace dnnl;
    using tag = memory::format_tag;
    const auto f32 = memory::data_type::f32;
    const memory::desc x_md({batch, in_ch, in_h, in_w}, source, tag::nhwc);
    const memory::desc out_md({batch, out_ch, out_h, out_w}, f32, tag::nhwc);
    const memory::desc weight_md({out_ch, in_ch, kh, kw}, source, tag::oihw);
    const memory::desc bias_md({out_ch}, f32, tag::x);
    static PrimitiveCache<std::array<memory::dim, 13>, PreparedConv> prepared;
    const std::array<memory::dim, 13> key{batch, in_h, in_w, in_ch, out_ch, kh, kw, stride_h, stride_w, pad_h, pad_w,
                                          bias != nullptr, (memory::dim)source};
    PreparedConv& conv = prepared.get(key, [&] {
        const memory::desc any_weight_md({out_ch, in_ch, kh, kw}, source, tag::any);
        const auto desc = bias ? convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct,
                                                           x_md, any_weight_md, bias_md, out_md, {stride_h, stride_w},
                                                           {pad_h, pad_w}, {pad_h, pad_w})
                               : convolution_forward::desc(prop_kind::forward_inference, algorithm::convolution_direct,
                                                           x_md, any_weight_md, out_md, {stride_h, stride_w},
                                                           {pad_h, pad_w}, {pad_h, pad_w});
        const convolution_forward::primitive_desc pd(desc, cpu_engine());
        const reorder::primitive_desc reorder_pd(cpu_engine(), weight_md, cpu_engine(), pd.weights_desc());
        return PreparedConv{convolution_forward(pd), reorder(reorder_pd), pd.weights_desc()};
    });
    stream strm(cpu_engine());
    memory plain_weight(weight_md, cpu_engine(), (void*)weight);
    memory blocked(conv.blocked_md, cpu_engine());
    conv.to_blocked.execute(strm, plain_weight, blocked);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(x_md, cpu_engine(), (void*)x)},
                                         {DNNL_ARG_WEIGHTS, blocked},
                                         {DNNL_ARG_DST, memory(out_md, cpu_engine(), (void*)y)}};
    if (bias) args[DNNL_ARG_BIAS] = memory(bias_md, cpu_engine(), (void*)bias);
    conv.conv.execute(strm, args);
    strm.wait();
}

// x (batch, in_h, in_w, in_ch), weight (out_ch, in_ch, kh, kw), bias (out_ch,) or null -> y (batch, out_h, out_w, out_ch).
DFORMER_SEG_KERNEL void conv_nhwc_forward(const float* x, const float* weight, const float* bias, float* y, long batch,
                                          long in_h, long in_w, long in_ch, long out_h, long out_w, long out_ch,
                                          long kh, long kw, long stride_h, long stride_w, long pad_h, long pad_w) {
    conv_nhwc(dnnl::memory::data_type::f32, x, weight, bias, y, batch, in_h, in_w, in_ch, out_h, out_w, out_ch, kh,
              kw, stride_h, stride_w, pad_h, pad_w);
}

// conv_nhwc_forward in bf16 (inference): x is converted on the fly, weight holds the bf16 bits of the filter
// (out_ch, in_ch, kh, kw); float32 accumulation, bias and y.
DFORMER_SEG_KERNEL void conv_nhwc_forward_bf16(const float* x, const uint16_t* weight, const float* bias, float* y,
                                               long batch, long in_h, long in_w, long in_ch, long out_h, long out_w,
                                               long out_ch, long kh, long kw, long stride_h, long stride_w, long pad_h,
                                               long pad_w) {
    static Bf16Scratch scratch;
    uint16_t* x_bf16 = scratch.get((size_t)batch * in_h * in_w * in_ch);
    convert_to_bf16(x, x_bf16, batch * in_h * in_w * in_ch);
    conv_nhwc(dnnl::memory::data_type::bf16, x_bf16, weight, bias, y, batch, in_h, in_w, in_ch, out_h, out_w, out_ch,
              kh, kw, stride_h, stride_w, pad_h, pad_w);
}

}  // namespace dformer_seg
