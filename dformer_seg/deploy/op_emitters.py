"""The ONNX form of every computing function of :mod:`dformer_seg.ops`, keyed by its public name.

Each emitter takes the op's own arguments (traced tensors for values that
depend on the model inputs; ``jt.Var`` or numpy arrays for parameters and
fixed tables, which become constants) and returns the traced result. Each
follows the op's plain Jittor formulation (the one that runs with
``fast_ops(False)``) step by step, so that ONNX Runtime computes the same
numbers up to float32 rounding.

:data:`OP_EMITTERS` is the table the tracer patches in for ``ops.<name>``;
a public op missing from it stops the export with its name.
"""
import math

import numpy as np

from ..utils.shapes import int_pair
from .errors import ExportError
from .graph import TracedTensor, broadcast_shapes, constant_shape, to_numpy


def graph_of(*values):
    for value in values:
        if isinstance(value, TracedTensor):
            return value.graph
    raise ExportError('an op emitter was called without any traced tensor')


def as_traced(graph, value):
    """``value`` as a traced tensor (constants are stored in the graph)."""
    if isinstance(value, TracedTensor):
        return value
    return TracedTensor(graph, graph.constant(value), constant_shape(value))


def swap_last(graph, value):
    """``value`` with its last two axes swapped (constants are transposed in numpy)."""
    if isinstance(value, TracedTensor):
        return value.transpose(value.ndim - 2, value.ndim - 1)
    array = to_numpy(value)
    return np.ascontiguousarray(np.swapaxes(array, -1, -2))


def concat(values, dim=0):
    graph = graph_of(*values)
    tensors = [as_traced(graph, v) for v in values]
    ndim = tensors[0].ndim
    axis = dim % ndim
    shape = list(tensors[0].shape)
    shape[axis] = sum(t.shape[axis] for t in tensors)
    return graph.op('Concat', tensors, shape, dict(axis=axis))


def gelu(x):
    """``erf(x / sqrt(2)) + 1`` times ``x`` times 0.5, as ``nn.gelu``."""
    graph = x.graph
    erf = graph.op('Erf', [x / np.float32(math.sqrt(2.0))], x.shape)
    return (erf + np.float32(1.0)) * x * np.float32(0.5)


def relu(x):
    return x.graph.op('Relu', [x], x.shape)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """NCHW convolution (zero padding, PyTorch's weight layout)."""
    graph = x.graph
    weight_shape = constant_shape(weight)
    stride, padding, dilation = (int_pair(value, f'conv2d: {name}') for value, name in
                                 ((stride, 'stride'), (padding, 'padding'), (dilation, 'dilation')))
    out_hw = [(x.shape[2 + i] + 2 * padding[i] - dilation[i] * (weight_shape[2 + i] - 1) - 1) // stride[i] + 1
              for i in range(2)]
    inputs = [x, weight] + ([bias] if bias is not None else [])
    attributes = dict(kernel_shape=list(weight_shape[2:]), strides=list(stride), dilations=list(dilation),
                      pads=[padding[0], padding[1], padding[0], padding[1]], group=int(groups))
    return graph.op('Conv', inputs, (x.shape[0], weight_shape[0], *out_hw), attributes)


def to_nchw(x):
    return x.permute(0, 3, 1, 2)


def to_nhwc(x):
    return x.permute(0, 2, 3, 1)


# ------------------------------------------------------------------ the ops of dformer_seg.ops
def linear(x, weight, bias=None, activation=None, multiplier=None, residual=None):
    """``residual + multiplier * activation(x @ weight^T + bias)``."""
    graph = graph_of(x)
    weight_t = graph.constant(to_numpy(weight).T, key=('transposed', id(weight)),
                              name_hint=graph.parameter_name(weight, '.T'))
    out_shape = x.shape[:-1] + (constant_shape(weight)[0],)
    y = TracedTensor(graph, graph.node('MatMul', [x.name, weight_t])[0], out_shape)
    if bias is not None:
        y = y + bias
    if activation == 'gelu':
        y = gelu(y)
    elif activation is not None:
        raise ExportError(f'linear: activation {activation!r} has no ONNX form')
    if multiplier is not None:
        y = as_traced(graph, multiplier) * y
    return y if residual is None else residual + y


