"""The FLOP counter: wraps a model's modules and the functional ops, and counts one forward pass."""
import inspect
from collections import defaultdict
from dataclasses import dataclass, field

import jittor as jt
from jittor import nn

from ..ops.flop_rules import numel as _numel
from .rules import (
    CONVENTIONS,
    Call,
    _fast_op_module_rules,
    _fast_op_patches,
    _functional_patches,
    _jittor_module_rules,
    _Patch,
    _rule_for,
    thop_equivalents,
)


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
        equivalents, self._thop_function_rules = thop_equivalents(model)
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

