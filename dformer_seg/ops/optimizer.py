"""One AdamW step of one parameter as a multi-threaded kernel (``csrc/adamw.h``).

jt.optim.AdamW updates each parameter with fused elementwise kernels that
Jittor runs on one core; for a model of tens of millions of parameters that
is a noticeable part of a CPU training step. The kernel computes the same
expressions, in the same order, on all threads. Used by
:class:`dformer_seg.engine.optim.AdamW` (the toolbox's ``AdamW``).
"""
import jittor as jt

from . import flop_rules, kernels
from .dispatch import use_kernel
from .op_registry import fast_op

_HEADERS = ('adamw.h',)
_HYPER = ('decay', 'b1', 'one_minus_b1', 'b2', 'one_minus_b2', 'sqrt_correction2', 'eps', 'step_size')


def _hyper(lr, beta1, beta2, eps, weight_decay, step):
    values = (1 - lr * weight_decay, beta1, 1 - beta1, beta2, 1 - beta2, (1 - beta2 ** step) ** 0.5, eps,
              lr / (1 - beta1 ** step))
    return dict(zip(_HYPER, (float(v) for v in values)))


def plain_adamw_step(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, step):
    """jt.optim.AdamW's expressions for one parameter: returns the new (param, exp_avg, exp_avg_sq)."""
    exp_avg = beta1 * exp_avg + (1 - beta1) * grad
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad * grad
    denom = jt.sqrt(exp_avg_sq) / jt.sqrt(1 - beta2 ** step) + eps
    return param * (1 - lr * weight_decay) - (lr / (1 - beta1 ** step)) * exp_avg / denom, exp_avg, exp_avg_sq


@fast_op(plain=plain_adamw_step, headers=_HEADERS, needs_onednn=False,
         applies='float32 tensors of one shape (an optimizer update: no gradient)', gradient='none (an update)',
         flops=flop_rules.adamw_step)
def adamw_step(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, step):
    """New ``(param, exp_avg, exp_avg_sq)`` after AdamW step number ``step`` (1-based) with gradient ``grad``."""
    shape = tuple(param.shape)
    if any(tuple(t.shape) != shape for t in (grad, exp_avg, exp_avg_sq)):
        raise ValueError(f'adamw_step: param, grad and both moments must share one shape, got {shape}, '
                         f'{tuple(grad.shape)}, {tuple(exp_avg.shape)} and {tuple(exp_avg_sq.shape)}')
    if step < 1:
        raise ValueError(f'adamw_step: step counts from 1, got {step}')
    if not use_kernel('adamw_step', param, grad, exp_avg, exp_avg_sq):
        return plain_adamw_step(param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay, step)
    arguments = ', '.join(f'data["{name}"]' for name in _HYPER)  # runtime values: one kernel for every step
    # Not under jt.no_grad(): param.update(result) would carry the result's stop_grad over to the parameter.
    return tuple(kernels.code('adamw_step', [shape] * 3, ['float32'] * 3, [param, grad, exp_avg, exp_avg_sq],
                              _HEADERS, 'dformer_seg::adamw_step(in0_p, in1_p, in2_p, in3_p, out0_p, out1_p, out2_p, '
                              f'in0->num, {arguments});', data=_hyper(lr, beta1, beta2, eps, weight_decay, step)))
