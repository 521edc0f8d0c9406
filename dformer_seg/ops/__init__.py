"""Fast CPU ops for the DFormer models, each with its gradient and a plain-Jittor fallback.

Every function computes exactly what its plain Jittor formulation computes;
on the CPU (float32) it runs a hand-written multi-threaded kernel instead,
elsewhere (CUDA, other dtypes, or with ``DFORMER_SEG_FAST_OPS=0``) the plain
formulation. Each op is declared once in :mod:`.op_registry` (kernel headers in
``csrc/``, plain formulation, gradient, FLOP rules); :mod:`.dispatch` holds
the decision between kernel and plain formulation, the only device branch,
and :mod:`.kernels` builds the kernels. docs/ops.md shows how to add one.
"""
from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
from .activation import GELU, gelu
from .attention import attention
from .batch_norm import batch_norm_train
from .conv_nhwc import conv2d_nhwc
from .cross_entropy import softmax_cross_entropy
from .depthwise_conv import depthwise_conv2d_nhwc
from .dispatch import FAST_OPS_ENV, fast_ops, fast_ops_enabled
from .geometry_attention import decomposed_geometry_attention, geometry_prior
from .layer_norm import layer_norm
from .linear import Linear, linear
from .matmul import matmul
from .op_registry import FAST_OPS
from .optimizer import adamw_step
from .pointwise_conv import Conv2d, pointwise_conv2d
from .resize import bilinear_resize
from .rotary import rotate_pairs
from .softmax import softmax

# Public names that compute nothing: the registry and the switch between kernels and plain Jittor.
HELPER_NAMES = frozenset({'FAST_OPS', 'FAST_OPS_ENV', 'HELPER_NAMES', 'fast_ops', 'fast_ops_enabled'})

__all__ = ['FAST_OPS', 'HELPER_NAMES', 'FAST_OPS_ENV', 'Conv2d', 'GELU', 'adamw_step', 'attention', 'batch_norm_train',
           'bilinear_resize', 'conv2d_nhwc', 'decomposed_geometry_attention', 'depthwise_conv2d_nhwc', 'fast_ops', 'fast_ops_enabled',
           'gelu', 'geometry_prior', 'layer_norm', 'Linear', 'linear', 'matmul', 'pointwise_conv2d', 'rotate_pairs',
           'softmax', 'softmax_cross_entropy']
