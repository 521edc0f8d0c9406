"""GELU (erf form) as an OpenMP elementwise kernel with its derivative.

Jittor fuses GELU into one kernel, but on the CPU that kernel runs on one
core; the erf evaluation dominates, so splitting it over the cores pays.
"""
import jittor as jt
from jittor import nn

from .dispatch import use_cpu_kernels

_HEADER = '#include <cmath>\n'

_FORWARD_SRC = '''
    // fastop_gelu
    const long count = out0_shape0;
    const float inv_sqrt2 = 0.70710678118654752f;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < count; i++) {
        const float x = in0_p[i];
        out0_p[i] = (erff(x * inv_sqrt2) + 1.0f) * x * 0.5f;
    }
'''

# d/dx [x * Phi(x)] = Phi(x) + x * phi(x)
_BACKWARD_SRC = '''
    // fastop_gelu_grad
    const long count = out0_shape0;
    const float inv_sqrt2 = 0.70710678118654752f, inv_sqrt_2pi = 0.39894228040143268f;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < count; i++) {
        const float x = in0_p[i];
        const float cdf = 0.5f * (1.0f + erff(x * inv_sqrt2));
        out0_p[i] = in1_p[i] * (cdf + x * inv_sqrt_2pi * expf(-0.5f * x * x));
    }
'''


class _Gelu(jt.Function):
    def execute(self, x):
        self.saved = x
        return jt.code(x.shape, 'float32', [x], cpu_header=_HEADER, cpu_src=_FORWARD_SRC)

    def grad(self, grad_y):
        return jt.code(self.saved.shape, 'float32', [self.saved, grad_y], cpu_header=_HEADER,
                       cpu_src=_BACKWARD_SRC)


def gelu(x):
    """``x * Phi(x)`` with the exact (erf) normal CDF, like ``nn.gelu`` and PyTorch's default GELU."""
    if not use_cpu_kernels(x) or x.numel() == 0:
        return nn.gelu(x)
    return _Gelu()(x.reshape((-1,))).reshape(x.shape)


class GELU(nn.Module):
    """Module form of :func:`gelu` (a drop-in for ``nn.GELU``)."""

    def execute(self, x):
        return gelu(x)
