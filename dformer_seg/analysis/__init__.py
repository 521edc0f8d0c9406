"""Parameter and FLOP counting for Jittor models (``counter``: the counter; ``rules``: what each layer and op
costs; ``report``: reading the result).

One forward pass yields two FLOP counts, both in multiply-accumulate units
(one multiply-add = 1, as thop reports):

``thop``
    The convention of the ``thop`` counter used by the DFormer papers. Only
    layers of known types count: convolutions (output elements x
    in_channels/groups x kernel area), linear layers (output elements x
    in_features), batch/layer/group/instance norms (4 x input elements with an
    affine transform, 2 without), adaptive average pooling ((bin area + 1) x
    output elements, bin area = input size / output size per axis), average
    pooling (1 x output elements), ``Upsample`` modules (bilinear 11, linear 5,
    bicubic 259, trilinear 31, nearest 0 per output element) and ``Softmax``
    modules ((3n - 1) per row of n). Bias terms, activations and every
    functional op (matmul, softmax, interpolate, elementwise arithmetic)
    count zero, and so does any hand-written module thop does not know.
    The Jittor port writes a few PyTorch layers by hand; :func:`thop_equivalents`
    maps them to the thop rule of the PyTorch layer they replace.

``full``
    Everything the model computes. Convolutions and linear layers count their
    multiply-adds plus one per bias add; matrix products count batch x M x N x K;
    elementwise arithmetic, comparisons and elementary functions (exp, sqrt,
    erf, ...) count one per output element; reductions count one per input
    element (``mean`` also divides); softmax counts (5n - 2) per row of n
    (max, subtract, exp, sum, divide); interpolation uses thop's per-element
    costs above; activations count their elementary steps (ReLU 1, GELU 5:
    divide, erf, add, multiply, multiply). Any module without a rule of its
    own, for example a hand-written LayerNorm or Jittor's BatchNorm, is
    counted by the operations it executes.

Fast ops (``dformer_seg.ops``) run hand-written kernels the counter cannot
look into, so each declares its rules in the op registry (:mod:`dformer_seg.ops.op_registry`,
:mod:`dformer_seg.ops.flop_rules`): in the full count it
costs what its plain Jittor formulation computes (matmul batch x M x N x K,
softmax (5n - 2) per row plus the bias add, layer norm 7 per element + 2 per
row, attention its two products + bias + softmax, the geometry attention
also its priors, fused residuals and activations included), so a model's
count does not depend on whether the kernels run. In the thop convention
they are functional ops and count zero, except ``depthwise_conv2d_nhwc``
and ``conv2d_nhwc``, which stand for the ``nn.Conv2d`` whose parameters they
are given (and thop counts those parameters). ``ops.Linear`` / ``ops.Conv2d`` are counted as
the nn layers they subclass. A public op without a rule, or a call with an
argument its rule does not know, is listed in :attr:`FlopReport.uncounted`
and printed as a warning by :func:`format_report`.

Jittor builds the graph lazily: counting needs the shapes only, so the
forward pass is traced without running a kernel and even 480x640 inputs are
counted in well under a second.

Parameters: ``trainable`` counts every Var a model would optimise;
``non_trainable`` counts the rest (BatchNorm running statistics, fixed
buffers such as DFormerv2's ``Geo.angle``/``Geo.decay``, frozen weights).
``thop_params`` counts, like thop, only the trainable parameters of layers that
have a thop rule and ran in the forward pass.
"""
from ..runtime import before_jittor_import

before_jittor_import()  # before anything here imports Jittor
from .counter import (
    FlopCounter,
    FlopReport,
    ParamCount,
    count_flops,
    count_parameters,
    parameter_trainability,
    profile_flops,
)
from .report import flops_by_module, format_report
from .rules import (
    ACTIVATION_COSTS,
    CONVENTIONS,
    FAST_OP_HELPERS,
    INTERPOLATION_COSTS,
    thop_equivalents,
    uncovered_fast_ops,
)

__all__ = ['ACTIVATION_COSTS', 'CONVENTIONS', 'FAST_OP_HELPERS', 'FlopCounter', 'FlopReport', 'INTERPOLATION_COSTS',
           'ParamCount', 'count_flops', 'count_parameters', 'flops_by_module', 'format_report',
           'parameter_trainability', 'profile_flops', 'thop_equivalents', 'uncovered_fast_ops']
