"""Which modules the ONNX tracer can handle, and how.

* :data:`MODULE_EMITTERS` (keyed by the exact class): leaf layers written
  directly as ONNX nodes (convolutions, norms, activations, linear layers, pooling);
* :func:`is_traceable`: modules whose ``execute`` is traced as written (it
  only combines sub-modules, ``dformer_seg.ops`` functions and the tensor
  methods :class:`~.graph.TracedTensor` records). Every class defined under
  ``dformer_seg.models`` is, unless it declares ``onnx_traceable = False``;
  a class elsewhere (``projects/``, your own code) declares
  ``onnx_traceable = True`` or is registered with :func:`register_traceable_module`.
  The declaration is the class's own: a subclass that changes ``execute`` is
  another module and declares itself.

Any other module that receives a traced tensor stops the export with its
class and its place in the model (and an op the tracer does not record stops
it too, naming the module).
"""
import numpy as np
from jittor import nn

from .. import ops
from ..models.decode_heads import head_layers
from ..models.utils import BatchNorm
from . import op_emitters as emit
from .errors import ExportError
from .graph import to_numpy


def _conv(module, x):
    if getattr(module, 'padding_mode', 'zeros') != 'zeros':
        raise ExportError(f'Conv2d with padding_mode={module.padding_mode!r} has no ONNX form here (only zeros)')
    return emit.conv2d(x, module.weight, module.bias, module.stride, module.padding, module.dilation,
                       module.groups)


def _batch_norm(module, x):
    """Evaluation-mode BatchNorm as Jittor computes it: ``x * w + b`` with the statistics folded in."""
    weight = to_numpy(module.weight) if module.weight is not None else np.float32(1.0)
    bias = to_numpy(module.bias) if module.bias is not None else np.float32(0.0)
    scale = (weight / np.sqrt(to_numpy(module.running_var) + np.float32(module.eps))).astype(np.float32)
    shift = (bias - to_numpy(module.running_mean) * scale).astype(np.float32)
    channel_shape = (-1,) + (1,) * (x.ndim - 2)
    return x * scale.reshape(channel_shape) + shift.reshape(channel_shape)


def _linear(module, x, multiplier=None, residual=None):
    return emit.linear(x, module.weight, module.bias, getattr(module, 'activation', None), multiplier, residual)


def _leaky_relu(module, x):
    return x.graph.op('LeakyRelu', [x], x.shape, dict(alpha=float(module.negative_slope)))


def _sigmoid(module, x):
    return x.graph.op('Sigmoid', [x], x.shape)


def _identity(module, x):
    return x


def _adaptive_avg_pool(module, x):
    """PyTorch-exact adaptive pooling: a mean for 1x1, else the two bin-averaging matrix products."""
    out_h, out_w = module.output_size
    if (out_h, out_w) == (1, 1):
        return x.mean(dims=(2, 3), keepdims=True)
    rows = head_layers.adaptive_pool_matrix(x.shape[2], out_h)
    cols = head_layers.adaptive_pool_matrix(x.shape[3], out_w)
    return emit.matmul(emit.matmul(rows, x), np.ascontiguousarray(cols.T))


MODULE_EMITTERS = {
    nn.Conv2d: _conv,
    ops.Conv2d: _conv,
    nn.BatchNorm: _batch_norm,
    BatchNorm: _batch_norm,
    nn.Linear: _linear,
    ops.Linear: _linear,
    nn.ReLU: lambda module, x: emit.relu(x),
    nn.GELU: lambda module, x: emit.gelu(x),
    ops.GELU: lambda module, x: emit.gelu(x),
    nn.LeakyReLU: _leaky_relu,
    nn.Sigmoid: _sigmoid,
    nn.Identity: _identity,
    nn.Dropout: _identity,     # evaluation mode (checked before tracing)
    nn.Dropout2d: _identity,
    head_layers.AdaptiveAvgPool2d: _adaptive_avg_pool,
}

TRACEABLE_MODULES = {nn.Sequential}  # and the classes given to register_traceable_module
MODELS_PACKAGE = 'dformer_seg.models.'


def is_traceable(cls):
    """Whether the tracer runs ``cls.execute`` as written (see the module docstring)."""
    declared = cls.__dict__.get('onnx_traceable')
    if declared is not None:
        return bool(declared)
    return cls in TRACEABLE_MODULES or cls.__module__.startswith(MODELS_PACKAGE)


def register_module_emitter(cls, emitter):
    """Write modules of exactly ``cls`` with ``emitter(module, *args, **kwargs) -> TracedTensor``."""
    MODULE_EMITTERS[cls] = emitter


def register_traceable_module(cls):
    """Trace the ``execute`` of ``cls`` as written (it must use only supported ops and modules)."""
    TRACEABLE_MODULES.add(cls)
    return cls


def describe(cls):
    return f'{cls.__module__}.{cls.__qualname__}'


__all__ = ['MODULE_EMITTERS', 'TRACEABLE_MODULES', 'describe', 'is_traceable', 'register_module_emitter',
           'register_traceable_module']
