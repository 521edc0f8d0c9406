"""GELU (erf form) as an OpenMP elementwise kernel with its derivative.

Jittor fuses GELU into one kernel, but on the CPU that kernel runs on one
core; the erf evaluation dominates, so splitting it over the cores pays, and
the erf itself is a vectorisable rational approximation (``GELU_SOURCE``, also
used by the kernels that fuse a GELU).
"""
import jittor as jt
from jittor import nn

from .dispatch import use_cpu_kernels

# GELU's erf as pure arithmetic that vectorises: erf(x) = x * P(s) / Q(s) with s = (x / 3.92)^2 and x clamped
# to [-3.92, 3.92] (beyond that erf rounds to +-1 in float32). P and Q (degree 5) were fitted by iterated
# weighted least squares to erf; evaluated in float32 the error is below 3.5e-7 everywhere (glibc's erff:
# ~3e-8). glibc's vector erff costs ~44 cycles per 16 floats on the project's CPUs, several times this.
GELU_SOURCE = '''
static inline float fast_erf(float x) {
    const float c = x < -3.92f ? -3.92f : (x > 3.92f ? 3.92f : x);
    const float s = (c * 0.25510204f) * (c * 0.25510204f);
    const float p = ((((1.7433734f * s + 16.028551f) * s + 14.035014f) * s + 12.528797f) * s + 2.9619935f) * s
                    + 1.1283790f;
    const float q = ((((32.618412f * s + 66.241379f) * s + 55.049541f) * s + 27.173908f) * s + 7.7471061f) * s
                    + 1.0f;
    // With -Ofast, GCC may compute a vector p / q as a reciprocal estimate plus one Newton step (it does for
    // AVX2, not for AVX-512), which is off by a few ulp; one correction with the residual p - r q (an FMA)
    // makes the quotient as good as a true division on every instruction set.
    const float inv_q = 1.0f / q;
    const float quotient = p * inv_q;
    const float r = c * (quotient + (p - quotient * q) * inv_q);
    return r < -1.0f ? -1.0f : (r > 1.0f ? 1.0f : r);
}
static inline float gelu_value(float x) { return (fast_erf(x * 0.70710678118654752f) + 1.0f) * x * 0.5f; }
'''
_HEADER = '#include <cmath>\n' + GELU_SOURCE

_FORWARD_SRC = '''
    // fastop_gelu
    const long count = out0_shape0;
    #pragma omp parallel for simd schedule(static)
    for (long i = 0; i < count; i++) out0_p[i] = gelu_value(in0_p[i]);
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
