import numpy as np
import pytest

import jittor as jt

from dformer_seg.ops import decomposed_geometry_attention, fast_ops
from numpy_ops import numpy_decomposed
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


def test_gradients_match_plain():
    # With gradients the composed form runs; its priors pass the gradient on to the mixing weights.
    rng = np.random.default_rng(21)
    q, k, v, depth, decay, weight = _inputs(rng, batch=1, height=4, width=3)

    def fn(a, b, c, w):
        return decomposed_geometry_attention(a, b, c, jt.array(depth), jt.array(decay), w)

    assert_matches_plain(fn, [q, k, v, weight])


def test_bad_shapes_are_reported():
    q = jt.zeros((1, 2, 3, 4, 5))
    with pytest.raises(ValueError, match='v must be'):
        decomposed_geometry_attention(q, q, jt.zeros((1, 3, 4, 5)), jt.zeros((1, 1, 3, 4)), jt.zeros(2), jt.ones(2))
    with pytest.raises(ValueError, match='depth must be'):
        decomposed_geometry_attention(q, q, jt.zeros((1, 3, 4, 10)), jt.zeros((1, 1, 4, 3)), jt.zeros(2), jt.ones(2))
    with pytest.raises(ValueError, match='decay'):
        decomposed_geometry_attention(q, q, jt.zeros((1, 3, 4, 10)), jt.zeros((1, 1, 3, 4)), jt.zeros(3), jt.ones(2))
