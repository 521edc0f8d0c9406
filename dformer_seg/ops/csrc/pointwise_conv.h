// 1x1 convolution of NCHW maps as one GEMM per image: y_n = W x_n with x_n the (C_in, H*W) view of image n.
#pragma once
#include "onednn.h"

namespace dformer_seg {

// x (batch, in_ch, pixels), weight (out_ch, in_ch), bias (out_ch,) or null -> y (batch, out_ch, pixels).
DFORMER_SEG_KERNEL void pointwise_conv_forward(const float* x, const float* weight, const float* bias, float* y,
                                               int batch, int in_ch, int out_ch, long pixels) {
    for (int n = 0; n < batch; n++) {
        float* out = y + (long)n * out_ch * pixels;
        dnnl_sgemm('N', 'N', out_ch, pixels, in_ch, 1.0f, weight, in_ch, x + (long)n * in_ch * pixels, pixels, 0.0f,
                   out, pixels);
        if (bias) {
            #pragma omp parallel for schedule(static)
            for (int o = 0; o < out_ch; o++)
                for (long p = 0; p < pixels; p++) out[o * pixels + p] += bias[o];
        }
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
