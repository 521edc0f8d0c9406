"""Softmax cross-entropy of every pixel of NCHW logits in one pass (``csrc/cross_entropy.h``).

The plain form (max, subtract, exp, sum, log, gather over the class axis of
the full-resolution logits) is a chain of one-core Jittor kernels over
(N, C, H, W) tensors and their gradients, a sizeable part of a training step
at 480x640. The kernel computes the loss and keeps only the log-sum-exp per
pixel; its backward writes ``softmax - onehot`` in one pass.
"""
import jittor as jt

from . import flop_rules, kernels
from .dispatch import use_kernel
from .op_registry import fast_op

_HEADERS = ('cross_entropy.h',)
_SHAPE_ARGS = 'in0_shape0, in0_shape1, in0_shape2 * in0_shape3'  # batch, classes, pixels per image (NCHW logits)


def _ignore_args(ignore_index):
    return ('false, 0' if ignore_index is None else f'true, {int(ignore_index)}')


class _SoftmaxCrossEntropy(jt.Function):
    def __init__(self, ignore_index):
        self.ignore = _ignore_args(ignore_index)

    def execute(self, logits, label):
        loss, log_sum_exp = kernels.code(
            'softmax_cross_entropy', [label.shape, label.shape], ['float32', 'float32'], [logits, label], _HEADERS,
            f'dformer_seg::cross_entropy_forward(in0_p, in1_p, out0_p, out1_p, {_SHAPE_ARGS}, {self.ignore});')
        self.saved = logits, label, log_sum_exp
        return loss

    def grad(self, grad_loss):
        logits, label, log_sum_exp = self.saved
        grad_logits = kernels.code(
            'softmax_cross_entropy', logits.shape, 'float32', [logits, label, log_sum_exp, grad_loss], _HEADERS,
            f'dformer_seg::cross_entropy_backward(in0_p, in1_p, in2_p, in3_p, out0_p, {_SHAPE_ARGS}, {self.ignore});')
        return grad_logits, None


def plain_softmax_cross_entropy(logits, label, ignore_index=None):
    shifted = logits - logits.max(dim=1, keepdims=True)
    log_prob = shifted - shifted.exp().sum(dim=1, keepdims=True).log()
    if ignore_index is None:
        return -log_prob.gather(1, label.unsqueeze(1)).squeeze(1)
    valid = label != ignore_index
    safe_label = jt.ternary(valid, label, jt.zeros_like(label))  # any class index; the loss is zeroed there
    return -log_prob.gather(1, safe_label.unsqueeze(1)).squeeze(1) * valid.float32()


@fast_op(plain=plain_softmax_cross_entropy, headers=_HEADERS, needs_onednn=False,
         applies='float32 logits, int32 labels', gradient='kernel (logits)', flops=flop_rules.softmax_cross_entropy)
def softmax_cross_entropy(logits, label, ignore_index=None):
    """``-log softmax(logits, dim=1)[label]`` per pixel: logits (N, C, *S), int32 label (N, *S) -> (N, *S).

    Pixels labelled ``ignore_index`` get 0 (and no gradient). Labels must lie
    in [0, C) otherwise (the kernel gives NaN for others; check them first).
    """
    if logits.ndim < 2 or tuple(label.shape) != (logits.shape[0],) + tuple(logits.shape[2:]):
        raise ValueError(f'softmax_cross_entropy: logits (N, C, *S) and label (N, *S) do not fit: '
                         f'{tuple(logits.shape)} and {tuple(label.shape)}')
    if str(label.dtype) != 'int32':
        raise TypeError(f'softmax_cross_entropy: label must be int32, got {label.dtype}')
    if not use_kernel('softmax_cross_entropy', logits):
        return plain_softmax_cross_entropy(logits, label, ignore_index)
    return _SoftmaxCrossEntropy(ignore_index)(logits, label)
