"""Parameter and FLOP counting for Jittor models.

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
look into, so each has a rule (:data:`FAST_OP_RULES`): in the full count it
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
import inspect
import math
from collections import defaultdict
from dataclasses import dataclass, field

import jittor as jt
from jittor import nn

CONVENTIONS = ('thop', 'full')

# thop's per-output-element cost of interpolation (count_upsample).
INTERPOLATION_COSTS = {'nearest': 0, 'linear': 5, 'bilinear': 11, 'bicubic': 259, 'trilinear': 31}

# Elementwise cost of the activation functions Jittor implements (see module docstring).
ACTIVATION_COSTS = {'relu': 1, 'relu6': 2, 'leaky_relu': 2, 'gelu': 5, 'silu': 2, 'sigmoid': 1, 'tanh': 1}


def _numel(value):
    if not isinstance(value, jt.Var):
        return 0
    return math.prod(int(s) for s in value.shape)


def _first_var(values):
    for value in values:
        if isinstance(value, jt.Var):
            return value
        if isinstance(value, (list, tuple)):
            found = _first_var(value)
            if found is not None:
                return found
    return None


def _output_numel(output):
    """Elements of a call's result; a tuple/list result counts its Vars."""
    if isinstance(output, (list, tuple)):
        return sum(_output_numel(o) for o in output)
    return _numel(output)


@dataclass
class Call:
    """What a counting rule sees of one call: the module (or None), its arguments and result."""
    module: object
    args: tuple
    kwargs: dict
    output: object

    @property
    def input(self):
        found = _first_var(self.args) if self.args else None
        if found is None:
            found = _first_var(tuple(self.kwargs.values()))
        if found is None:
            raise ValueError(f'FLOP counting: no jt.Var input found in a call to {type(self.module).__name__}')
        return found


# ----------------------------------------------------------------- thop rules
def thop_conv(call):
    weight = call.module.weight
    return _output_numel(call.output) * math.prod(int(s) for s in weight.shape[1:])


def thop_conv_transpose(call):
    # Every input element feeds out_channels/groups x kernel outputs.
    weight = call.module.weight
    return _numel(call.input) * math.prod(int(s) for s in weight.shape[1:])


def thop_linear(call):
    return _output_numel(call.output) * int(call.module.in_features)


def _is_affine(module):
    if getattr(module, 'affine', None) is not None:
        return bool(module.affine)
    if getattr(module, 'elementwise_affine', None) is not None:
        return bool(module.elementwise_affine)
    return isinstance(getattr(module, 'weight', None), jt.Var)


def thop_norm(call):
    return _numel(call.input) * (4 if _is_affine(call.module) else 2)


def _adaptive_pool_cost(x, output):
    """thop: (prod(input / output) over the pooled axes + 1) x output elements, truncated to an int."""
    pooled_axes = len(output.shape) - 2
    kernel = math.prod(int(i) / int(o) for i, o in zip(x.shape[-pooled_axes:], output.shape[-pooled_axes:]))
    return int((kernel + 1) * _numel(output))


def thop_adaptive_avg_pool(call):
    return _adaptive_pool_cost(call.input, call.output)


def _pool_layer(module):
    """Jittor's AvgPool2d/MaxPool2d keep the actual ``Pool`` (kernel_size, op) in ``layer`` / ``_layer``."""
    for candidate in (module, getattr(module, 'layer', None), getattr(module, '_layer', None)):
        if candidate is not None and hasattr(candidate, 'kernel_size') and hasattr(candidate, 'op'):
            return candidate
    raise TypeError(f'FLOP counting: cannot find the pooling settings of {type(module).__name__}')


def thop_pool(call):
    if _pool_layer(call.module).op != 'mean':
        return 0  # max pooling: thop counts nothing
    return _numel(call.output)


def _interpolation_cost(mode, output):
    mode = str(mode).lower()
    if mode not in INTERPOLATION_COSTS:
        raise ValueError(f'FLOP counting: unknown interpolation mode {mode!r}; '
                         f'known modes: {sorted(INTERPOLATION_COSTS)}')
    return INTERPOLATION_COSTS[mode] * _numel(output)


def thop_upsample(call):
    return _interpolation_cost(call.module.mode, call.output)


def _softmax_rows(x, dim):
    if dim is None or dim == ():
        return 1, _numel(x)
    n = int(x.shape[dim])
    return _numel(x) // n, n


def thop_softmax_module(call):
    # Jittor's Softmax module keeps the arguments of nn.softmax in ``args`` / ``kw``.
    module = call.module
    dim = module.kw.get('dim', module.args[0] if module.args else None)
    rows, n = _softmax_rows(call.input, dim)
    return rows * (3 * n - 1)


def thop_zero(call):
    return 0


# ----------------------------------------------------------------- full rules
def full_conv(call):
    bias = _output_numel(call.output) if isinstance(getattr(call.module, 'bias', None), jt.Var) else 0
    return thop_conv(call) + bias


def full_conv_transpose(call):
    bias = _output_numel(call.output) if isinstance(getattr(call.module, 'bias', None), jt.Var) else 0
    return thop_conv_transpose(call) + bias


