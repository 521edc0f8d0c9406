"""1x1 convolution of NCHW tensors as one GEMM per image.

A 1x1 conv is ``Y_n = W X_n`` with ``X_n`` the (C_in, H*W) view of image n.
Jittor relays it to oneDNN's convolution, which is rebuilt on every call and
reorders input and output to a blocked layout and back; the decode heads'
1x1 convs on (512, 60x80) maps spend more time in that than in the arithmetic.
Here each product goes straight to ``dnnl_sgemm`` (multi-threaded inside
oneDNN), and the gradients are GEMMs as well.
"""
import jittor as jt
from jittor import nn

from .dispatch import use_cpu_kernels

_HEADER = '#include <dnnl.h>\n'

# y_n = W x_n (+ bias per output channel)
_FORWARD_SRC = '''
    // fastop_pointwise_conv
    @alias(x, in0) @alias(w, in1)
    const int batch = x_shape0, in_ch = x_shape1, out_ch = w_shape0;
    const long pixels = (long)x_shape2 * x_shape3;
    for (int n = 0; n < batch; n++) {{
        float* y = out0_p + n * out_ch * pixels;
        dnnl_sgemm('N', 'N', out_ch, pixels, in_ch, 1.0f, w_p, in_ch, x_p + n * in_ch * pixels, pixels,
                   0.0f, y, pixels);
        {add_bias}
    }}
'''
_ADD_BIAS = '''#pragma omp parallel for schedule(static)
        for (int o = 0; o < out_ch; o++)
            for (long p = 0; p < pixels; p++) y[o * pixels + p] += in2_p[o];'''

# dx_n = W^T dy_n; dW = sum_n dy_n x_n^T; db = sum over n and pixels of dy.
_BACKWARD_SRC = '''
    // fastop_pointwise_conv_grad
    @alias(x, in0) @alias(w, in1) @alias(dy, in2)
    const int batch = x_shape0, in_ch = x_shape1, out_ch = w_shape0;
    const long pixels = (long)x_shape2 * x_shape3;
    for (int n = 0; n < batch; n++) {
        const float* g = dy_p + n * out_ch * pixels;
        dnnl_sgemm('T', 'N', in_ch, pixels, out_ch, 1.0f, w_p, in_ch, g, pixels, 0.0f,
                   out0_p + n * in_ch * pixels, pixels);
        dnnl_sgemm('N', 'T', out_ch, in_ch, pixels, 1.0f, g, pixels, x_p + n * in_ch * pixels, pixels,
                   n == 0 ? 0.0f : 1.0f, out1_p, in_ch);
    }
    #pragma omp parallel for schedule(static)
    for (int o = 0; o < out_ch; o++) {
        float total = 0.0f;
        for (int n = 0; n < batch; n++) {
            const float* g = dy_p + ((long)n * out_ch + o) * pixels;
            for (long p = 0; p < pixels; p++) total += g[p];
        }
        out2_p[o] = total;
    }
'''


class _PointwiseConv(jt.Function):
    def execute(self, x, weight, bias=None):
        self.saved = x, weight, bias is not None
        inputs = [x, weight] if bias is None else [x, weight, bias]
        src = _FORWARD_SRC.format(add_bias='' if bias is None else _ADD_BIAS)
        shape = (x.shape[0], weight.shape[0]) + tuple(x.shape[2:])
        return jt.code(shape, 'float32', inputs, cpu_header=_HEADER, cpu_src=src)

    def grad(self, grad_y):
        x, weight, with_bias = self.saved
        out_ch = weight.shape[0]
        grad_x, grad_w, grad_b = jt.code([x.shape, weight.shape, (out_ch,)], ['float32'] * 3, [x, weight, grad_y],
                                         cpu_header=_HEADER, cpu_src=_BACKWARD_SRC)
        return (grad_x, grad_w, grad_b) if with_bias else (grad_x, grad_w)


def pointwise_conv2d(x, weight, bias=None):
    """1x1 conv (stride 1, no padding, one group) of ``x`` (N, C_in, H, W) with ``weight`` (C_out, C_in, 1, 1)."""
    if x.ndim != 4 or weight.ndim != 4 or tuple(weight.shape[2:]) != (1, 1) or weight.shape[1] != x.shape[1]:
        raise ValueError(f'pointwise_conv2d: expected x (N, C_in, H, W) and weight (C_out, C_in, 1, 1), got '
                         f'{tuple(x.shape)} and {tuple(weight.shape)}')
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f'pointwise_conv2d: bias must be ({weight.shape[0]},), got {tuple(bias.shape)}')
    operands = [x, weight] if bias is None else [x, weight, bias]
    if not use_cpu_kernels(*operands, needs_onednn=True):
        return nn.conv2d(x, weight, bias)
    return _PointwiseConv()(*operands)


def is_pointwise(conv):
    """Whether the ``nn.Conv2d`` ``conv`` is a plain 1x1 conv (stride 1, no padding/dilation, one group)."""
    return (tuple(conv.kernel_size) == (1, 1) and tuple(conv.stride) == (1, 1) and tuple(conv.padding) == (0, 0)
            and tuple(conv.dilation) == (1, 1) and conv.groups == 1)


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` whose plain 1x1 case runs :func:`pointwise_conv2d` (same parameters and state-dict keys)."""

    def execute(self, x):
        if is_pointwise(self):
            return pointwise_conv2d(x, self.weight, self.bias)
        return super().execute(x)
