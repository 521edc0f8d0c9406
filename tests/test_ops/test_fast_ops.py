"""Every op declared in the fast-op registry, against numpy and against its plain Jittor formulation.

For each entry: without gradients the kernel must run (counted by
``ops.kernels.kernel_builds``) and match a numpy reference; with gradients
the op must give the values and input gradients of its plain formulation
(run with the kernels switched off), and an op whose gradient is a kernel
must have built it. Where a kernel cannot run (no oneDNN, CUDA) the test is
skipped with the reason; it never compares the plain formulation with itself.
"""
from dataclasses import dataclass, field
from typing import Callable

import jittor as jt
import numpy as np
import pytest

from dformer_seg.ops import FAST_OPS, fast_ops, kernels
from dformer_seg.ops.dispatch import kernel_unavailable_reason

from numpy_ops import (
    numpy_adamw_step,
    numpy_attention,
    numpy_axis_prior,
    numpy_batch_norm_train,
    numpy_decomposed,
    numpy_depthwise_nhwc,
    numpy_gelu,
    numpy_layer_norm,
    numpy_linear,
    numpy_matmul,
    numpy_pointwise_conv,
    numpy_rotary,
    numpy_softmax,
    numpy_softmax_cross_entropy,
    reference_conv,
    torch_bilinear,
)


def uniform(rng, shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, size=shape).astype(np.float32)


@dataclass
class Case:
    """make(rng) -> (arrays by argument name, other arguments); reference(**both) -> numpy output."""
    make: Callable
    reference: Callable
    fixed: tuple = ()  # arrays that take no gradient
    atol: float = 1e-5
    rtol: float = 1e-5
    extra: dict = field(default_factory=dict)


def _geometry_inputs(rng):
    batch, heads, height, width, head_dim = 2, 2, 5, 6, 4
    decay = np.log(1 - 2.0 ** -np.arange(2, 2 + heads, dtype=np.float32)).astype(np.float32)
    return dict(q=uniform(rng, (batch, heads, height, width, head_dim)),
                k=uniform(rng, (batch, heads, height, width, head_dim)),
                v=uniform(rng, (batch, height, width, heads * head_dim)),
                depth=uniform(rng, (batch, 1, height, width), 0, 3), decay=decay,
                weight=uniform(rng, (2, 1, 1, 1), 0.5, 1.5)), {}


def _cross_entropy_inputs(rng):
    logits = uniform(rng, (2, 5, 17, 19), -4, 4)  # 323 pixels: a full block of 256 and a partial one
    label = rng.integers(0, 5, size=(2, 17, 19)).astype(np.int32)
    label[0, 1, 2:5] = 255  # ignored pixels
    return dict(logits=logits, label=label), dict(ignore_index=255)


def _adamw_inputs(rng):
    arrays = dict(param=uniform(rng, (7, 45)), grad=uniform(rng, (7, 45)), exp_avg=uniform(rng, (7, 45), -0.1, 0.1),
                  exp_avg_sq=uniform(rng, (7, 45), 0.0, 0.01))
    # Zero and tiny gradients (their squares are denormal): the update must stay finite.
    arrays['grad'][0, :5] = [0.0, 1e-20, -1e-22, 1e-25, 3e-19]
    arrays['exp_avg'][0, :5] = 0.0
    arrays['exp_avg_sq'][0, :5] = 0.0
    return arrays, dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, step=3)


def _prior_inputs(rng):
    arrays = _geometry_inputs(rng)[0]
    return {name: arrays[name] for name in ('depth', 'decay', 'weight')}, dict(columns=True)


