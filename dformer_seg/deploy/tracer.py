"""Trace a segmentor into an ONNX graph by running its own ``execute`` code on traced tensors.

While tracing, the public functions of :mod:`dformer_seg.ops` (looked up by
the models as ``ops.<name>``), the few Jittor functions the models call on
feature maps (``jt.concat``, ``nn.relu``, ``nn.softmax``, ``nn.bmm``,
``nn.matmul``) and ``Module.__call__`` are replaced, for calls that involve
a :class:`~.graph.TracedTensor`, by their ONNX emitters; calls on real
``jt.Var`` values (parameters, shape-derived tables) run as usual, so those
values are computed by Jittor and stored as constants.
"""
import contextlib

import jittor as jt
from jittor import nn

from .. import ops
from ..models.decode_heads.ham_head import NMF2D
from . import op_emitters
from .errors import ExportError, UnsupportedModuleError
from .graph import GraphBuilder, TracedTensor, is_traced
from .modules import MODULE_EMITTERS, describe, is_traceable

# Public names of dformer_seg.ops that compute nothing (the registry, the kernel switch); classes are modules.
OPS_WITHOUT_EMITTER = ops.HELPER_NAMES
# Binary operators of jt.Var that must hand over to the traced tensor when it is the right operand.
VAR_OPERATORS = {'__add__': '__radd__', '__sub__': '__rsub__', '__mul__': '__rmul__', '__truediv__': '__rtruediv__'}


def check_exportable(model):
    """Refuse models whose evaluation is random or in training mode, naming the module."""
    for name, module in model.named_modules():
        if module.is_training():
            raise ExportError(f'module {name or "<model>"} is in training mode; call model.eval() before export')
        injected_bases = '_build_bases' in vars(module)  # fixed bases put in place by the user (see NMF2D)
        if isinstance(module, NMF2D) and module.rand_init and module.bases_seed is None and not injected_bases:
            raise ExportError(
                f'{name}: the LightHamHead NMF draws random bases on every forward (nmf_seed=None), so it has no '
                'fixed graph; export with seeded bases, e.g. --cfg-options model.decode_head.nmf_seed=0')


class Tracer:
    """Records one forward pass of ``model`` into a :class:`GraphBuilder`."""

    def __init__(self, model, opset):
        names = {id(var): key for key, var in model.state_dict().items()}
        names.update({id(var): key for key, var in model.named_parameters()})
        self.graph = GraphBuilder(opset, names)
        self.module_names = {id(module): name for name, module in model.named_modules()}
        self.path = []

    def where(self, module=None):
        if module is not None:
            name = self.module_names.get(id(module))
            if name is not None:
                return name or '<model>'
        return self.path[-1] if self.path else '<model>'

    # -------------------------------------------------------------- modules
    def call_module(self, module, args, kwargs):
        cls = type(module)
        where = self.where(module)
        emitter = MODULE_EMITTERS.get(cls)
        if emitter is None and not is_traceable(cls):
            raise UnsupportedModuleError(
                f'module {where} ({describe(cls)}) has no ONNX emitter and is not known to be traceable; '
                'declare onnx_traceable = True on the class (or register it with '
                'dformer_seg.deploy.register_traceable_module), or give it an emitter '
                '(dformer_seg.deploy.register_module_emitter)')
        self.path.append(where)
        try:
            return emitter(module, *args, **kwargs) if emitter else module.execute(*args, **kwargs)
        except ExportError as exc:
            if getattr(exc, 'located', False):
                raise
            located = type(exc)(f'{where} ({cls.__name__}): {exc}')
            located.located = True
            raise located from exc
        except (AttributeError, RuntimeError, TypeError) as exc:
            if 'TracedTensor' not in str(exc):
                raise
            first_line = str(exc).strip().splitlines()[0]
            located = ExportError(f'{where} ({cls.__name__}): an operation the ONNX tracer does not record received '
                                  f'a traced tensor ({first_line}); give it an emitter')
            located.located = True
            raise located from exc
        finally:
            self.path.pop()

    # -------------------------------------------------------------- patching
    def _dispatch(self, name, original, emitter):
        def patched(*args, **kwargs):
            if is_traced(args) or is_traced(kwargs):
                if emitter is None:
                    raise ExportError(f'op {name} has no ONNX emitter (add one to dformer_seg.deploy.op_emitters.'
                                      'OP_EMITTERS)')
                return emitter(*args, **kwargs)
            return original(*args, **kwargs)
        return patched

    def _patches(self):
        patches = []
        for name in ops.__all__:
            value = getattr(ops, name)
            if name in OPS_WITHOUT_EMITTER or isinstance(value, type):
                continue
            patches.append((ops, name, self._dispatch(f'ops.{name}', value, op_emitters.OP_EMITTERS.get(name))))
        for owner, name, emitter in ((jt, 'concat', op_emitters.concat), (jt, 'cat', op_emitters.concat),
                                     (nn, 'relu', op_emitters.relu), (nn, 'matmul', op_emitters.matmul),
                                     (nn, 'bmm', op_emitters.matmul),
                                     (nn, 'softmax', lambda x, dim=None: op_emitters.softmax(x, dim=-1 if dim is None
                                                                                           else dim))):
            if hasattr(owner, name):
                patches.append((owner, name, self._dispatch(f'{owner.__name__}.{name}', getattr(owner, name),
                                                            emitter)))
        for name, reflected in VAR_OPERATORS.items():
            original = getattr(jt.Var, name)

            def operator(var, other, original=original, reflected=reflected):
                if isinstance(other, TracedTensor):
                    return getattr(other, reflected)(var)
                return original(var, other)
            patches.append((jt.Var, name, operator))
        original_call = jt.Module.__call__
        tracer = self

        def module_call(module, *args, **kwargs):
            if is_traced(args) or is_traced(kwargs):
                return tracer.call_module(module, args, kwargs)
            return original_call(module, *args, **kwargs)
        patches.append((jt.Module, '__call__', module_call))
        return patches

    @contextlib.contextmanager
    def patched(self):
        applied = []
        try:
            for owner, name, replacement in self._patches():
                applied.append((owner, name, getattr(owner, name)))
                setattr(owner, name, replacement)
            yield self
        finally:
            for owner, name, original in reversed(applied):
                setattr(owner, name, original)


def trace_segmentor(model, shape, depth_channels, output='logits', opset=18, batch=1):
    """The :class:`GraphBuilder` of ``model.encode_decode`` for inputs ``rgb`` (batch, 3, H, W) and
    ``depth`` (batch, depth_channels, H, W); outputs ``logits`` (batch, classes, H, W) and, for
    ``output='labels'``, also ``labels`` (batch, H, W, int64)."""
    if output not in ('logits', 'labels'):
        raise ValueError(f"output must be 'logits' or 'labels', got {output!r}")
    check_exportable(model)
    tracer = Tracer(model, opset)
    graph = tracer.graph
    height, width = shape
    rgb = graph.add_input('rgb', (batch, 3, height, width))
    depth = graph.add_input('depth', (batch, depth_channels, height, width))
    with tracer.patched(), jt.no_grad():
        logits = model.encode_decode(rgb, depth)
    if not isinstance(logits, TracedTensor):
        raise ExportError(f'the model returned {type(logits).__name__}, not a traced tensor')
    graph.add_output(logits, 'logits')
    if output == 'labels':
        labels = graph.op('ArgMax', [logits], (logits.shape[0],) + logits.shape[2:], dict(axis=1, keepdims=0),
                          dtype='int64')
        graph.add_output(labels, 'labels')
    return graph
