"""Inference precision of the heavy fast ops: float32 (the default) or bfloat16.

Under ``bf16`` the GEMM-shaped ops, :func:`~dformer_seg.ops.linear`,
:func:`~dformer_seg.ops.pointwise_conv2d`, :func:`~dformer_seg.ops.conv2d_nhwc`
and :func:`~dformer_seg.ops.attention`, run oneDNN bf16 primitives: their
inputs are rounded to bf16 (activations on the fly, weights once by
:func:`convert_model_precision`), products are accumulated in float32 and their
outputs (with bias, GELU, layer scale and residual) are float32. Everything
else (normalisation, softmax, depth-wise convs, ``ops.matmul`` with the
LightHamHead's NMF, the resizes) stays float32. It applies to inference only:
where a gradient is needed, or the fast ops do not run (CUDA, float64,
``fast_ops(False)``), the ops compute in float32 as always.

::

    model = convert_model_precision(model, 'bf16')   # bf16 copies of its Linear / conv weights
    with inference_precision(model_precision(model)), jt.no_grad():
        logits = model(...)

bf16 needs a CPU whose bf16 instructions oneDNN uses (AVX512-BF16 or
AMX-BF16); elsewhere oneDNN emulates them at a fraction of the float32 speed,
so :func:`set_inference_precision` refuses with :class:`PrecisionError`.
"""
import contextlib
import ctypes
import os
import weakref

import jittor as jt
from jittor import nn

from ..runtime import jittor_dnnl_dir
from . import kernels
from .dispatch import needs_grad, onednn_available, use_kernel

PRECISIONS = ('fp32', 'bf16')

# oneDNN's dnnl_cpu_isa_t (dnnl_types.h) is a bit set: an ISA includes every bit of the ones it extends.
_ONEDNN_ISA_BITS = {'AVX512-BF16': 0xe7, 'AMX-BF16': 0x3e7}

_state = dict(precision='fp32')
_converted = weakref.WeakKeyDictionary()  # model -> {id(weight): (weight, its bf16 copy)}


class PrecisionError(RuntimeError):
    """An inference precision that is unknown or that this CPU cannot run at speed."""


def onednn_cpu_isa():
    """The instruction-set level oneDNN dispatches to on this CPU (its ``dnnl_get_effective_cpu_isa``).

    oneDNN reads the CPUID instruction itself (as the compiler's ``-march=native``
    does), so this is what the CPU offers (capped by ``DNNL_MAX_CPU_ISA``),
    not what /proc/cpuinfo lists. None when no oneDNN library is wired.
    """
    library = os.path.join(jittor_dnnl_dir(), 'lib', 'libmkldnn.so')
    if not os.path.exists(library):
        return None
    return ctypes.CDLL(library).dnnl_get_effective_cpu_isa()


def precision_unavailable_reason(precision):
    """Why ``precision`` cannot run on this machine (None when it can)."""
    if precision not in PRECISIONS:
        return f'unknown precision {precision!r}; choose one of {", ".join(PRECISIONS)}'
    if precision == 'fp32':
        return None
    isa = onednn_cpu_isa()
    if isa is None or not onednn_available():
        return 'bf16 inference needs oneDNN (install libdnnl-dev)'
    if not any(isa & bits == bits for bits in _ONEDNN_ISA_BITS.values()):
        return ('bf16 inference needs a CPU with AVX512-BF16 or AMX-BF16 instructions; this one has neither '
                '(oneDNN would emulate them, 2-3x slower than float32)')
    return None


def check_precision(precision):
    """Raise :class:`PrecisionError` (one line) unless ``precision`` can run here."""
    reason = precision_unavailable_reason(precision)
    if reason:
        raise PrecisionError(reason)


def current_precision():
    return _state['precision']


def set_inference_precision(precision):
    """Make the fast ops compute inference in ``precision`` ('fp32' or 'bf16'); returns the previous one."""
    check_precision(precision)
    previous = _state['precision']
    _state['precision'] = precision
    return previous


@contextlib.contextmanager
def inference_precision(precision):
    """:func:`set_inference_precision` for the ``with`` block only."""
    previous = set_inference_precision(precision)
    try:
        yield
    finally:
        _state['precision'] = previous


def use_bf16(op_name, *variables):
    """Whether op ``op_name`` runs its bf16 kernel on ``variables``: bf16 is on, no gradient, the kernel applies."""
    return (_state['precision'] == 'bf16' and not needs_grad(*variables) and use_kernel(op_name, *variables))


def to_bf16(x):
    """The bf16 bits (uint16, round to nearest even) of the float32 ``x``, same shape."""
    return kernels.code('to_bf16', x.shape, 'uint16', [x], ('bf16.h',),
                        'dformer_seg::to_bf16(in0_p, out0_p, in0->num);')


def bf16_weight(weight):
    """``weight``'s bf16 bits: the copy :func:`convert_model_precision` made, else converted now."""
    for table in _converted.values():
        entry = table.get(id(weight))
        if entry is not None and entry[0] is weight:
            return entry[1]
    return to_bf16(weight)


def _low_precision_weights(model):
    """The weights the bf16 ops read: those of the Linear layers and of the dense (one-group) convolutions."""
    for module in model.modules():
        if isinstance(module, nn.Linear) or (isinstance(module, nn.Conv2d) and module.groups == 1):
            if str(module.weight.dtype) == 'float32':
                yield module.weight


def convert_model_precision(model, precision):
    """Prepare ``model`` for inference in ``precision`` and return it.

    For 'bf16' the Linear and dense conv weights are rounded to bf16 once and
    kept beside the model (the float32 parameters and the state dict stay as
    they are); 'fp32' drops those copies. Convert after loading the weights: a
    copy does not follow later changes of its parameter. Run the model inside
    ``inference_precision(model_precision(model))``.
    """
    check_precision(precision)
    table = {}
    if precision == 'bf16':
        with jt.no_grad():
            for weight in _low_precision_weights(model):
                table[id(weight)] = (weight, jt.array(to_bf16(weight).numpy()))
    _converted[model] = table
    model.inference_precision = precision
    return model


def model_precision(model):
    """The precision ``model`` was converted for ('fp32' when it never was)."""
    return getattr(model, 'inference_precision', 'fp32')
