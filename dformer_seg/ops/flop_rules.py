"""FLOP rules of the fast ops, in multiply-accumulate units (see :mod:`dformer_seg.analysis`).

Each rule takes a call's bound arguments (a dict) and its output. The full
count is what the op's plain Jittor formulation computes, so a model's count
does not depend on whether the kernels run; in thop's convention the ops are
functional (zero), except the convolutions, which stand for the ``nn.Conv2d``
whose parameters they are given.
"""
import math

import jittor as jt

# thop's per-output-element cost of interpolation (count_upsample).
INTERPOLATION_COSTS = {'nearest': 0, 'linear': 5, 'bilinear': 11, 'bicubic': 259, 'trilinear': 31}

# Elementwise cost of the activation functions Jittor implements (see dformer_seg.analysis).
ACTIVATION_COSTS = {'relu': 1, 'relu6': 2, 'leaky_relu': 2, 'gelu': 5, 'silu': 2, 'sigmoid': 1, 'tanh': 1}


def numel(value):
    """Elements of a ``jt.Var`` (0 for anything else)."""
    if not isinstance(value, jt.Var):
        return 0
    return math.prod(int(s) for s in value.shape)


def output_numel(output):
    """Elements of a call's result; a tuple/list result counts its Vars."""
    if isinstance(output, (list, tuple)):
        return sum(output_numel(o) for o in output)
    return numel(output)


def softmax_rows(x, dim):
    """(rows, n) of a softmax of ``x`` along ``dim`` (None: over everything)."""
    if dim is None or dim == ():
        return 1, numel(x)
    n = int(x.shape[dim])
    return numel(x) // n, n


def softmax_cost(rows, n):
    """max, subtract, exp, sum and divide: (5n - 2) per row of n."""
    return rows * (5 * n - 2)


def _activation_cost(activation, output):
    """An activation fused into an op (e.g. ``activation='gelu'``): its elementwise cost per output."""
    if activation is None:
        return 0
    if activation not in ACTIVATION_COSTS:
        raise ValueError(f'FLOP counting: unknown fused activation {activation!r}; known: {sorted(ACTIVATION_COSTS)}')
    return ACTIVATION_COSTS[activation] * output_numel(output)


def _terms_cost(output, *terms):
    """One operation per output element for each given term (a bias add, a residual add, a multiplier)."""
    return sum(output_numel(output) for term in terms if term is not None)


def matmul(arguments, output):
    a = arguments['a']
    inner = a.shape[-2] if arguments['trans_a'] else a.shape[-1]
    return output_numel(output) * int(inner)


def softmax(arguments, output):
    x = arguments['x']
    rows, n = softmax_rows(x, arguments['dim'])
    return (numel(x) if arguments['bias'] is not None else 0) + softmax_cost(rows, n)


def layer_norm(arguments, output):
    """Mean, subtract, square, mean, divide, scale, shift per element; + eps and sqrt per row."""
    x = arguments['x']
    n = numel(x)
    return 7 * n + 2 * (n // int(x.shape[-1]))


def gelu(arguments, output):
    return _activation_cost('gelu', output)


def bilinear_resize(arguments, output):
    return INTERPOLATION_COSTS['bilinear'] * numel(output)


def linear(arguments, output):
    """Multiply-adds, the bias add, the activation, the multiplier and the residual add (each when given)."""
    return (output_numel(output) * int(arguments['weight'].shape[1]) + _activation_cost(arguments['activation'], output)
            + _terms_cost(output, arguments['bias'], arguments['multiplier'], arguments['residual']))


def pointwise_conv2d(arguments, output):
    """weight (C_out, C_in, 1, 1): C_in multiply-adds per output, + the bias add."""
    return output_numel(output) * int(arguments['weight'].shape[1]) + _terms_cost(output, arguments['bias'])


def conv_multiply_adds(arguments, output):
    """As the nn.Conv2d a conv op stands for: output elements x (input channels per group x kernel area)."""
    return output_numel(output) * math.prod(int(s) for s in arguments['weight'].shape[1:])


def conv_params(arguments):
    """The conv's weight and bias, which thop counts as the parameters of the nn.Conv2d the op stands for."""
    return [v for v in (arguments['weight'], arguments['bias']) if isinstance(v, jt.Var)]


def depthwise_conv2d_nhwc(arguments, output):
    """The convolution, the bias and residual adds, then the activation (each when given)."""
    return (conv_multiply_adds(arguments, output) + _terms_cost(output, arguments['bias'], arguments['residual'])
            + _activation_cost(arguments['activation'], output))


def conv2d_nhwc(arguments, output):
    return conv_multiply_adds(arguments, output) + _terms_cost(output, arguments['bias'])


def attention_cost(batch, lq, lk, d, dv, with_bias):
    """q k^T, the bias add, softmax over each of the lq rows, then the product with v."""
    scores = batch * lq * lk
    return scores * d + (scores if with_bias else 0) + softmax_cost(batch * lq, lk) + batch * lq * dv * lk


def attention(arguments, output):
    q, k, v = arguments['q'], arguments['k'], arguments['v']
    lq, d = int(q.shape[-2]), int(q.shape[-1])
    return attention_cost(numel(q) // (lq * d), lq, int(k.shape[-2]), d, int(v.shape[-1]),
                          arguments['bias'] is not None)


def _axis_prior_cost(batch, heads, lines, length):
    """prior = a * (|i - j| * decay) + b * (|d_i - d_j| * decay), built as the plain formulation does:
    the index ramp (jt.arange: start + i * step), |i - j| (2 per L x L), x decay and x a (per head),
    |d_i - d_j| (2 per line), x decay, x b and the sum (per head and line)."""
    square = length * length
    return (2 * length + (2 + 2 * heads) * square + 2 * batch * lines * square
            + 3 * batch * heads * lines * square)


def geometry_prior(arguments, output):
    batch, _, height, width = (int(s) for s in arguments['depth'].shape)
    lines, length = (width, height) if arguments['columns'] else (height, width)
    return _axis_prior_cost(batch, int(arguments['decay'].shape[0]), lines, length)


def decomposed_geometry_attention(arguments, output):
    """Attention along W in each row, then along H in each column, each with its prior as the bias."""
    batch, heads, height, width, head_dim = (int(s) for s in arguments['q'].shape)
    total = 0
    for lines, length in ((height, width), (width, height)):
        total += _axis_prior_cost(batch, heads, lines, length)
        total += attention_cost(batch * heads * lines, length, length, head_dim, head_dim, True)
    return total


def rotate_pairs(arguments, output):
    """x * cos + rotate(x) * sin: two multiplies and an add per element, the negation per pair."""
    n = numel(arguments['x'])
    return 3 * n + n // 2


def softmax_cross_entropy(arguments, output):
    """A log-softmax over the classes of every pixel (max, subtract, exp, sum, log, subtract) and the pick."""
    logits = arguments['logits']
    pixels, classes = numel(logits) // int(logits.shape[1]), int(logits.shape[1])
    return softmax_cost(pixels, classes) + pixels


def adamw_step(arguments, output):
    """Decay, two moment updates, the square root, division and update: 12 operations per element."""
    return 12 * numel(arguments['param'])


def batch_norm_train(arguments, output):
    """Per element: the two sums (x, x^2: 3) and the affine transform (2); per channel the statistics (about 8)."""
    x = arguments['x']
    return 5 * numel(x) + 8 * int(x.shape[1])
