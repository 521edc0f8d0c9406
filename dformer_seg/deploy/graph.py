"""The ONNX graph under construction and the tensors that stand for its values while a model is traced.

:class:`GraphBuilder` collects nodes and constants as plain Python and numpy
objects; only :meth:`GraphBuilder.to_model` needs the ``onnx`` package.
:class:`TracedTensor` behaves enough like a ``jt.Var`` (shape, reshape,
permute, slicing, arithmetic) for the models' ``execute`` code to run on it:
each operation adds nodes to the graph instead of computing. Values that do
not depend on the inputs (parameters, tables built from shapes) stay real
Jittor or numpy arrays and enter the graph as constants where they meet a
traced tensor.
"""
import hashlib
import numbers

import numpy as np

from .errors import ExportError


class GraphBuilder:
    """Nodes, constants, inputs and outputs of one ONNX graph.

    Constants are stored once per identity (a parameter used twice) and per
    content (equal tables computed twice), and named after ``constant_names``
    (the model's state-dict keys, by ``id`` of the ``jt.Var``) where known.
    """

    def __init__(self, opset, constant_names=None):
        self.opset = int(opset)
        self.nodes = []          # (op_type, inputs, outputs, attributes)
        self.constants = {}      # name -> numpy array
        self.inputs = []         # (name, shape, dtype)
        self.outputs = []        # (name, shape, dtype)
        self._constant_keys = {}
        self._constant_names = dict(constant_names or {})
        self._counter = 0
        self._kept = []

    def fresh(self, hint):
        self._counter += 1
        return f'{hint}_{self._counter}'

    def add_input(self, name, shape, dtype='float32'):
        self.inputs.append((name, tuple(shape), dtype))
        return TracedTensor(self, name, shape, dtype)

    def add_output(self, tensor, name):
        self.node('Identity', [tensor.name], outputs=[name])
        self.outputs.append((name, tensor.shape, tensor.dtype))

    def constant(self, value, key=None, name_hint=None):
        """The graph name of a constant (numpy array, ``jt.Var`` or number).

        A ``jt.Var`` is keyed by its identity and named after its state-dict key;
        equal arrays are stored once (e.g. the rotary tables that every block of
        a DFormerv2 stage computes for itself).
        """
        if key is None and not isinstance(value, (np.ndarray, numbers.Number)):
            key = id(value)
            name_hint = name_hint or self._constant_names.get(key)
        if key is not None and key in self._constant_keys:
            return self._constant_keys[key]
        array = to_numpy(value)
        content_key = ('value', array.dtype.str, array.shape, hashlib.sha1(array.tobytes()).digest())
        name = self._constant_keys.get(content_key)
        if name is None:
            name = name_hint if name_hint and name_hint not in self.constants else self.fresh('const')
            self.constants[name] = array
            self._constant_keys[content_key] = name
        if key is not None:
            self._constant_keys[key] = name
            self._kept.append(value)  # an identity key stays valid only while its object lives
        return name

    def parameter_name(self, value, suffix=''):
        """The state-dict key of a model parameter (with ``suffix``), or None."""
        name = self._constant_names.get(id(value))
        return name + suffix if name else None

    def node(self, op_type, inputs, attributes=None, outputs=None):
        """Add a node; returns the names of its outputs (one fresh name unless ``outputs`` is given)."""
        outputs = outputs or [self.fresh(op_type.lower())]
        self.nodes.append((op_type, list(inputs), list(outputs), dict(attributes or {})))
        return outputs

    def op(self, op_type, inputs, shape, attributes=None, dtype='float32'):
        """A one-output node whose result has ``shape``; ``inputs`` are traced tensors or constants."""
        names = [self.name_of(value) for value in inputs]
        return TracedTensor(self, self.node(op_type, names, attributes)[0], shape, dtype)

    def reduce(self, op_type, x, axes, shape, keepdims):
        """ReduceMean / ReduceSum over ``axes`` (an input from opset 18 on, an attribute before)."""
        axes = [int(a) for a in axes]
        if op_type == 'ReduceSum' or self.opset >= 18:
            return self.op(op_type, [x, np.asarray(axes, dtype=np.int64)], shape, dict(keepdims=int(keepdims)))
        return self.op(op_type, [x], shape, dict(axes=axes, keepdims=int(keepdims)))

    def name_of(self, value):
        if value is None:
            return ''
        if isinstance(value, TracedTensor):
            return value.name
        return self.constant(value)

    def int64(self, values):
        return self.constant(np.asarray(values, dtype=np.int64))

    def to_model(self, graph_name='dformer_seg', metadata=None, output_names=None):
        """The ``onnx.ModelProto`` of this graph (with the outputs ``output_names``, default all)."""
        from .dependencies import require
        onnx = require('onnx')
        helper, numpy_helper = onnx.helper, onnx.numpy_helper
        elem = {'float32': onnx.TensorProto.FLOAT, 'int64': onnx.TensorProto.INT64}
        nodes = [helper.make_node(op_type, inputs, outputs, name=f'{op_type}_{i}', **attributes)
                 for i, (op_type, inputs, outputs, attributes) in enumerate(self.nodes)]
        initializers = [numpy_helper.from_array(array, name) for name, array in self.constants.items()]
        graph = helper.make_graph(
            nodes, graph_name,
            [helper.make_tensor_value_info(n, elem[d], list(s)) for n, s, d in self.inputs],
            [helper.make_tensor_value_info(n, elem[d], list(s)) for n, s, d in self.outputs
             if output_names is None or n in output_names],
            initializer=initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', self.opset)],
                                  producer_name='dformer_seg')
        model.ir_version = min(model.ir_version, 9)  # readable by onnxruntime >= 1.16
        for key, value in (metadata or {}).items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        return model


