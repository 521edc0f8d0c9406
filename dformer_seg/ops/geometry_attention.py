"""DFormerv2's decomposed geometry attention on channels-last tensors.

Within every head, attention runs along W in each row, then along H in each
column of the row result. Each direction adds a geometry prior built from
the head's decay ``g`` and the mixing weights ``(a, b)``::

    prior[i, j] = a * (|i - j| * g) + b * (|d_i - d_j| * g)

with ``d`` the (resized) depth along that row or column.

q and k come heads-first (B, heads, H, W, d), as the rotary code leaves
them; v and the result are channels-last (B, H, W, C). The composed form
moves v to heads-first, builds both priors as (B, heads, rows, L, L) tensors
and runs :func:`attention` twice; it runs off the CPU and when a gradient
must reach the depth or the decay. Otherwise one kernel does everything in
place: its GEMMs read every row or column straight from memory with a
stride (no transposes), the prior is written into each score buffer before
the GEMM adds ``q k^T`` (no prior tensors), and the result is written
channels-last. In training the same kernel also keeps both passes'
probabilities and the row pass's result, and a backward kernel walks the
columns, then the rows, in the same layout (the scores' gradient and the
prior weights' gradient in one pass over each line's probabilities).
"""
import jittor as jt

from . import flop_rules, kernels
from .attention import attention
from .dispatch import needs_grad, use_kernel
from .op_registry import fast_op

_HEADERS = ('geometry_attention.h',)
_PRIOR_HEADERS = ('geometry_prior.h',)


def axis_prior(depth_lines, decay, weight):
    """The prior along the last axis of ``depth_lines`` (B, 1, lines, L): (B, heads, lines, L, L), composed of Jittor
    ops."""
    length = depth_lines.shape[-1]
    index = jt.arange(length).float32()
    distance = (index.reshape(-1, 1) - index.reshape(1, -1)).abs()
    position_term = (distance * decay.reshape(-1, 1, 1)).unsqueeze(0).unsqueeze(2)  # (1, heads, 1, L, L)
    depth_gap = (depth_lines.unsqueeze(-1) - depth_lines.unsqueeze(-2)).abs()  # (B, 1, lines, L, L)
    return weight[0] * position_term + weight[1] * (depth_gap * decay.reshape(-1, 1, 1, 1))


class _GeometryPrior(jt.Function):
    """The prior of every row (or column) as one kernel; its gradient reaches ``weight`` only."""

    def __init__(self, columns):
        self.columns = columns

    def _call(self, out_shape, inputs, kernel):
        return kernels.code('geometry_prior', out_shape, 'float32', inputs, _PRIOR_HEADERS,
                            f'dformer_seg::{kernel}(in0_p, in1_p, in2_p, out0_p, in0_shape0, in1_shape0, in0_shape2, '
                            f'in0_shape3, {str(self.columns).lower()});')

    def execute(self, depth, decay, weight):
        self.saved = depth, decay
        batch, _, height, width = depth.shape
        lines, length = (width, height) if self.columns else (height, width)
        return self._call((batch, decay.shape[0], lines, length, length), [depth, decay, weight],
                          'geometry_prior_forward')

    def grad(self, grad_prior):
        depth, decay = self.saved
        return None, None, self._call((2,), [depth, decay, grad_prior], 'geometry_prior_backward')


def plain_geometry_prior(depth, decay, weight, columns=False):
    return axis_prior(depth.transpose(0, 1, 3, 2) if columns else depth, decay, weight)


@fast_op(plain=plain_geometry_prior, headers=_PRIOR_HEADERS, needs_onednn=False,
         applies='depth and decay fixed (no gradient into them); weight may be trained',
         gradient='kernel (weight only)', flops=flop_rules.geometry_prior)
def geometry_prior(depth, decay, weight, columns=False):
    """The prior ``a * (|i - j| * g) + b * (|d_i - d_j| * g)`` along every row of ``depth`` (B, 1, H, W), or every
    column with ``columns``: (B, heads, H, W, W), or (B, heads, W, H, H). ``decay`` (heads,) holds g per head,
    ``weight`` (2, 1, 1, 1) holds (a, b)."""
    if depth.ndim != 4 or depth.shape[1] != 1 or decay.ndim != 1 or weight.numel() != 2:
        raise ValueError(f'geometry_prior: depth must be (B, 1, H, W), decay (heads,) and weight hold 2 values, got '
                         f'{tuple(depth.shape)}, {tuple(decay.shape)} and {tuple(weight.shape)}')
    if needs_grad(depth, decay) or not use_kernel('geometry_prior', depth, decay, weight):
        return plain_geometry_prior(depth, decay, weight, columns)
    return _GeometryPrior(columns)(depth, decay, weight.reshape(2))


