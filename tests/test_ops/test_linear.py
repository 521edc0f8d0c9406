import math

import jittor as jt
import numpy as np
import pytest
from jittor import nn

from dformer_seg.ops import Linear, linear

from op_test_utils import assert_matches_plain, random_array


@pytest.mark.parametrize('with_bias', [True, False])
def test_matches_numpy_and_plain_gradients(with_bias):
    rng = np.random.default_rng(22)
    x, weight, bias = random_array(rng, (2, 3, 5, 6)), random_array(rng, (4, 6)), random_array(rng, (4,))
    if with_bias:
        out = assert_matches_plain(linear, [x, weight, bias])
    else:
        out = assert_matches_plain(lambda a, w: linear(a, w), [x, weight])
    np.testing.assert_allclose(out, x @ weight.T + (bias if with_bias else 0), rtol=1e-5, atol=1e-6)


def test_one_kernel_serves_many_shapes():
    # The kernel keeps one oneDNN primitive per shape: new row counts and sizes must not reuse a wrong one.
    rng = np.random.default_rng(25)
    for rows, in_features, out_features in ((70, 8, 4096), (3, 8, 4096), (70, 8, 4096), (129, 300, 17)):
        x, weight = random_array(rng, (rows, in_features)), random_array(rng, (out_features, in_features))
        bias = random_array(rng, (out_features,))
        with jt.no_grad():
            out = linear(jt.array(x), jt.array(weight), jt.array(bias)).numpy()
        np.testing.assert_allclose(out, x @ weight.T + bias, rtol=1e-5, atol=1e-5)


# Multipliers: (4,) a layer scale; (2, 1, 1, 4) a per-sample factor; the output's shape a gate (each fused, with a
# gradient, by the training kernels); (1, 5, 1, 4) varies along a middle dim, which Jittor applies after the kernel.
# Each case builds its own kernels (seconds of compiling each from a cold cache), so the cases cover every kernel
# branch once: each multiplier kind, GELU with and without a multiplier, no bias, and the residual-only shortcut.
@pytest.mark.parametrize('activation, scale_shape, with_bias, with_residual', [
    (None, (4,), True, True), ('gelu', (2, 5, 7, 4), False, True), ('gelu', (2, 1, 1, 4), True, True),
    (None, (1, 5, 1, 4), True, True), ('gelu', None, False, False), (None, None, False, True)])
def test_epilogue_with_and_without_gradients(activation, scale_shape, with_bias, with_residual):
    rng = np.random.default_rng(26)
    x, weight = random_array(rng, (2, 5, 7, 6)), random_array(rng, (4, 6))
    bias = random_array(rng, (4,)) if with_bias else None
    scale = random_array(rng, scale_shape) if scale_shape else None
    residual = random_array(rng, (2, 5, 7, 4)) if with_residual else None
    present = [a for a in (x, weight, bias, scale, residual) if a is not None]

    def fn(*args):
        args = iter(args)
        a, w = next(args), next(args)
        b, s, r = (next(args) if t is not None else None for t in (bias, scale, residual))
        return linear(a, w, b, activation=activation, multiplier=s, residual=r)

    out = assert_matches_plain(fn, present)
    with jt.no_grad():  # the fused inference kernel against the training form
        fused = fn(*(jt.array(a) for a in present)).numpy()
    np.testing.assert_allclose(fused, out, rtol=1e-5, atol=1e-6)
    expected = x @ weight.T + (0 if bias is None else bias)
    if activation == 'gelu':
        expected = 0.5 * expected * (1 + np.vectorize(math.erf)(expected / math.sqrt(2)))
    expected = expected * (1 if scale is None else scale) + (0 if residual is None else residual)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('rows', [5, 70])
def test_fused_gelu_with_and_without_gradients(rows):
    rng = np.random.default_rng(27)
    x, weight, bias = random_array(rng, (rows, 8), -2, 2), random_array(rng, (4096, 8)), random_array(rng, (4096,))
    out = assert_matches_plain(lambda a, w, b: linear(a, w, b, activation='gelu'), [x, weight, bias], atol=1e-5)
    with jt.no_grad():
        fused = linear(*(jt.array(a) for a in (x, weight, bias)), activation='gelu').numpy()
    np.testing.assert_allclose(fused, out, rtol=1e-5, atol=1e-6)
    pre = x @ weight.T + bias
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(fused, 0.5 * pre * (1 + erf(pre / math.sqrt(2))), rtol=1e-5, atol=1e-5)


def test_module_is_a_drop_in_for_nn_linear():
    rng = np.random.default_rng(23)
    ours, reference = Linear(6, 3), nn.Linear(6, 3)
    assert isinstance(ours, nn.Linear) and sorted(ours.state_dict()) == ['bias', 'weight']
    reference.load_parameters({k: v.numpy() for k, v in ours.state_dict().items()})
    x = jt.array(random_array(rng, (4, 6)))
    np.testing.assert_allclose(ours(x).numpy(), reference(x).numpy(), rtol=1e-5, atol=1e-6)
    assert Linear(6, 3, bias=False).bias is None


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match='does not fit'):
        linear(jt.zeros((2, 5)), jt.zeros((3, 4)))
    with pytest.raises(ValueError, match='bias'):
        linear(jt.zeros((2, 4)), jt.zeros((3, 4)), jt.zeros((4,)))
    with pytest.raises(ValueError, match='activation'):
        linear(jt.zeros((2, 4)), jt.zeros((3, 4)), activation='relu')
    with pytest.raises(ValueError, match='scale'):
        linear(jt.zeros((2, 4)), jt.zeros((3, 4)), multiplier=jt.zeros((4,)))
    with pytest.raises(ValueError, match='scale'):
        linear(jt.zeros((2, 4)), jt.zeros((3, 4)), multiplier=jt.zeros((3, 3)))
    with pytest.raises(ValueError, match='residual'):
        linear(jt.zeros((2, 4)), jt.zeros((3, 4)), residual=jt.zeros((3, 2)))
