// Dense 2-D convolution (one group, no dilation) of channels-last maps with a cached oneDNN primitive that
// reads and writes NHWC memory directly; only the (small) weight is reordered into the primitive's
// layout on each call.
#pragma once
#include "onednn.h"

namespace dformer_seg {

struct PreparedConv {
    dnnl::convolution_forward conv;
    dnnl::reorder to_blocked;
    dnnl::memory::desc blocked_md;
};

// x (batch, in_h, in_w, in_ch), weight (out_ch, in_ch, kh, kw), bias (out_ch,) or null -> y (batch, out_h, out_w, out_ch).
DFORMER_SEG_KERNEL void conv_nhwc_forward(const float* x, const float* weight, const float* bias, float* y, long batch,
                                          long in_h, long in_w, long in_ch, long out_h, long out_w, long out_ch,
                                          long kh, long kw, long stride_h, long stride_w, long pad_h, long pad_w) {
    using namespace dnnl;
    using tag = memory::format_tag;
    const auto f32 = memory::data_type::f32;
    const memory::desc x_md({batch, in_ch, in_h, in_w}, f32, tag::nhwc);
    const memory::desc out_md({batch, out_ch, out_h, out_w}, f32, tag::nhwc);
    const memory::desc weight_md({out_ch, in_ch, kh, kw}, f32, tag::oihw);
    const memory::desc bias_md({out_ch}, f32, tag::x);
    static PrimitiveCache<std::array<memory::dim, 12>, PreparedConv> prepared;
    const std::array<memory::dim, 12> key{batch, in_h, in_w, in_ch, out_ch, kh, kw, stride_h, stride_w, pad_h, pad_w,
                                          bias != nullptr};
    PreparedConv& conv = prepared.get(key, [&] {
        const memory::desc any_weight_md({out_ch, in_ch, kh, kw}, f32, tag::any);
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

}  // namespace dformer_seg
