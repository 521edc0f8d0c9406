import jittor as jt
import numpy as np
import pytest

from dformer_seg.ops import decomposed_geometry_attention, fast_ops, geometry_prior, kernels

from numpy_ops import numpy_axis_prior, numpy_decomposed
from op_test_utils import assert_matches_plain, random_array


def _inputs(rng, batch=2, heads=2, height=5, width=6, head_dim=4):
    q = random_array(rng, (batch, heads, height, width, head_dim))
    k = random_array(rng, (batch, heads, height, width, head_dim))
    v = random_array(rng, (batch, height, width, heads * head_dim))
    depth = random_array(rng, (batch, 1, height, width), 0, 3)
    decay = np.log(1 - 2.0 ** -np.arange(2, 2 + heads, dtype=np.float32)).astype(np.float32)
    weight = random_array(rng, (2, 1, 1, 1), 0.5, 1.5)
    return q, k, v, depth, decay, weight


def test_kernel_matches_numpy_and_plain():
    rng = np.random.default_rng(20)
    arrays = _inputs(rng)
    expected = numpy_decomposed(*[a.astype(np.float64) for a in arrays[:4]], arrays[4].astype(np.float64),
                                arrays[5].reshape(2).astype(np.float64))
    operands = [jt.array(a) for a in arrays]
    with jt.no_grad():
        fused = decomposed_geometry_attention(*operands).numpy()
        with fast_ops(False):
            plain = decomposed_geometry_attention(*operands).numpy()
    np.testing.assert_allclose(fused, plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('depth_fixed', [True, False])
def test_gradients_match_plain(depth_fixed):
    # A fixed depth map (as in the model): the training kernels; a depth that wants a gradient: the composed form.
    rng = np.random.default_rng(21)
    q, k, v, depth, decay, weight = _inputs(rng, batch=1, height=4, width=3)
    depth_var = jt.array(depth).stop_grad() if depth_fixed else jt.array(depth)

    def fn(a, b, c, w):
        return decomposed_geometry_attention(a, b, c, depth_var, jt.array(decay).stop_grad(), w)

    before = kernels.kernel_builds['decomposed_geometry_attention']
    assert_matches_plain(fn, [q, k, v, weight])
    assert (kernels.kernel_builds['decomposed_geometry_attention'] > before) == depth_fixed


def test_bad_shapes_are_reported():
    q = jt.zeros((1, 2, 3, 4, 5))
    with pytest.raises(ValueError, match='v must be'):
        decomposed_geometry_attention(q, q, jt.zeros((1, 3, 4, 5)), jt.zeros((1, 1, 3, 4)), jt.zeros(2), jt.ones(2))
    with pytest.raises(ValueError, match='depth must be'):
        decomposed_geometry_attention(q, q, jt.zeros((1, 3, 4, 10)), jt.zeros((1, 1, 4, 3)), jt.zeros(2), jt.ones(2))
    with pytest.raises(ValueError, match='decay'):
        decomposed_geometry_attention(q, q, jt.zeros((1, 3, 4, 10)), jt.zeros((1, 1, 3, 4)), jt.zeros(3), jt.ones(2))


@pytest.mark.parametrize('columns', [False, True])
def test_prior_kernel_and_its_weight_gradient(columns):
    rng = np.random.default_rng(22)
    _, _, _, depth, decay, weight = _inputs(rng, batch=2, heads=3, height=4, width=7)
    lines = depth[:, 0].transpose(0, 2, 1) if columns else depth[:, 0]
    expected = numpy_axis_prior(lines.astype(np.float64), decay.astype(np.float64), weight.reshape(2))
    fixed = [jt.array(depth).stop_grad(), jt.array(decay).stop_grad()]
    before = kernels.kernel_builds['geometry_prior']
    out = assert_matches_plain(lambda w: geometry_prior(*fixed, w, columns=columns), [weight])
    assert kernels.kernel_builds['geometry_prior'] > before
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_prior_with_a_depth_gradient_uses_the_composed_form():
    rng = np.random.default_rng(23)
    _, _, _, depth, decay, weight = _inputs(rng, batch=1, heads=2, height=3, width=4)
    depth_var, decay_var, weight_var = jt.array(depth), jt.array(decay).stop_grad(), jt.array(weight)
    prior = geometry_prior(depth_var, decay_var, weight_var, columns=True)
    grad_depth = jt.grad((prior * prior).sum(), depth_var).numpy()
    assert np.abs(grad_depth).max() > 0
    with jt.no_grad():
        kernel = geometry_prior(depth_var, decay_var, weight_var, columns=True).numpy()
    np.testing.assert_allclose(prior.numpy(), kernel, rtol=1e-6, atol=1e-6)


def test_prior_bad_shapes_are_reported():
    with pytest.raises(ValueError, match='depth must be'):
        geometry_prior(jt.zeros((1, 2, 3, 4)), jt.zeros(2), jt.ones(2))
    with pytest.raises(ValueError, match='weight hold 2'):
        geometry_prior(jt.zeros((1, 1, 3, 4)), jt.zeros(2), jt.ones(3))