def layer_norm(x, weight, bias, eps):
    """LayerNormalization over the last axis (mean, biased variance around it, as PyTorch)."""
    return x.graph.op('LayerNormalization', [x, weight, bias], x.shape, dict(axis=-1, epsilon=float(eps)))


def matmul(a, b, trans_a=False, trans_b=False):
    graph = graph_of(a, b)
    a = swap_last(graph, a) if trans_a else a
    b = swap_last(graph, b) if trans_b else b
    a_shape, b_shape = constant_shape(a), constant_shape(b)
    if a_shape[-1] != b_shape[-2]:
        raise ExportError(f'matmul: {a_shape} and {b_shape} do not fit')
    shape = broadcast_shapes(a_shape[:-2], b_shape[:-2]) + (a_shape[-2], b_shape[-1])
    return graph.op('MatMul', [a, b], shape)


def softmax(x, dim=-1, bias=None):
    if bias is not None:
        x = x + bias if isinstance(x, TracedTensor) else as_traced(graph_of(bias), x) + bias
    return x.graph.op('Softmax', [x], x.shape, dict(axis=int(dim) % x.ndim))


def bilinear_resize(x, size, align_corners=False):
    """ONNX Resize (linear); PyTorch's ``align_corners=False`` rule is ONNX's 'pytorch_half_pixel'."""
    graph = x.graph
    size = tuple(int(s) for s in size)
    out_shape = x.shape[:2] + size
    mode = 'align_corners' if align_corners else 'pytorch_half_pixel'
    sizes = graph.int64(out_shape)
    name = graph.node('Resize', [x.name, '', '', sizes], dict(mode='linear', coordinate_transformation_mode=mode))
    return TracedTensor(graph, name[0], out_shape)


def pointwise_conv2d(x, weight, bias=None):
    return conv2d(x, weight, bias)


def depthwise_conv2d_nhwc(x, weight, bias=None, padding=0, residual=None, activation=None):
    """``activation(conv(x) + bias + residual)`` on NHWC maps: the conv runs on the NCHW view."""
    y = to_nhwc(conv2d(to_nchw(x), weight, bias, padding=padding, groups=x.shape[3]))
    y = y if residual is None else y + residual
    return gelu(y) if activation == 'gelu' else y


def conv2d_nhwc(x, weight, bias=None, stride=1, padding=0):
    return to_nhwc(conv2d(to_nchw(x), weight, bias, stride=stride, padding=padding))


def attention(q, k, v, bias=None):
    """``softmax(q k^T + bias) v``."""
    return matmul(softmax(matmul(q, k, trans_b=True), bias=bias), v)


def axis_prior(depth_lines, decay, weight):
    """The geometry prior along the last axis of ``depth_lines`` (B, 1, lines, L): (B, heads, lines, L, L).

    The position term depends on shapes only and is a constant; the depth
    term is traced. Same float32 operations as the op's plain formulation.
    """
    decay, weight = to_numpy(decay), to_numpy(weight).reshape(-1)
    length = depth_lines.shape[-1]
    index = np.arange(length, dtype=np.float32)
    distance = np.abs(index.reshape(-1, 1) - index.reshape(1, -1))
    position = (distance * decay.reshape(-1, 1, 1))[None, :, None]  # (1, heads, 1, L, L)
    depth_gap = (depth_lines.unsqueeze(-1) - depth_lines.unsqueeze(-2)).abs()  # (B, 1, lines, L, L)
    return weight[0] * position + weight[1] * (depth_gap * decay.reshape(-1, 1, 1, 1))


def geometry_prior(depth, decay, weight, columns=False):
    """The prior along every row (or column) of ``depth`` (B, 1, H, W)."""
    return axis_prior(depth.transpose(0, 1, 3, 2) if columns else depth, decay, weight)


def decomposed_geometry_attention(q, k, v, depth, decay, weight):
    """Attention along rows, then along columns, each with its geometry prior (heads-first q, k)."""
    batch, heads, height, width, head_dim = q.shape
    v = v.reshape(batch, height, width, heads, head_dim).permute(0, 3, 1, 2, 4)
    rows = attention(q, k, v, geometry_prior(depth, decay, weight))
    by_column = (0, 1, 3, 2, 4)
    columns = attention(q.permute(by_column), k.permute(by_column), rows.permute(by_column),
                        geometry_prior(depth, decay, weight, columns=True))
    return columns.permute(0, 3, 2, 1, 4).reshape(batch, height, width, heads * head_dim)