def to_numpy(value):
    if isinstance(value, np.ndarray):
        array = value
    elif hasattr(value, 'numpy'):
        array = value.numpy()
    elif isinstance(value, numbers.Number):
        array = np.asarray(value, dtype=np.float32)
    else:
        raise ExportError(f'cannot store a {type(value).__name__} as an ONNX constant')
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    return np.ascontiguousarray(array)


def constant_shape(value):
    if isinstance(value, TracedTensor):
        return value.shape
    if isinstance(value, numbers.Number):
        return ()
    return tuple(int(s) for s in value.shape)


def broadcast_shapes(*shapes):
    ndim = max(len(s) for s in shapes)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    result = []
    for dims in zip(*padded):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise ExportError(f'shapes {[tuple(s) for s in shapes]} do not broadcast')
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def _normalise_axis(axis, ndim):
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ExportError(f'axis {axis} is out of range for a {ndim}-d tensor')
    return axis % ndim


def _shape_args(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


class TracedTensor:
    """A float32 (or int64) value of the ONNX graph with a known static shape."""

    __array_ufunc__ = None  # numpy arrays and scalars defer to the reflected operators below

    def __init__(self, graph, name, shape, dtype='float32'):
        self.graph = graph
        self.name = name
        self.shape = tuple(int(s) for s in shape)
        self.dtype = dtype

    def __repr__(self):
        return f'TracedTensor({self.name}, shape={self.shape}, dtype={self.dtype})'

    @property
    def ndim(self):
        return len(self.shape)

    def numel(self):
        return int(np.prod(self.shape, dtype=np.int64))

    # Jittor Var methods that do nothing to a traced value.
    def float32(self):
        return self

    def stop_grad(self):
        return self

    def is_stop_grad(self):
        return True

    # ------------------------------------------------------------ layout
    def reshape(self, *shape):
        shape = list(_shape_args(shape))
        if shape.count(-1) > 1:
            raise ExportError(f'reshape to {tuple(shape)}: at most one -1')
        if -1 in shape:
            known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
            shape[shape.index(-1)] = self.numel() // known if known else 0
        if int(np.prod(shape, dtype=np.int64)) != self.numel():
            raise ExportError(f'cannot reshape {self.shape} to {tuple(shape)}')
        if tuple(shape) == self.shape:
            return self
        return self.graph.op('Reshape', [self, np.asarray(shape, dtype=np.int64)], shape, dtype=self.dtype)

    def permute(self, *dims):
        dims = [_normalise_axis(d, self.ndim) for d in _shape_args(dims)]
        if sorted(dims) != list(range(self.ndim)):
            raise ExportError(f'permute{tuple(dims)} is not a permutation of the {self.ndim} axes of {self.shape}')
        if dims == list(range(self.ndim)):
            return self
        return self.graph.op('Transpose', [self], [self.shape[d] for d in dims], dict(perm=dims), dtype=self.dtype)

    def transpose(self, *dims):
        """Jittor semantics: a full permutation, or two axes to swap."""
        dims = _shape_args(dims)
        if len(dims) == self.ndim:
            return self.permute(dims)
        if len(dims) == 2:
            perm = list(range(self.ndim))
            a, b = (_normalise_axis(d, self.ndim) for d in dims)
            perm[a], perm[b] = perm[b], perm[a]
            return self.permute(perm)
        raise ExportError(f'transpose{tuple(dims)} of a {self.ndim}-d tensor: give two axes or a permutation')

    def unsqueeze(self, dim):
        dim = _normalise_axis(dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim):
        dim = _normalise_axis(dim, self.ndim)
        if self.shape[dim] != 1:
            raise ExportError(f'squeeze({dim}) of shape {self.shape}: that axis is not 1')
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def broadcast(self, shape, dims=None):
        """Jittor's ``broadcast`` to a shape (or to another value's shape), without ``dims``."""
        if dims is not None:
            raise ExportError('broadcast with dims is not supported by the ONNX tracer')
        target = tuple(shape.shape) if hasattr(shape, 'shape') else _shape_args((shape,))
        shape = broadcast_shapes(self.shape, target)
        return self.graph.op('Expand', [self, np.asarray(shape, dtype=np.int64)], shape, dtype=self.dtype)

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        if any(i is Ellipsis for i in index):
            at = index.index(Ellipsis)
            index = index[:at] + (slice(None),) * (self.ndim - len(index) + 1) + index[at + 1:]
        if len(index) > self.ndim:
            raise ExportError(f'index {index} has more entries than the {self.ndim} axes of {self.shape}')
        starts, ends, axes, steps, shape, dropped = [], [], [], [], list(self.shape), []
        for axis, item in enumerate(index):
            size = self.shape[axis]
            if isinstance(item, slice):
                start, stop, step = item.indices(size)
                if step < 1:
                    raise ExportError(f'slice {item} on axis {axis}: only positive steps are supported')
                if (start, stop, step) == (0, size, 1):
                    continue
                shape[axis] = len(range(start, stop, step))
            elif isinstance(item, numbers.Integral):
                start = int(item) % size if -size <= item < size else None
                if start is None:
                    raise ExportError(f'index {item} is out of range for axis {axis} of size {size}')
                stop, step = start + 1, 1
                shape[axis] = 1
                dropped.append(axis)
            else:
                raise ExportError(f'indexing a traced tensor with {type(item).__name__} is not supported')
            starts.append(start)
            ends.append(stop)
            axes.append(axis)
            steps.append(step)
        result = self
        if axes:
            result = self.graph.op('Slice', [self] + [np.asarray(v, dtype=np.int64) for v in
                                                      (starts, ends, axes, steps)], shape, dtype=self.dtype)
        if dropped:
            result = result.reshape([s for axis, s in enumerate(shape) if axis not in dropped])
        return result

    # -------------------------------------------------------- arithmetic
    def _binary(self, op_type, other, reverse=False):
        shape = broadcast_shapes(self.shape, constant_shape(other))
        operands = [other, self] if reverse else [self, other]
        return self.graph.op(op_type, operands, shape)

    def __add__(self, other):
        return self._binary('Add', other)

    def __radd__(self, other):
        return self._binary('Add', other, reverse=True)

    def __sub__(self, other):
        return self._binary('Sub', other)

    def __rsub__(self, other):
        return self._binary('Sub', other, reverse=True)

    def __mul__(self, other):
        return self._binary('Mul', other)

    def __rmul__(self, other):
        return self._binary('Mul', other, reverse=True)

    def __truediv__(self, other):
        return self._binary('Div', other)

    def __rtruediv__(self, other):
        return self._binary('Div', other, reverse=True)

    def __neg__(self):
        return self.graph.op('Neg', [self], self.shape)

    def abs(self):
        return self.graph.op('Abs', [self], self.shape)

    def _reduce(self, op_type, dims, keepdims):
        dims = range(self.ndim) if dims is None else (dims if isinstance(dims, (tuple, list)) else (dims,))
        axes = sorted({_normalise_axis(d, self.ndim) for d in dims})
        shape = [1 if a in axes else s for a, s in enumerate(self.shape)]
        if not keepdims:
            shape = [s for a, s in enumerate(self.shape) if a not in axes]
        return self.graph.reduce(op_type, self, axes, shape, keepdims)

    def mean(self, dim=None, keepdims=False, dims=None):
        return self._reduce('ReduceMean', dims if dims is not None else dim, keepdims)

    def sum(self, dim=None, keepdims=False, dims=None):
        return self._reduce('ReduceSum', dims if dims is not None else dim, keepdims)


def is_traced(value):
    """Whether ``value`` (or any item of a list, tuple or dict in it) is a traced tensor."""
    if isinstance(value, TracedTensor):
        return True
    if isinstance(value, (list, tuple)):
        return any(is_traced(v) for v in value)
    if isinstance(value, dict):
        return any(is_traced(v) for v in value.values())
    return False
