"""LayerNorm over the last axis (channels-last tensors), forward and backward in OpenMP kernels.

The plain formulation follows PyTorch's arithmetic: the variance is taken
around the mean (two passes), biased, and the centred input is divided by
``sqrt(var + eps)``. The kernel does the same per row, on both cores, and
keeps each row's mean and ``1 / sqrt(var + eps)`` for the backward pass.
"""
import jittor as jt

from .dispatch import use_cpu_kernels

_HEADER = '#include <cmath>\n#include <vector>\n#include <omp.h>\n'

_FORWARD_SRC = '''
    // fastop_layer_norm
    @alias(x, in0) @alias(weight, in1) @alias(bias, in2)
    const long rows = x_shape0, cols = x_shape1;
    const float eps = data["eps"];
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float* xr = x_p + r * cols;
        float* yr = out0_p + r * cols;
        float total = 0.0f;
        for (long c = 0; c < cols; c++) total += xr[c];
        const float mean = total / cols;
        float squares = 0.0f;
        for (long c = 0; c < cols; c++) {
            const float d = xr[c] - mean;
            squares += d * d;
        }
        const float std_dev = sqrtf(squares / cols + eps);
        for (long c = 0; c < cols; c++) yr[c] = (xr[c] - mean) / std_dev * weight_p[c] + bias_p[c];
        out1_p[r] = mean;
        out2_p[r] = 1.0f / std_dev;
    }
'''

# dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * weight; the weight and bias
# gradients sum dy * xhat and dy over rows, in per-thread partial sums.
_BACKWARD_SRC = '''
    // fastop_layer_norm_grad
    @alias(x, in0) @alias(weight, in1) @alias(mean, in2) @alias(rstd, in3) @alias(dy, in4)
    const long rows = x_shape0, cols = x_shape1;
    const int threads = omp_get_max_threads();
    std::vector<float> partial((size_t)threads * 2 * cols, 0.0f);
    #pragma omp parallel
    {
        float* dw_part = partial.data() + (size_t)omp_get_thread_num() * 2 * cols;
        float* db_part = dw_part + cols;
        #pragma omp for schedule(static)
        for (long r = 0; r < rows; r++) {
            const float* xr = x_p + r * cols;
            const float* dyr = dy_p + r * cols;
            float* dxr = out0_p + r * cols;
            const float mu = mean_p[r], inv = rstd_p[r];
            float sum_g = 0.0f, sum_gx = 0.0f;
            for (long c = 0; c < cols; c++) {
                const float xhat = (xr[c] - mu) * inv;
                const float g = dyr[c] * weight_p[c];
                sum_g += g;
                sum_gx += g * xhat;
                dw_part[c] += dyr[c] * xhat;
                db_part[c] += dyr[c];
            }
            const float mean_g = sum_g / cols, mean_gx = sum_gx / cols;
            for (long c = 0; c < cols; c++) {
                const float xhat = (xr[c] - mu) * inv;
                dxr[c] = inv * (dyr[c] * weight_p[c] - mean_g - xhat * mean_gx);
            }
        }
    }
    for (long c = 0; c < cols; c++) {
        float dw = 0.0f, db = 0.0f;
        for (int t = 0; t < threads; t++) {
            dw += partial[(size_t)t * 2 * cols + c];
            db += partial[(size_t)t * 2 * cols + cols + c];
        }
        out1_p[c] = dw;
        out2_p[c] = db;
    }
'''


class _RowLayerNorm(jt.Function):
    def __init__(self, eps):
        self.eps = float(eps)

    def execute(self, x, weight, bias):
        rows = x.shape[0]
        y, mean, rstd = jt.code([x.shape, (rows,), (rows,)], ['float32'] * 3, [x, weight, bias],
                                cpu_header=_HEADER, cpu_src=_FORWARD_SRC, data=dict(eps=self.eps))
        self.saved = x, weight, mean, rstd
        return y

    def grad(self, grad_y):
        x, weight, mean, rstd = self.saved
        grad_x, grad_w, grad_b = jt.code([x.shape, weight.shape, weight.shape], ['float32'] * 3,
                                         [x, weight, mean, rstd, grad_y], cpu_header=_HEADER,
                                         cpu_src=_BACKWARD_SRC)
        return grad_x, grad_w, grad_b


def plain_layer_norm(x, weight, bias, eps):
    mean = x.mean(dim=-1, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(dim=-1, keepdims=True)
    return centered / jt.sqrt(var + eps) * weight + bias


def layer_norm(x, weight, bias, eps):
    """Normalise ``x`` over its last axis, then scale by ``weight`` and shift by ``bias`` (both (C,))."""
    channels = x.shape[-1]
    if tuple(weight.shape) != (channels,) or tuple(bias.shape) != (channels,):
        raise ValueError(f'layer_norm: weight {tuple(weight.shape)} and bias {tuple(bias.shape)} must both be '
                         f'({channels},) for input {tuple(x.shape)}')
    if not use_cpu_kernels(x, weight, bias):
        return plain_layer_norm(x, weight, bias, eps)
    return _RowLayerNorm(eps)(x.reshape((-1, channels)), weight, bias).reshape(x.shape)