def rotate_pairs(x, sin, cos, heads=None):
    """``x * cos + rotate(x) * sin`` with ``rotate(x0, x1) = (-x1, x0)`` for adjacent channel pairs (x moved to
    heads-first first when ``heads`` is given)."""
    if heads is not None:
        table_shape = constant_shape(sin)
        positions = len(table_shape) - 1
        x = x.reshape(*x.shape[:-1], heads, table_shape[-1])
        x = x.permute(0, positions + 1, *range(1, positions + 1), positions + 2)
    pairs = x.reshape(x.shape[:-1] + (x.shape[-1] // 2, 2))
    rotated = concat([-pairs[..., 1:2], pairs[..., 0:1]], dim=-1).reshape(x.shape)
    return (x * to_numpy(cos)) + (rotated * to_numpy(sin))


def softmax_cross_entropy(logits, label, ignore_index=None):
    """ONNX's SoftmaxCrossEntropyLoss per pixel (reduction 'none'; ignored pixels give 0)."""
    graph = graph_of(logits)
    label = as_traced(graph, label)
    if label.dtype != 'int64':
        label = graph.op('Cast', [label], label.shape, dict(to=7), dtype='int64')  # 7: INT64
    attributes = dict(reduction='none')
    if ignore_index is not None:
        attributes['ignore_index'] = int(ignore_index)
    return graph.op('SoftmaxCrossEntropyLoss', [logits, label], label.shape, attributes)


def adamw_step(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, step):
    """One AdamW update as elementwise nodes, in the plain formulation's order: (param, exp_avg, exp_avg_sq)."""
    graph = graph_of(param, grad, exp_avg, exp_avg_sq)
    param, grad, exp_avg, exp_avg_sq = (as_traced(graph, t) for t in (param, grad, exp_avg, exp_avg_sq))
    exp_avg = exp_avg * np.float32(beta1) + grad * np.float32(1 - beta1)
    exp_avg_sq = exp_avg_sq * np.float32(beta2) + grad * grad * np.float32(1 - beta2)
    root = graph.op('Sqrt', [exp_avg_sq], exp_avg_sq.shape)
    denom = root / np.float32(math.sqrt(1 - beta2 ** step)) + np.float32(eps)
    step_size = np.float32(lr / (1 - beta1 ** step))
    return param * np.float32(1 - lr * weight_decay) - exp_avg * step_size / denom, exp_avg, exp_avg_sq


def batch_norm_train(x, weight, bias, eps=1e-5):
    """Training-mode BatchNorm with the batch's statistics (variance of the centred values): (y, mean, var)."""
    graph = x.graph
    dims = (0,) + tuple(range(2, x.ndim))
    channel_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = x.mean(dims=dims, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(dims=dims, keepdims=True)
    scale = np.asarray(to_numpy(weight)).reshape(channel_shape) / graph.op('Sqrt', [var + np.float32(eps)], var.shape)
    shift = np.asarray(to_numpy(bias)).reshape(channel_shape) - mean * scale
    return x * scale + shift, mean.reshape(x.shape[1]), var.reshape(x.shape[1])


OP_EMITTERS = {
    'adamw_step': adamw_step,
    'batch_norm_train': batch_norm_train,
    'attention': attention,
    'bilinear_resize': bilinear_resize,
    'conv2d_nhwc': conv2d_nhwc,
    'decomposed_geometry_attention': decomposed_geometry_attention,
    'depthwise_conv2d_nhwc': depthwise_conv2d_nhwc,
    'gelu': gelu,
    'geometry_prior': geometry_prior,
    'layer_norm': layer_norm,
    'linear': linear,
    'matmul': matmul,
    'pointwise_conv2d': pointwise_conv2d,
    'rotate_pairs': rotate_pairs,
    'softmax': softmax,
    'softmax_cross_entropy': softmax_cross_entropy,
}
