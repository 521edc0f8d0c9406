"""Batched matrix multiply with optional transposes, on both CPU cores.

On the CPU, Jittor turns a matmul of 3-D or higher tensors into a
broadcast-multiply-reduce kernel that runs on one core. Here every matrix
pair goes to oneDNN's ``dnnl_sgemm``: the batch is split over the OpenMP
threads when it is large enough, otherwise each product is multi-threaded
inside oneDNN. Transposes are passed to the GEMM as flags, so attention
scores ``q @ k^T`` never materialise ``k^T``.
"""
import jittor as jt

from . import flop_rules, kernels
from .dispatch import use_kernel
from .op_registry import fast_op

_HEADERS = ('matmul.h',)


def _check_operands(a, b, trans_a, trans_b):
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f'matmul needs operands with at least 2 dims, got {tuple(a.shape)} and {tuple(b.shape)}')
    k_a = a.shape[-2] if trans_a else a.shape[-1]
    k_b = b.shape[-1] if trans_b else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f'matmul: inner sizes differ ({k_a} vs {k_b}) for shapes {tuple(a.shape)} '
                         f'(trans_a={trans_a}) and {tuple(b.shape)} (trans_b={trans_b})')


def _gemm_kernel(a3, b3, trans_a, trans_b):
    """Run the oneDNN kernel on 3-D contiguous operands."""
    m = a3.shape[2] if trans_a else a3.shape[1]
    n = b3.shape[1] if trans_b else b3.shape[2]
    flags = f"'{'T' if trans_a else 'N'}', '{'T' if trans_b else 'N'}'"
    return kernels.code('matmul', (a3.shape[0], m, n), 'float32', [a3, b3], _HEADERS,
                        'dformer_seg::batched_gemm(in0_p, in1_p, out0_p, in0_shape0, in0_shape1, in0_shape2, '
                        f'in1_shape1, in1_shape2, {flags});')


class _BatchedGemm(jt.Function):
    """oneDNN batched GEMM with its gradient (itself a pair of batched GEMMs)."""

    def __init__(self, trans_a, trans_b):
        self.trans_a = trans_a
        self.trans_b = trans_b

    def execute(self, a3, b3):
        self.saved = a3, b3
        return _gemm_kernel(a3, b3, self.trans_a, self.trans_b)

    def grad(self, grad_c):
        a3, b3 = self.saved
        ta, tb = self.trans_a, self.trans_b
        # c = op(a) op(b): each operand's gradient is again a product of c's gradient and the other operand.
        grad_a = _gemm_kernel(b3, grad_c, tb, True) if ta else _gemm_kernel(grad_c, b3, False, not tb)
        grad_b = _gemm_kernel(grad_c, a3, True, ta) if tb else _gemm_kernel(a3, grad_c, not ta, False)
        return grad_a, grad_b


def plain_matmul(a, b, trans_a=False, trans_b=False):
    if trans_a:
        a = a.transpose(tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2))
    if trans_b:
        b = b.transpose(tuple(range(b.ndim - 2)) + (b.ndim - 1, b.ndim - 2))
    return jt.matmul(a, b)


@fast_op(plain=plain_matmul, headers=_HEADERS, needs_onednn=True, applies='operands with the same batch dims',
         gradient='kernel (two batched GEMMs)', flops=flop_rules.matmul)
def matmul(a, b, trans_a=False, trans_b=False):
    """``op(a) @ op(b)`` over matching leading (batch) dims; ``op`` transposes the last two dims when asked.

    Both operands need the same batch dims on the fast path; other shapes
    (broadcast batch dims, non-float32, CUDA) use ``jt.matmul``.
    """
    _check_operands(a, b, trans_a, trans_b)
    batch_shape = tuple(a.shape[:-2])
    if not (use_kernel('matmul', a, b) and batch_shape == tuple(b.shape[:-2])):
        return plain_matmul(a, b, trans_a, trans_b)
    batch = 1
    for size in batch_shape:
        batch *= size
    a3 = a.reshape((batch,) + tuple(a.shape[-2:]))
    b3 = b.reshape((batch,) + tuple(b.shape[-2:]))
    c3 = _BatchedGemm(trans_a, trans_b)(a3, b3)
    return c3.reshape(batch_shape + tuple(c3.shape[1:]))