CASES = {
    'gelu': Case(lambda rng: (dict(x=uniform(rng, (3, 37), -6, 6)), {}), numpy_gelu, atol=2e-6),
    'softmax': Case(lambda rng: (dict(x=uniform(rng, (4, 9), -3, 3), bias=uniform(rng, (4, 9), -3, 3)), dict(dim=-1)),
                    lambda x, bias, dim: numpy_softmax(x + bias)),
    'layer_norm': Case(lambda rng: (dict(x=uniform(rng, (2, 5, 12), -2, 2), weight=uniform(rng, (12,)),
                                         bias=uniform(rng, (12,))), dict(eps=1e-6)), numpy_layer_norm),
    'rotate_pairs': Case(  # channels-last x (B, 4, 5, heads * 6) with 2 heads -> (B, heads, 4, 5, 6)
        lambda rng: (dict(x=uniform(rng, (3, 4, 5, 12)), sin=uniform(rng, (4, 5, 6)), cos=uniform(rng, (4, 5, 6))),
                     dict(heads=2)),
        lambda x, sin, cos, heads: numpy_rotary(x.reshape(3, 4, 5, heads, 6).transpose(0, 3, 1, 2, 4), sin, cos),
        fixed=('sin', 'cos')),
    'bilinear_resize': Case(lambda rng: (dict(x=uniform(rng, (2, 3, 5, 4))), dict(size=(9, 7), align_corners=False)),
                            torch_bilinear),
    'matmul': Case(lambda rng: (dict(a=uniform(rng, (2, 5, 4)), b=uniform(rng, (2, 6, 4))),
                                dict(trans_a=False, trans_b=True)), numpy_matmul),
    'pointwise_conv2d': Case(lambda rng: (dict(x=uniform(rng, (2, 5, 3, 4)), weight=uniform(rng, (6, 5, 1, 1)),
                                               bias=uniform(rng, (6,))), {}), numpy_pointwise_conv),
    'linear': Case(lambda rng: (dict(x=uniform(rng, (2, 3, 8)), weight=uniform(rng, (6, 8)), bias=uniform(rng, (6,)),
                                     multiplier=uniform(rng, (6,)), residual=uniform(rng, (2, 3, 6))),
                                dict(activation='gelu')), numpy_linear),
    'conv2d_nhwc': Case(lambda rng: (dict(x=uniform(rng, (2, 7, 6, 3)), weight=uniform(rng, (5, 3, 3, 3)),
                                          bias=uniform(rng, (5,))), dict(stride=2, padding=1)),
                        lambda x, weight, bias, stride, padding: reference_conv(x, weight, bias, (stride,) * 2,
                                                                                (padding,) * 2)),
    'depthwise_conv2d_nhwc': Case(
        lambda rng: (dict(x=uniform(rng, (2, 6, 11, 20)), weight=uniform(rng, (20, 1, 3, 3)), bias=uniform(rng, (20,)),
                          residual=uniform(rng, (2, 6, 11, 20))), dict(padding=1, activation='gelu')),
        lambda x, weight, bias, residual, padding, activation: numpy_gelu(
            numpy_depthwise_nhwc(x, weight, bias, (padding, padding)).astype(np.float64) + residual)),
    'attention': Case(lambda rng: (dict(q=uniform(rng, (2, 5, 4)), k=uniform(rng, (2, 7, 4)), v=uniform(rng, (2, 7, 3)),
                                        bias=uniform(rng, (2, 5, 7), -2, 2)), {}), numpy_attention),
    'decomposed_geometry_attention': Case(
        _geometry_inputs,
        lambda q, k, v, depth, decay, weight: numpy_decomposed(q.astype(np.float64), k.astype(np.float64),
                                                               v.astype(np.float64), depth.astype(np.float64),
                                                               decay.astype(np.float64),
                                                               weight.reshape(2).astype(np.float64)),
        fixed=('decay', 'depth'), atol=2e-5),  # as in the model: the depth map is data (its prior is a kernel)
    'batch_norm_train': Case(lambda rng: (dict(x=uniform(rng, (2, 5, 6, 7), -2, 3), weight=uniform(rng, (5,), 0.5, 1.5),
                                                bias=uniform(rng, (5,))), dict(eps=1e-5)), numpy_batch_norm_train),
    'adamw_step': Case(_adamw_inputs, numpy_adamw_step, fixed=('param', 'grad', 'exp_avg', 'exp_avg_sq')),
    'softmax_cross_entropy': Case(_cross_entropy_inputs, numpy_softmax_cross_entropy, fixed=('label',)),
    'geometry_prior': Case(
        _prior_inputs,
        lambda depth, decay, weight, columns: numpy_axis_prior(
            (depth[:, 0].transpose(0, 2, 1) if columns else depth[:, 0]).astype(np.float64),
            decay.astype(np.float64), weight.reshape(2).astype(np.float64)),
        fixed=('decay', 'depth')),
}


def _call(function, arrays, options, fixed):
    variables = {name: jt.array(a).stop_grad() if name in fixed else jt.array(a) for name, a in arrays.items()}
    return function(**variables, **options), variables


def _outputs(out):
    """An op's result as a list of Vars (an update op returns several)."""
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _values_and_grads(function, arrays, options, fixed):
    out, variables = _call(function, arrays, options, fixed)
    outputs = _outputs(out)
    trainable = [name for name in arrays if name not in fixed]
    grads = {}
    if trainable:
        rng = np.random.default_rng(1)
        loss = sum((o * jt.array(rng.standard_normal(tuple(o.shape)).astype(np.float32))).sum() for o in outputs)
        grads = jt.grad(loss, [variables[name] for name in trainable])
        grads = {name: g.numpy() for name, g in zip(trainable, grads)}
    return [o.numpy() for o in outputs], grads


def _assert_outputs_close(actual, expected, case, what):
    expected = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    assert len(actual) == len(expected), f'{what}: {len(actual)} outputs, expected {len(expected)}'
    for index, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, e, rtol=case.rtol, atol=case.atol, err_msg=f'{what} (output {index})')


def test_every_declared_op_has_a_case():
    assert sorted(CASES) == sorted(FAST_OPS)


@pytest.mark.parametrize('name', sorted(FAST_OPS))
def test_kernel_matches_numpy_and_plain_values_and_gradients(name):
    reason = kernel_unavailable_reason(name)
    if reason is not None:
        pytest.skip(f'{name}: {reason}')
    op, case = FAST_OPS[name], CASES[name]
    arrays, options = case.make(np.random.default_rng(0))

    before = kernels.kernel_builds[name]
    with jt.no_grad():
        inference = [o.numpy() for o in _outputs(_call(op.function, arrays, options, case.fixed)[0])]
    assert kernels.kernel_builds[name] > before, f'{name}: the kernel did not run'
    _assert_outputs_close(inference, case.reference(**arrays, **options), case, f'{name}: kernel vs numpy')

    before = kernels.kernel_builds[name]
    fast_out, fast_grads = _values_and_grads(op.function, arrays, options, case.fixed)
    if op.gradient.startswith('kernel'):
        assert kernels.kernel_builds[name] > before, f'{name}: the gradient kernel did not run'
    with fast_ops(False):
        plain_out, plain_grads = _values_and_grads(op.plain, arrays, options, case.fixed)
    _assert_outputs_close(fast_out, plain_out, case, f'{name}: forward')
    for arg in plain_grads:
        np.testing.assert_allclose(fast_grads[arg], plain_grads[arg], rtol=case.rtol, atol=case.atol,
                                   err_msg=f'{name}: gradient of {arg}')


@pytest.mark.parametrize('name', sorted(FAST_OPS))
def test_registry_entry_is_complete(name):
    op = FAST_OPS[name]
    assert op.headers and all(header in kernels.kernel_headers() for header in op.headers)
    assert op.applies and op.gradient and callable(op.flops) and callable(op.plain)
    assert (op.thop is None) == (op.thop_kind is None)
