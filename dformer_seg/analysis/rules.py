"""Counting rules: Jittor's layers and functional ops, the hand-written layers thop sees, the fast ops."""
import inspect
import math
import sys
from dataclasses import dataclass

import jittor as jt
from jittor import nn

from .. import ops as ops_package
from ..ops.flop_rules import ACTIVATION_COSTS, INTERPOLATION_COSTS
from ..ops.flop_rules import numel as _numel
from ..ops.flop_rules import output_numel as _output_numel
from ..ops.flop_rules import softmax_rows as _softmax_rows

CONVENTIONS = ('thop', 'full')

def _first_var(values):
    for value in values:
        if isinstance(value, jt.Var):
            return value
        if isinstance(value, (list, tuple)):
            found = _first_var(value)
            if found is not None:
                return found
    return None


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
# Public names of dformer_seg.ops that compute nothing (the switch between kernels and plain Jittor, the registry).
FAST_OP_HELPERS = ops_package.HELPER_NAMES


def _registry_rule(rule, with_output=True):
    """A counting rule (a factory taking the function called) from a registry rule on the call's bound
    arguments (and its output, for FLOP rules; parameter rules take the arguments only)."""
    if rule is None:
        return None

    def factory(original):
        def counted(call):
            arguments = dict(_bind(original, call.args, call.kwargs))
            return rule(arguments, call.output) if with_output else rule(arguments)
        return counted
    return factory


def full_fast_linear_module(call):
    """``ops.Linear``: an nn.Linear whose ``activation`` (None or e.g. 'gelu') and optional ``multiplier`` /
    ``residual`` arguments run in the same call."""
    from ..ops import FAST_OPS
    arguments = _bind(call.module.execute, call.args, call.kwargs)
    rule_arguments = dict(x=call.input, weight=call.module.weight, bias=call.module.bias,
                          activation=getattr(call.module, 'activation', None), multiplier=arguments.get('multiplier'),
                          residual=arguments.get('residual'))
    return FAST_OPS['linear'].flops(rule_arguments, call.output)


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
        if name in FAST_OP_HELPERS or name in ops.FAST_OPS:
            continue
        if isinstance(value, type) and issubclass(value, nn.Module) and _rule_for(value, full) is not None:
            continue
        missing.append(name)
    return missing


# ------------------------------------------------------------- rule tables
def _rule_for(cls, table):
    for base in cls.__mro__:
        if base in table:
            return table[base]
    return None


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


# What thop counts for the PyTorch layer that a hand-written Jittor layer or function stands for in the
# reference code; a model part declares it with ``thop_equivalent = '<name>'`` (a class's own attribute, not
# an inherited one, or an attribute of a function).
THOP_LAYER_RULES = {'LayerNorm': thop_norm, 'AdaptiveAvgPool2d': thop_adaptive_avg_pool}
THOP_FUNCTION_RULES = {'AdaptiveAvgPool2d': thop_window_pool_function}


def thop_equivalents(model):
    """The thop rules of the hand-written Jittor layers and functions of ``model`` that stand for a PyTorch layer
    thop counts in the reference code, found through their ``thop_equivalent`` declarations.

    Returns ``(module rules, function rules)``; function rules are ``(python module, attribute name, rule)``
    for the declared functions of the toolbox's model modules and of those that define the model's layers.
    DFormer v1's own
    LayerNorm is hand-written in the reference as well, so it declares nothing.
    """
    module_rules, function_rules = {}, []
    owners = {name: module for name, module in list(sys.modules.items()) if name.startswith('dformer_seg.models.')}
    for module in model.modules():
        cls = type(module)
        name = cls.__dict__.get('thop_equivalent')
        if name is not None:
            module_rules[cls] = THOP_LAYER_RULES[name]
        if cls.__module__ in sys.modules:
            owners.setdefault(cls.__module__, sys.modules[cls.__module__])
    for owner in owners.values():
        for attr, value in vars(owner).items():
            name = getattr(value, 'thop_equivalent', None) if inspect.isfunction(value) else None
            if name is not None:
                function_rules.append((owner, attr, THOP_FUNCTION_RULES[name]))
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
        if name in ops.FAST_OPS:
            op = ops.FAST_OPS[name]
            patches.append(_Patch(ops, name, name, _registry_rule(op.flops), _registry_rule(op.thop),
                                  op.thop_kind or name, _registry_rule(op.thop_params, with_output=False), known_params=op.params))
        else:
            patches.append(_Patch(ops, name, name, uncounted=True))
    return patches