def plain_decomposed_geometry_attention(q, k, v, depth, decay, weight):
    """The composed form: the priors as tensors and :func:`attention` along rows, then columns."""
    batch, heads, height, width, head_dim = q.shape
    v = v.reshape(batch, height, width, heads, head_dim).permute(0, 3, 1, 2, 4)  # (B, heads, H, W, d)
    rows = attention(q, k, v, geometry_prior(depth, decay, weight))
    by_column = (0, 1, 3, 2, 4)  # (B, heads, W, H, d)
    columns = attention(q.permute(by_column), k.permute(by_column), rows.permute(by_column),
                        geometry_prior(depth, decay, weight, columns=True))
    return columns.permute(0, 3, 2, 1, 4).reshape(batch, height, width, heads * head_dim)


_SHAPE_ARGS = 'in0_shape0, in0_shape1, in0_shape2, in0_shape3, in0_shape4'


class _DecomposedGeometryAttention(jt.Function):
    """Training: the forward keeps the row pass's result and both passes' probabilities; the backward kernel returns
    the gradients of q, k, v and the prior's two weights (depth and decay are fixed)."""

    def execute(self, q, k, v, depth, decay, weight):
        batch, heads, height, width, _ = q.shape
        shapes = [v.shape, v.shape, (batch, heads, height, width, width), (batch, heads, width, height, height)]
        outputs = kernels.code('decomposed_geometry_attention', shapes, ['float32'] * 4, [q, k, v, depth, decay, weight],
                               _HEADERS, 'dformer_seg::geometry_attention_train_forward(in0_p, in1_p, in2_p, in3_p, '
                               f'in4_p, in5_p, out0_p, out1_p, out2_p, out3_p, {_SHAPE_ARGS});')
        out, rows_out, row_probs, column_probs = outputs
        self.saved = q, k, v, depth, decay, rows_out, row_probs, column_probs
        self.weight_shape = weight.shape
        return out

    def grad(self, dout):
        q, k, v, depth, decay, rows_out, row_probs, column_probs = self.saved
        dq, dk, dv, dweight = kernels.code(
            'decomposed_geometry_attention', [q.shape, q.shape, v.shape, (2,)], ['float32'] * 4,
            [q, k, v, depth, decay, rows_out, row_probs, column_probs, dout], _HEADERS,
            'dformer_seg::geometry_attention_backward(in0_p, in1_p, in2_p, in3_p, in4_p, in5_p, in6_p, in7_p, in8_p, '
            f'out0_p, out1_p, out2_p, out3_p, {_SHAPE_ARGS});')
        return dq, dk, dv, None, None, dweight.reshape(self.weight_shape)


@fast_op(plain=plain_decomposed_geometry_attention, headers=_HEADERS, needs_onednn=True,
         applies='depth and decay fixed (no gradient into them); q, k, v and weight may be trained',
         gradient='kernel (q, k, v and weight)', flops=flop_rules.decomposed_geometry_attention)
def decomposed_geometry_attention(q, k, v, depth, decay, weight):
    """Row-then-column geometry attention; q, k (B, heads, H, W, d), v (B, H, W, heads * d).

    ``depth`` (B, 1, H, W) is the depth at the feature resolution, ``decay``
    (heads,) and ``weight`` (2, 1, 1, 1) the prior's parameters; q and k are
    used as given (rotated and scaled beforehand). Returns (B, H, W, C).
    """
    if q.ndim != 5 or tuple(k.shape) != tuple(q.shape):
        raise ValueError(f'decomposed_geometry_attention: q and k must share one (B, heads, H, W, d) shape, got '
                         f'{tuple(q.shape)} and {tuple(k.shape)}')
    batch, heads, height, width, head_dim = q.shape
    if tuple(v.shape) != (batch, height, width, heads * head_dim):
        raise ValueError(f'decomposed_geometry_attention: v must be {(batch, height, width, heads * head_dim)}, '
                         f'got {tuple(v.shape)}')
    if tuple(depth.shape) != (batch, 1, height, width):
        raise ValueError(f'decomposed_geometry_attention: depth must be {(batch, 1, height, width)}, '
                         f'got {tuple(depth.shape)}')
    if tuple(decay.shape) != (heads,) or weight.numel() != 2:
        raise ValueError(f'decomposed_geometry_attention: decay must be ({heads},) and weight hold 2 values, '
                         f'got {tuple(decay.shape)} and {tuple(weight.shape)}')
    operands = [q, k, v, depth, decay, weight]
    if needs_grad(depth, decay) or not use_kernel('decomposed_geometry_attention', *operands):
        return plain_decomposed_geometry_attention(q, k, v, depth, decay, weight)
    if needs_grad(q, k, v, weight):
        return _DecomposedGeometryAttention()(q, k, v, depth, decay, weight)
    return kernels.code('decomposed_geometry_attention', v.shape, 'float32', operands, _HEADERS,
                        'dformer_seg::geometry_attention_forward(in0_p, in1_p, in2_p, in3_p, in4_p, in5_p, out0_p, '
                        f'{_SHAPE_ARGS});')
