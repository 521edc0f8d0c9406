"""Attention ``softmax(q k^T + bias) v`` with the scores kept in cache (inference; ``csrc/attention.h``).

Composed of :func:`matmul` and :func:`softmax`, attention writes the whole
(..., Lq, Lk) score tensor to memory and reads it back twice; for DFormerv2's
row/column attention that tensor is far larger than q, k and v. When no
gradient is needed, one kernel handles one batch entry per thread: scores
into a private buffer (seeded with the bias, so that the GEMM adds it),
softmax in place, then the product with v, all on cache-resident data.

With gradients the composed form runs (still the fast kernels): its backward
needs the probabilities, and recomputing them inside a fused backward
measured slower than keeping them. Under ``inference_precision('bf16')`` both
products are oneDNN bf16 matmuls (q, k, v and the probabilities rounded to bf16;
scores, bias, softmax and output float32; :mod:`.precision`).
"""
from . import flop_rules, kernels
from .dispatch import needs_grad, use_kernel
from .matmul import matmul
from .op_registry import fast_op
from .precision import use_bf16
from .softmax import softmax

_HEADERS = ('attention.h',)


def _attention_kernel(q, k, v, bias=None, bf16=False):
    inputs = [q, k, v] if bias is None else [q, k, v, bias]
    bias_p = 'nullptr' if bias is None else 'in3_p'
    name, function = ('attention_bf16', 'attention_forward_bf16') if bf16 else ('attention', 'attention_forward')
    return kernels.code(name, (q.shape[0], q.shape[1], v.shape[2]), 'float32', inputs, _HEADERS,
                        f'dformer_seg::{function}(in0_p, in1_p, in2_p, {bias_p}, out0_p, in0_shape0, '
                        'in0_shape1, in1_shape1, in0_shape2, in2_shape2);')


def plain_attention(q, k, v, bias=None):
    """The composed form: :func:`matmul` and :func:`softmax` (fast ops themselves)."""
    return matmul(softmax(matmul(q, k, trans_b=True), bias=bias), v)


@fast_op(plain=plain_attention, headers=_HEADERS, needs_onednn=True, applies='inference (no gradient needed)',
         gradient='composed form (matmul and softmax kernels)', flops=flop_rules.attention)
def attention(q, k, v, bias=None):
    """``softmax(q @ k^T + bias) @ v`` over the last two dims.

    q (..., Lq, d), k (..., Lk, d), v (..., Lk, dv) and bias (..., Lq, Lk),
    all with the same leading dims. Scale q (or k) beforehand if needed.
    """
    batch_shape = tuple(q.shape[:-2])
    if q.ndim < 2 or tuple(k.shape[:-2]) != batch_shape or tuple(v.shape[:-2]) != batch_shape:
        raise ValueError(f'attention: q, k, v need the same leading dims, got {tuple(q.shape)}, '
                         f'{tuple(k.shape)}, {tuple(v.shape)}')
    if k.shape[-1] != q.shape[-1] or v.shape[-2] != k.shape[-2]:
        raise ValueError(f'attention: q (..., Lq, d), k (..., Lk, d) and v (..., Lk, dv) do not fit: '
                         f'{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}')
    expected_bias = batch_shape + (q.shape[-2], k.shape[-2])
    if bias is not None and tuple(bias.shape) != expected_bias:
        raise ValueError(f'attention: bias must have shape {expected_bias}, got {tuple(bias.shape)}')
    operands = [q, k, v] if bias is None else [q, k, v, bias]
    if needs_grad(*operands) or not use_kernel('attention', *operands):
        return plain_attention(q, k, v, bias)
    out = _attention_kernel(*[t.reshape((-1,) + tuple(t.shape[-2:])) for t in operands],
                            bf16=use_bf16('attention', *operands))
    return out.reshape(batch_shape + tuple(out.shape[1:]))