def full_linear(call):
    bias = _output_numel(call.output) if isinstance(getattr(call.module, 'bias', None), jt.Var) else 0
    return thop_linear(call) + bias


def full_pool(call):
    """Max or average over each window: kernel area operations per output element."""
    return _numel(call.output) * math.prod(int(k) for k in _pool_layer(call.module).kernel_size)


def full_adaptive_pool(call):
    x = call.input
    kernel = math.prod(-(-int(i) // int(o)) for i, o in zip(x.shape[2:], call.output.shape[2:]))
    return _numel(call.output) * kernel


def full_upsample(call):
    return thop_upsample(call)


def full_activation(name):
    cost = ACTIVATION_COSTS[name]

    def rule(call):
        return cost * _output_numel(call.output)
    rule.__name__ = f'full_{name}'
    return rule


# ------------------------------------------------------- functional op rules
def _matmul_cost(a, output):
    if not isinstance(a, jt.Var):
        return 0
    return _output_numel(output) * int(a.shape[-1])


def op_matmul(call):
    return _matmul_cost(call.args[0], call.output)


def op_elementwise(call):
    return _output_numel(call.output)


def op_reduce(call):
    # n inputs reduced to one output take n - 1 operations.
    return max(_numel(call.args[0]) - _output_numel(call.output), 0)


def op_mean(call):
    # n - 1 additions and one division per output.
    return _numel(call.args[0])


def _bind(function, args, kwargs):
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


def op_softmax(original):
    def rule(call):
        arguments = _bind(original, call.args, call.kwargs)
        rows, n = _softmax_rows(arguments['x'], arguments.get('dim'))
        per_row = 4 * n - 1 if arguments.get('log') else 5 * n - 2
        return rows * per_row
    return rule


def op_log_softmax(original):
    def rule(call):
        arguments = _bind(original, call.args, call.kwargs)
        rows, n = _softmax_rows(arguments['x'], arguments.get('dim'))
        return rows * (4 * n - 1)
    return rule


def op_interpolate(original):
    def rule(call):
        return _interpolation_cost(_bind(original, call.args, call.kwargs)['mode'], call.output)
    return rule


def op_activation(name):
    cost = ACTIVATION_COSTS[name]

    def rule(call):
        return cost * _output_numel(call.output)
    return rule


def thop_window_pool_function(call):
    """DFormer v1's ``pool_window_tokens(sources, window)``: nn.AdaptiveAvgPool2d((window, window)) of the
    channel concatenation of ``sources`` (NHWC) in the reference."""
    sources = call.args[0] if call.args else call.kwargs['sources']
    window = call.args[1] if len(call.args) > 1 else call.kwargs['window']
    height, width = (int(s) for s in sources[0].shape[1:3])
    return int(((height / window) * (width / window) + 1) * _numel(call.output))


# ------------------------------------------- fast-op rules (dformer_seg.ops)
# Each fast op counts the arithmetic of its plain Jittor formulation (what runs off the CPU kernels),
# so a model's full count is the same with and without the kernels. In the thop convention they are
# functional ops (zero), except the depth-wise conv, which replaces an nn.Conv2d of the reference.
def _fast_op_arguments(original, call):
    return _bind(original, call.args, call.kwargs)


def fast_matmul(original):
    def rule(call):
        arguments = _fast_op_arguments(original, call)
        a = arguments['a']
        inner = a.shape[-2] if arguments['trans_a'] else a.shape[-1]
        return _output_numel(call.output) * int(inner)
    return rule


def _softmax_cost(rows, n):
    return rows * (5 * n - 2)


def fast_softmax(original):
    def rule(call):
        arguments = _fast_op_arguments(original, call)
        x = arguments['x']
        rows, n = _softmax_rows(x, arguments['dim'])
        bias_add = _numel(x) if arguments['bias'] is not None else 0
        return bias_add + _softmax_cost(rows, n)
    return rule


def fast_layer_norm(original):
    """Mean, subtract, square, mean, divide, scale, shift per element; + eps and sqrt per row."""
    def rule(call):
        x = _fast_op_arguments(original, call)['x']
        n = _numel(x)
        return 7 * n + 2 * (n // int(x.shape[-1]))
    return rule


def fast_gelu(original):
    return op_activation('gelu')


def fast_bilinear_resize(original):
    return lambda call: _interpolation_cost('bilinear', call.output)


def _epilogue_cost(activation, output):
    """An activation fused into an op (``activation='gelu'``): its elementwise cost per output element."""
    if activation is None:
        return 0
    if activation not in ACTIVATION_COSTS:
        raise ValueError(f'FLOP counting: unknown fused activation {activation!r}; known: {sorted(ACTIVATION_COSTS)}')
    return ACTIVATION_COSTS[activation] * _output_numel(output)


def _scaled_residual_cost(scale, residual, output):
    """``residual + scale * y`` fused into an op: one multiply and one add per output element (each when given)."""
    return sum(_output_numel(output) for term in (scale, residual) if term is not None)


def fast_linear(original):
    """Multiply-adds, one add per output for the bias, the fused activation and the layer-scaled residual
    (each when given)."""
    def rule(call):
        arguments = _fast_op_arguments(original, call)
        out = _output_numel(call.output)
        return (out * int(arguments['weight'].shape[1]) + (out if arguments['bias'] is not None else 0)
                + _epilogue_cost(arguments.get('activation'), call.output)
                + _scaled_residual_cost(arguments.get('scale'), arguments.get('residual'), call.output))
    return rule


def full_fast_linear_module(call):
    """``ops.Linear``: an nn.Linear whose ``activation`` (None or e.g. 'gelu') and optional ``scale`` /
    ``residual`` arguments run in the same call."""
    arguments = _bind(call.module.execute, call.args, call.kwargs)
    return (full_linear(call) + _epilogue_cost(getattr(call.module, 'activation', None), call.output)
            + _scaled_residual_cost(arguments.get('scale'), arguments.get('residual'), call.output))


def fast_pointwise_conv(original):
    """weight (C_out, C_in, 1, 1): C_in multiply-adds per output, + the bias add."""
    def rule(call):
        arguments = _fast_op_arguments(original, call)
        out = _output_numel(call.output)
        return out * int(arguments['weight'].shape[1]) + (out if arguments['bias'] is not None else 0)
    return rule


def _conv_multiply_adds(arguments, output):
    """As the nn.Conv2d a conv op stands for: output elements x (input channels per group x kernel area)."""
    return _output_numel(output) * math.prod(int(s) for s in arguments['weight'].shape[1:])


def thop_conv_op(original):
    """A conv op (depth-wise or dense) counted as thop counts the nn.Conv2d it stands for."""
    return lambda call: _conv_multiply_adds(_fast_op_arguments(original, call), call.output)


def conv_op_params(original):
    """The conv's weight and bias: thop counts them as the parameters of the nn.Conv2d (depth-wise or
    dense) that the op stands for."""
    def params(call):
        arguments = _fast_op_arguments(original, call)
        return [v for v in (arguments['weight'], arguments['bias']) if isinstance(v, jt.Var)]
    return params


def fast_depthwise_conv(original):
    """The convolution, one add per output for the bias and one for the residual, then the fused
    activation (each when given)."""
    def rule(call):
        arguments = _fast_op_arguments(original, call)
        out = _output_numel(call.output)
        extra = sum(out for name in ('bias', 'residual') if arguments.get(name) is not None)
        return (_conv_multiply_adds(arguments, call.output) + extra
                + _epilogue_cost(arguments.get('activation'), call.output))
    return rule


def fast_conv_nhwc(original):
    """The convolution and one add per output for the bias."""
    def rule(call):
        arguments = _fast_op_arguments(original, call)
        out = _output_numel(call.output)
        return _conv_multiply_adds(arguments, call.output) + (out if arguments['bias'] is not None else 0)
    return rule


def _attention_cost(batch, lq, lk, d, dv, with_bias):
    """q k^T, the bias add, softmax over each of the lq rows, then the product with v."""
    scores = batch * lq * lk
    return scores * d + (scores if with_bias else 0) + _softmax_cost(batch * lq, lk) + batch * lq * dv * lk


def fast_attention(original):
    def rule(call):
        arguments = _fast_op_arguments(original, call)
        q, k, v = arguments['q'], arguments['k'], arguments['v']
        lq, d = int(q.shape[-2]), int(q.shape[-1])
        batch = _numel(q) // (lq * d)
        return _attention_cost(batch, lq, int(k.shape[-2]), d, int(v.shape[-1]), arguments['bias'] is not None)
    return rule


def _axis_prior_cost(batch, heads, lines, length):
    """prior = a * (|i - j| * decay) + b * (|d_i - d_j| * decay), built as the plain formulation does:
    the index ramp (jt.arange: start + i * step), |i - j| (2 per L x L), x decay and x a (per head),
    |d_i - d_j| (2 per line), x decay, x b and the sum (per head and line)."""
    square = length * length
    return (2 * length + (2 + 2 * heads) * square + 2 * batch * lines * square
            + 3 * batch * heads * lines * square)


def fast_decomposed_geometry_attention(original):
    """Attention along W in each row, then along H in each column, each with its prior as the bias."""
    def rule(call):
        q = _fast_op_arguments(original, call)['q']
        batch, heads, height, width, head_dim = (int(s) for s in q.shape)
        total = 0
        for lines, length in ((height, width), (width, height)):
            total += _axis_prior_cost(batch, heads, lines, length)
            total += _attention_cost(batch * heads * lines, length, length, head_dim, head_dim, True)
        return total
    return rule


def fast_rotate_pairs(original):
    """x * cos + rotate(x) * sin: two multiplies and an add per element, the negation per pair."""
    def rule(call):
        n = _numel(_fast_op_arguments(original, call)['x'])
        return 3 * n + n // 2
    return rule


@dataclass(frozen=True)
class FastOpRule:
    """How one function of dformer_seg.ops is counted. ``full``, ``thop`` and ``thop_params`` are
    factories taking the op's function (for its signature); ``params`` names the arguments the rule
    understands: a call that sets any other argument to a non-default value is reported as uncounted."""
    params: tuple
    full: object
    thop: object = None
    thop_kind: str = None
    thop_params: object = None


FAST_OP_RULES = {
    'matmul': FastOpRule(('a', 'b', 'trans_a', 'trans_b'), fast_matmul),
    'softmax': FastOpRule(('x', 'dim', 'bias'), fast_softmax),
    'layer_norm': FastOpRule(('x', 'weight', 'bias', 'eps'), fast_layer_norm),
    'gelu': FastOpRule(('x',), fast_gelu),
    'bilinear_resize': FastOpRule(('x', 'size', 'align_corners'), fast_bilinear_resize),
    'linear': FastOpRule(('x', 'weight', 'bias', 'activation', 'scale', 'residual'), fast_linear),
    'pointwise_conv2d': FastOpRule(('x', 'weight', 'bias'), fast_pointwise_conv),
    'depthwise_conv2d_nhwc': FastOpRule(('x', 'weight', 'bias', 'padding', 'residual', 'activation'),
                                        fast_depthwise_conv, thop_conv_op, 'Conv', conv_op_params),
    'conv2d_nhwc': FastOpRule(('x', 'weight', 'bias', 'stride', 'padding'), fast_conv_nhwc, thop_conv_op, 'Conv',
                              conv_op_params),
    'attention': FastOpRule(('q', 'k', 'v', 'bias'), fast_attention),
    'decomposed_geometry_attention': FastOpRule(('q', 'k', 'v', 'depth', 'decay', 'weight'),
                                                fast_decomposed_geometry_attention),
    'rotate_pairs': FastOpRule(('x', 'sin', 'cos'), fast_rotate_pairs),
}
# Public names of dformer_seg.ops that compute nothing (the switch between kernels and plain Jittor).
FAST_OP_HELPERS = frozenset({'FAST_OPS_ENV', 'fast_ops', 'fast_ops_enabled', 'use_cpu_kernels'})


def _fast_op_module_rules():
    """(thop, full) rules of the module classes of dformer_seg.ops that their base class does not cover."""
    from .. import ops
    return {}, {ops.GELU: full_activation('gelu'), ops.Linear: full_fast_linear_module}


def uncovered_fast_ops():
    """Public names of ``dformer_seg.ops`` that the counter has no rule for (they would go uncounted)."""
    from .. import ops
    thop, full = _jittor_module_rules()
    full.update(_fast_op_module_rules()[1])
    missing = []
    for name in ops.__all__:
        value = getattr(ops, name)
        if name in FAST_OP_HELPERS or name in FAST_OP_RULES:
            continue
        if isinstance(value, type) and issubclass(value, nn.Module) and _rule_for(value, full) is not None:
            continue
        missing.append(name)
    return missing


# ------------------------------------------------------------- rule tables
def _jittor_module_rules():
    """(thop rules, full rules) for Jittor's own layers, keyed by class."""
    thop, full = {}, {}
    for cls in (nn.Conv, nn.Conv1d, nn.Conv3d):
        thop[cls], full[cls] = thop_conv, full_conv
    for name in ('ConvTranspose', 'ConvTranspose3d'):
        if hasattr(nn, name):
            thop[getattr(nn, name)], full[getattr(nn, name)] = thop_conv_transpose, full_conv_transpose
    thop[nn.Linear], full[nn.Linear] = thop_linear, full_linear
    for name in ('BatchNorm', 'BatchNorm1d', 'BatchNorm2d', 'BatchNorm3d', 'LayerNorm', 'GroupNorm',
                 'InstanceNorm', 'InstanceNorm1d', 'InstanceNorm2d', 'InstanceNorm3d'):
        if hasattr(nn, name):
            thop[getattr(nn, name)] = thop_norm  # 'full': counted by the operations they run
    for name in ('AdaptiveAvgPool2d', 'AdaptiveAvgPool3d'):
        if hasattr(nn, name):
            thop[getattr(nn, name)], full[getattr(nn, name)] = thop_adaptive_avg_pool, full_adaptive_pool
    for name in ('AdaptiveMaxPool2d', 'AdaptiveMaxPool3d'):
        if hasattr(nn, name):
            thop[getattr(nn, name)], full[getattr(nn, name)] = thop_zero, full_adaptive_pool
    for name in ('Pool', 'AvgPool2d', 'MaxPool2d', 'Pool3d', 'AvgPool3d', 'MaxPool3d'):
        if hasattr(nn, name):
            thop[getattr(nn, name)], full[getattr(nn, name)] = thop_pool, full_pool
    thop[nn.Upsample], full[nn.Upsample] = thop_upsample, full_upsample
    thop[nn.Softmax] = thop_softmax_module  # 'full': counted through nn.softmax
    for module_name, activation in (('ReLU', 'relu'), ('ReLU6', 'relu6'), ('LeakyReLU', 'leaky_relu'),
                                    ('GELU', 'gelu'), ('SiLU', 'silu'), ('Sigmoid', 'sigmoid'), ('Tanh', 'tanh')):
        if hasattr(nn, module_name):
            full[getattr(nn, module_name)] = full_activation(activation)
    return thop, full


def thop_equivalents():
    """Hand-written Jittor layers that stand for a PyTorch layer thop counts in the reference code.

    Returns ``(module rules, function rules)``; function rules are
    ``(python module, attribute name, rule)``. DFormer v1's own LayerNorm is
    hand-written in the reference as well, so it is deliberately absent.
    """
    from ..models.backbones import dformer, dformerv2
    from ..models.decode_heads import head_layers
    module_rules = {
        # torch.nn.LayerNorm in the reference DFormerv2 (the Jittor class also subclasses nn.LayerNorm,
        # but its count must not depend on that).
        dformerv2.LayerNorm: thop_norm,
        head_layers.AdaptiveAvgPool2d: thop_adaptive_avg_pool,  # torch.nn.AdaptiveAvgPool2d in the heads
    }
    function_rules = [(dformer, 'pool_window_tokens', thop_window_pool_function)]  # nn.AdaptiveAvgPool2d
    return module_rules, function_rules


# Elementwise entry points (on jt.Var and/or the jt namespace) and the op name they are reported under.
# Python-level helpers that are built from these (sqr, rsqrt, clamp, ...) are counted through them.
_ELEMENTWISE = {
    'add': ('__add__', '__radd__', '__iadd__', 'add'),
    'sub': ('__sub__', '__rsub__', '__isub__', 'sub', 'subtract'),
    'mul': ('__mul__', '__rmul__', '__imul__', 'mul', 'multiply'),
    'div': ('__truediv__', '__rtruediv__', '__itruediv__', '__floordiv__', '__rfloordiv__', 'div', 'divide',
            'floor_divide', '__mod__', 'mod'),
    'pow': ('__pow__', '__rpow__', 'pow'),
    'compare': ('__lt__', '__le__', '__gt__', '__ge__', 'greater', 'greater_equal', 'less', 'less_equal',
                'maximum', 'minimum'),
    'neg': ('__neg__', 'negative'),
    'abs': ('abs',),
    'exp/log': ('exp', 'log', 'log2'),
    'sqrt': ('sqrt',),
    'trig': ('sin', 'cos', 'tan', 'tanh', 'sinh', 'cosh'),
    'sigmoid': ('sigmoid',),
    'erf': ('erf',),
    'round': ('floor', 'ceil', 'round'),
}
_REDUCTIONS = ('sum', 'max', 'min', 'prod')
_MATMULS = ('matmul', 'bmm', 'matmul_transpose', 'bmm_transpose', '__matmul__')


def _functional_patches():
    """(owner, attribute, op name, full rule factory) for every wrapped functional entry point."""
    patches = []
    for owner in (jt.Var, jt):
        for op, names in _ELEMENTWISE.items():
            for name in names:
                if hasattr(owner, name):
                    patches.append((owner, name, op, lambda original: op_elementwise))
        for name in _REDUCTIONS:
            if hasattr(owner, name):
                patches.append((owner, name, name, lambda original: op_reduce))
        if hasattr(owner, 'mean'):
            patches.append((owner, 'mean', 'mean', lambda original: op_mean))
    for owner in (jt, nn, jt.Var):
        for name in _MATMULS:
            if hasattr(owner, name):
                patches.append((owner, name, 'matmul', lambda original: op_matmul))
    for owner in (nn, jt.Var):
        if hasattr(owner, 'softmax'):
            patches.append((owner, 'softmax', 'softmax', op_softmax))
        if hasattr(owner, 'log_softmax'):
            patches.append((owner, 'log_softmax', 'log_softmax', op_log_softmax))
    for name in ('interpolate', 'resize', 'upsample'):
        patches.append((nn, name, 'interpolate', op_interpolate))
    for name in ('relu', 'relu6', 'leaky_relu', 'gelu', 'silu'):
        if hasattr(nn, name):
            patches.append((nn, name, name, lambda original, name=name: op_activation(name)))
    return patches


@dataclass(frozen=True)
class _Patch:
    """One wrapped function: ``owner.attr``, the kind its counts are reported under, and its rules
    (factories taking the original function; ``thop_params`` gives the Vars thop counts as parameters)."""
    owner: object
    attr: str
    full_kind: str
    full: object = None
    thop: object = None
    thop_kind: str = None
    thop_params: object = None
    uncounted: bool = False
    known_params: tuple = None  # arguments the rules understand (None: all)


def _fast_op_patches():
    """A patch for every computing function of ``dformer_seg.ops`` (the models call them as ``ops.X``).

    A public function without a rule is still wrapped, so that its calls are
    reported as uncounted instead of silently adding nothing.
    """
    from .. import ops
    patches = []
    for name in ops.__all__:
        value = getattr(ops, name)
        if name in FAST_OP_HELPERS or isinstance(value, type) or not callable(value):
            continue  # module classes are counted through their execute (see _wrap_modules)
        if name in FAST_OP_RULES:
            rule = FAST_OP_RULES[name]
            patches.append(_Patch(ops, name, name, rule.full, rule.thop, rule.thop_kind or name, rule.thop_params,
                                  known_params=rule.params))
        else:
            patches.append(_Patch(ops, name, name, uncounted=True))
    return patches


# ------------------------------------------------------------------ reports
@dataclass
class ParamCount:
    trainable: int
    non_trainable: int
    non_trainable_by_name: dict = field(default_factory=dict)  # leaf name (e.g. running_mean) -> elements


@dataclass
class FlopReport:
    """Result of :func:`profile_flops`; FLOPs are multiply-accumulates (see the module docstring)."""
    thop_flops: int
    full_flops: int
    params: ParamCount
    thop_params: int
    thop_by_type: dict  # layer type -> thop FLOPs
    full_by_op: dict  # op kind (conv, linear, matmul, softmax, add, ...) -> full FLOPs
    full_by_module: dict  # module path -> full FLOPs of the ops it ran itself (children excluded)
    thop_by_module: dict
    params_outside_thop: dict  # module path -> trainable params thop does not see
    uncounted: dict = field(default_factory=dict)  # fast op / fast-op module without a rule -> calls

    def flops(self, convention):
        if convention not in CONVENTIONS:
            raise ValueError(f'unknown FLOP convention {convention!r}; choose one of {CONVENTIONS}')
        return self.thop_flops if convention == 'thop' else self.full_flops


def _display_name(cls):
    if 'MakeModule' in cls.__qualname__:  # Jittor's activation modules are generated classes
        for name in dir(nn):
            if getattr(nn, name) is cls:
                return name
    return cls.__name__


def _is_fast_op_class(cls):
    return cls.__module__.startswith('dformer_seg.ops')


def _rule_for(cls, table):
    for base in cls.__mro__:
        if base in table:
            return table[base]
    return None


def parameter_trainability(model):
    """``{id(var): trainable}`` for every Var of ``model``, as before any ``eval()`` froze them."""
    backup = getattr(model, 'backup_grad_state', None) or {}
    return {id(p): backup.get(id(p), not p.is_stop_grad()) for p in model.parameters()}


def count_parameters(model, trainability=None):
    """Trainable and non-trainable elements of ``model`` (see the module docstring)."""
    trainability = trainability if trainability is not None else parameter_trainability(model)
    trainable, non_trainable, by_name = 0, 0, defaultdict(int)
    seen = set()
    for name, var in model.state_dict().items():
        if id(var) in seen:
            continue
        seen.add(id(var))
        size = _numel(var)
        if trainability.get(id(var), not var.is_stop_grad()):
            trainable += size
        else:
            non_trainable += size
            by_name[name.rsplit('.', 1)[-1]] += size
    # Non-persistent buffers are missing from state_dict but still belong to the model.
    for var in model.parameters():
        if id(var) not in seen:
            seen.add(id(var))
            non_trainable += _numel(var)
            by_name['(non-persistent)'] += _numel(var)
    return ParamCount(trainable, non_trainable, dict(by_name))


class FlopCounter:
    """Context manager that counts the FLOPs of everything ``model`` runs inside it.

    On entry every submodule's ``execute`` is wrapped on the instance and the
    functional entry points listed by :func:`_functional_patches` are replaced
    by counting wrappers; on exit (also after an error) all of it is undone.
    A call that has a rule of its own is counted once, and nothing inside it
    is counted again for that convention.
    """

    def __init__(self, model, trainability=None):
        if not isinstance(model, nn.Module):
            raise TypeError(f'FlopCounter needs a jittor.nn.Module, got {type(model).__name__}')
        self.model = model
        self.trainability = trainability if trainability is not None else parameter_trainability(model)
        self._thop_rules, self._full_rules = _jittor_module_rules()
        fast_thop, fast_full = _fast_op_module_rules()
        self._thop_rules.update(fast_thop)
        self._full_rules.update(fast_full)
        equivalents, self._thop_function_rules = thop_equivalents()
        self._thop_rules.update(equivalents)
        self._restore = []
        self._path = []
        self._thop_depth = 0
        self._full_depth = 0
        self._records = defaultdict(int)  # (convention, module path, kind) -> flops
        self._thop_modules = {}  # path -> module that ran with a thop rule
        self._thop_vars = {}  # id -> parameter Var of a function call thop counts as a layer
        self._uncounted = defaultdict(int)  # fast op without a rule -> calls
        self._active = False

    # -------------------------------------------------------------- install
    def __enter__(self):
        if self._active:
            raise RuntimeError('this FlopCounter is already active')
        self._active = True
        try:
            self._wrap_modules()
            self._patch_functions()
        except BaseException:
            self._undo()
            raise
        return self

    def __exit__(self, *exc):
        self._undo()
        return False

    def _undo(self):
        while self._restore:
            self._restore.pop()()
        self._active = False

    def _wrap_modules(self):
        seen = set()
        for name, module in self.model.named_modules():
            if id(module) in seen:
                continue
            seen.add(id(module))
            cls = type(module)
            thop_rule = _rule_for(cls, self._thop_rules)
            full_rule = _rule_for(cls, self._full_rules)
            label = _display_name(cls)
            original = module.execute
            had_own = 'execute' in module.__dict__
            wrapper = self._make_wrapper(original, name, label, label, full_rule, thop_rule, module)
            if full_rule is None and _is_fast_op_class(cls):
                wrapper = self._make_uncounted_wrapper(wrapper, label)
            module.__dict__['execute'] = wrapper

            def restore(module=module, original=original, had_own=had_own):
                if had_own:
                    module.__dict__['execute'] = original
                else:
                    module.__dict__.pop('execute', None)
            self._restore.append(restore)

    def _patch_functions(self):
        patches = [_Patch(owner, attr, op, factory) for owner, attr, op, factory in _functional_patches()]
        patches += [_Patch(owner, attr, attr, thop=lambda original, rule=rule: rule)
                    for owner, attr, rule in self._thop_function_rules]
        patches += _fast_op_patches()
        patched = set()
        for patch in patches:
            key = (id(patch.owner), patch.attr)
            if key in patched:
                continue
            patched.add(key)
            original = getattr(patch.owner, patch.attr)
            if patch.uncounted:
                wrapper = self._make_uncounted_wrapper(original, patch.attr)
            else:
                full_rule = patch.full(original) if patch.full is not None else None
                thop_rule = patch.thop(original) if patch.thop is not None else None
                thop_params = patch.thop_params(original) if patch.thop_params is not None else None
                wrapper = self._make_wrapper(original, None, patch.full_kind, patch.thop_kind or patch.attr,
                                             full_rule, thop_rule, None, thop_params)
                if patch.known_params is not None:
                    wrapper = self._make_argument_check(wrapper, original, patch.attr, patch.known_params)
            setattr(patch.owner, patch.attr, wrapper)
            self._restore.append(lambda owner=patch.owner, attr=patch.attr, original=original:
                                 setattr(owner, attr, original))

    def _make_argument_check(self, counted, original, name, known_params):
        """Report ``name(arg=...)`` as uncounted when a call sets an argument its rule does not know."""
        counter = self
        signature = inspect.signature(original)
        unknown = [p for p in signature.parameters.values() if p.name not in known_params]

        def checked(*args, **kwargs):
            if unknown:
                bound = signature.bind(*args, **kwargs).arguments
                for parameter in unknown:
                    if parameter.name in bound and bound[parameter.name] is not parameter.default:
                        counter._uncounted[f'{name}({parameter.name}=...)'] += 1
            return counted(*args, **kwargs)
        checked.__wrapped__ = original
        checked.__name__ = getattr(original, '__name__', name)
        return checked

    def _make_uncounted_wrapper(self, original, name):
        counter = self

        def uncounted(*args, **kwargs):
            counter._uncounted[name] += 1
            return original(*args, **kwargs)
        uncounted.__wrapped__ = original
        uncounted.__name__ = getattr(original, '__name__', name)
        return uncounted

    def _make_wrapper(self, original, path, full_kind, thop_kind, full_rule, thop_rule, module, thop_params=None):
        counter = self

        def counted(*args, **kwargs):
            return counter._call(original, args, kwargs, path, full_kind, thop_kind, full_rule, thop_rule, module,
                                 thop_params)
        counted.__wrapped__ = original
        counted.__name__ = getattr(original, '__name__', full_kind)
        return counted

    # ------------------------------------------------------------- counting
    def _call(self, original, args, kwargs, path, full_kind, thop_kind, full_rule, thop_rule, module,
              thop_params=None):
        count_full = full_rule is not None and self._full_depth == 0
        count_thop = thop_rule is not None and self._thop_depth == 0
        if path is not None:
            self._path.append(path)
        self._full_depth += count_full
        self._thop_depth += count_thop
        try:
            output = original(*args, **kwargs)
        finally:
            self._full_depth -= count_full
            self._thop_depth -= count_thop
            if path is not None:
                self._path.pop()
        if count_full or count_thop:
            call = Call(module, args, kwargs, output)
            where = path if path is not None else (self._path[-1] if self._path else '')
            if count_full:
                self._records[('full', where, full_kind)] += int(full_rule(call))
            if count_thop:
                self._records[('thop', where, thop_kind)] += int(thop_rule(call))
                if module is not None:
                    self._thop_modules[where] = module
                if thop_params is not None:
                    self._thop_vars.update((id(v), v) for v in thop_params(call))
        return output

    # -------------------------------------------------------------- results
    def total(self, convention='thop'):
        if convention not in CONVENTIONS:
            raise ValueError(f'unknown FLOP convention {convention!r}; choose one of {CONVENTIONS}')
        return sum(v for (c, _, _), v in self._records.items() if c == convention)

    def _grouped(self, convention, index):
        grouped = defaultdict(int)
        for key, value in self._records.items():
            if key[0] == convention:
                grouped[key[index]] += value
        return dict(sorted(grouped.items(), key=lambda item: -item[1]))

    def _thop_counted_vars(self):
        """Parameters of the layers thop counted: modules that ran with a rule, and the Vars of function
        calls that stand for a layer (the depth-wise conv's weight and bias)."""
        found = {id(v): v for m in self._thop_modules.values() for v in m.parameters()}
        found.update(self._thop_vars)
        return found

    def thop_params(self):
        return sum(_numel(var) for key, var in self._thop_counted_vars().items()
                   if self.trainability.get(key, False))

    def params_outside_thop(self):
        """Trainable params of modules whose own Vars no thop-counted layer covers, by module path."""
        covered = set(self._thop_counted_vars())
        outside = defaultdict(int)
        for name, var in self.model.state_dict().items():
            if id(var) not in covered and self.trainability.get(id(var), False):
                outside[name.rsplit('.', 1)[0] if '.' in name else ''] += _numel(var)
        return dict(outside)

    def report(self):
        return FlopReport(
            thop_flops=self.total('thop'), full_flops=self.total('full'),
            params=count_parameters(self.model, self.trainability), thop_params=self.thop_params(),
            thop_by_type=self._grouped('thop', 2), full_by_op=self._grouped('full', 2),
            full_by_module=self._grouped('full', 1), thop_by_module=self._grouped('thop', 1),
            params_outside_thop=self.params_outside_thop(), uncounted=dict(self._uncounted))


def profile_flops(model, *inputs, forward=None, eval_mode=True):
    """Trace one forward pass of ``model`` and return a :class:`FlopReport`.

    ``forward(*inputs)`` runs the model (default ``model(*inputs)``), e.g.
    ``lambda batch: model(batch, mode='tensor')``. With ``eval_mode`` the model
    runs in evaluation mode (and goes back to training mode afterwards if it
    was training); gradients are off. The output is never synchronised, so
    no kernel runs.
    """
    if forward is None:
        forward = model
    trainability = parameter_trainability(model)
    was_training = model.is_training()
    if eval_mode:
        model.eval()
    try:
        with jt.no_grad(), FlopCounter(model, trainability) as counter:
            forward(*inputs)
    finally:
        if eval_mode and was_training:
            model.train()
    return counter.report()


def count_flops(model, *inputs, convention='thop', forward=None, eval_mode=True):
    """FLOPs (multiply-accumulates) of one forward pass under ``convention`` ('thop' or 'full')."""
    if convention not in CONVENTIONS:
        raise ValueError(f'unknown FLOP convention {convention!r}; choose one of {CONVENTIONS}')
    return profile_flops(model, *inputs, forward=forward, eval_mode=eval_mode).flops(convention)


def flops_by_module(report, depth=1):
    """``{module path prefix: (thop, full)}``: each count summed over the modules under a path
    truncated to ``depth`` components (``'(model)'`` for ops the top-level module runs itself)."""
    if depth < 1:
        raise ValueError(f'depth must be at least 1, got {depth}')
    grouped = defaultdict(lambda: [0, 0])
    for index, per_module in enumerate((report.thop_by_module, report.full_by_module)):
        for path, flops in per_module.items():
            prefix = '.'.join(path.split('.')[:depth]) if path else '(model)'
            grouped[prefix][index] += flops
    return {k: tuple(v) for k, v in sorted(grouped.items(), key=lambda item: -item[1][1])}


def format_report(report, top=8):
    """Human-readable summary: params, both FLOP counts and the largest contributors."""
    lines = [
        f'{"Params (trainable)":<30}{report.params.trainable / 1e6:>12.3f} M  ({report.params.trainable:,})',
        f'{"Params (thop convention)":<30}{report.thop_params / 1e6:>12.3f} M  ({report.thop_params:,})',
        f'{"Non-trainable Vars":<30}{report.params.non_trainable / 1e6:>12.3f} M  '
        + ', '.join(f'{k}={v:,}' for k, v in sorted(report.params.non_trainable_by_name.items())),
        f'{"GFLOPs (thop, as in papers)":<30}{report.thop_flops / 1e9:>12.3f} G  ({report.thop_flops:,})',
        f'{"GFLOPs (full)":<30}{report.full_flops / 1e9:>12.3f} G  ({report.full_flops:,})',
        '',
        f'Top op types (full count){"":<10}{"GFLOPs":>10}{"share":>9}',
    ]
    for kind, flops in list(report.full_by_op.items())[:top]:
        share = flops / report.full_flops if report.full_flops else 0.0
        lines.append(f'  {kind:<33}{flops / 1e9:>10.3f}{share:>9.1%}')
    lines.append(f'Top layer types (thop count){"":<7}{"GFLOPs":>10}{"share":>9}')
    for kind, flops in list(report.thop_by_type.items())[:top]:
        share = flops / report.thop_flops if report.thop_flops else 0.0
        lines.append(f'  {kind:<33}{flops / 1e9:>10.3f}{share:>9.1%}')
    if report.uncounted:
        lines.append('WARNING: fast ops without a FLOP rule, NOT counted: '
                     + ', '.join(f'{name} ({calls} calls)' for name, calls in sorted(report.uncounted.items())))
    return '\n'.join(lines)
