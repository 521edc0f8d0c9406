// 1x1 convolution of NCHW maps as one GEMM per image: y_n = W x_n with x_n the (C_in, H*W) view of image n.
#pragma once
#include "bf16.h"
#include "onednn.h"

namespace dformer_seg {

static inline void add_row_bias(float* out, const float* bias, int out_ch, long pixels) {
    #pragma omp parallel for schedule(static)
    for (int o = 0; o < out_ch; o++)
        for (long p = 0; p < pixels; p++) out[o * pixels + p] += bias[o];
}

// x (batch, in_ch, pixels), weight (out_ch, in_ch), bias (out_ch,) or null -> y (batch, out_ch, pixels).
DFORMER_SEG_KERNEL void pointwise_conv_forward(const float* x, const float* weight, const float* bias, float* y,
                                               int batch, int in_ch, int out_ch, long pixels) {
    for (int n = 0; n < batch; n++) {
        float* out = y + (long)n * out_ch * pixels;
        dnnl_sgemm('N', 'N', out_ch, pixels, in_ch, 1.0f, weight, in_ch, x + (long)n * in_ch * pixels, pixels, 0.0f,
                   out, pixels);
        if (bias) add_row_bias(out, bias, out_ch, pixels);
    }
}

// pointwise_conv_forward in bf16 (inference): weight holds the bf16 bits of W (out_ch, in_ch); each image is
// converted on the fly and multiplied by a oneDNN bf16 matmul (float32 accumulation and result).
DFORMER_SEG_KERNEL void pointwise_conv_forward_bf16(const float* x, const uint16_t* weight, const float* bias,
                                                    float* y, int batch, int in_ch, int out_ch, long pixels) {
    using namespace dnnl;
    using tag = memory::format_tag;
    const auto bf16 = memory::data_type::bf16;
    const memory::desc weight_md({out_ch, in_ch}, bf16, tag::ab);
    const memory::desc image_md({in_ch, pixels}, bf16, tag::ab);
    const memory::desc out_md({out_ch, pixels}, memory::data_type::f32, tag::ab);
    static PrimitiveCache<std::array<memory::dim, 3>, matmul> primitives;
    matmul& product = primitives.get({out_ch, in_ch, pixels}, [&] {
        return matmul(matmul::primitive_desc(matmul::desc(weight_md, image_md, out_md), cpu_engine()));
    });
    static Bf16Scratch scratch;
    uint16_t* image = scratch.get((size_t)in_ch * pixels);
    stream strm(cpu_engine());
    for (int n = 0; n < batch; n++) {
        float* out = y + (long)n * out_ch * pixels;
        convert_to_bf16(x + (long)n * in_ch * pixels, image, (long)in_ch * pixels);
        product.execute(strm, {{DNNL_ARG_SRC, memory(weight_md, cpu_engine(), (void*)weight)},
                               {DNNL_ARG_WEIGHTS, memory(image_md, cpu_engine(), image)},
                               {DNNL_ARG_DST, memory(out_md, cpu_engine(), out)}});
        strm.wait();
        if (bias) add_row_bias(out, bias, out_ch, pixels);
    }
}

// dx_n = W^T dy_n; dW = sum_n dy_n x_n^T; dbias = sum of dy over images and pixels.
DFORMER_SEG_KERNEL void pointwise_conv_backward(const float* x, const float* weight, const float* dy, float* dx,
                                                float* dweight, float* dbias, int batch, int in_ch, int out_ch,
                                                long pixels) {
    for (int n = 0; n < batch; n++) {
        const float* g = dy + (long)n * out_ch * pixels;
        dnnl_sgemm('T', 'N', in_ch, pixels, out_ch, 1.0f, weight, in_ch, g, pixels, 0.0f,
                   dx + (long)n * in_ch * pixels, pixels);
        dnnl_sgemm('N', 'T', out_ch, in_ch, pixels, 1.0f, g, pixels, x + (long)n * in_ch * pixels, pixels,
                   n == 0 ? 0.0f : 1.0f, dweight, in_ch);
    }
    #pragma omp parallel for schedule(static)
    for (int o = 0; o < out_ch; o++) {
        float total = 0.0f;
        for (int n = 0; n < batch; n++) {
            const float* g = dy + ((long)n * out_ch + o) * pixels;
            for (long p = 0; p < pixels; p++) total += g[p];
        }
        dbias[o] = total;
    }
}

}  // namespace dformer_seg
