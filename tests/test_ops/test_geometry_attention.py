import numpy as np
import pytest

import jittor as jt

from dformer_seg.ops import decomposed_geometry_attention, fast_ops
from op_test_utils import assert_matches_plain, random_array


def numpy_axis_attention(q, k, v, depth_lines, decay, weight):
    """q, k, v (B, heads, lines, L, d); depth_lines (B, lines, L)."""
    length = q.shape[3]
    distance = np.abs(np.arange(length)[:, None] - np.arange(length)[None, :]).astype(np.float32)
    gap = np.abs(depth_lines[:, :, :, None] - depth_lines[:, :, None, :])  # (B, lines, L, L)
    prior = (weight[0] * distance[None, None, None] * decay[None, :, None, None, None]
             + weight[1] * gap[:, None] * decay[None, :, None, None, None])
    scores = q @ np.swapaxes(k, -1, -2) + prior
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)) @ v


def numpy_decomposed(q, k, v, depth, decay, weight):
    batch, heads, height, width, head_dim = q.shape
    v = v.reshape(batch, height, width, heads, head_dim).transpose(0, 3, 1, 2, 4)
    rows = numpy_axis_attention(q, k, v, depth[:, 0], decay, weight)
    cols = numpy_axis_attention(q.transpose(0, 1, 3, 2, 4), k.transpose(0, 1, 3, 2, 4), rows.transpose(0, 1, 3, 2, 4),
                                depth[:, 0].transpose(0, 2, 1), decay, weight)  # (B, heads, W, H, d)
    return cols.transpose(0, 3, 2, 1, 4).reshape(batch, height, width, heads * head_dim)


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
