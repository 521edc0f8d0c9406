import jittor as jt
import numpy as np
import pytest

from dformer_seg.ops import layer_norm

from op_test_utils import assert_matches_plain, random_array


def test_matches_numpy_and_plain_gradients():
    rng = np.random.default_rng(7)
    x = random_array(rng, (2, 3, 4, 12), -2, 3)
    weight, bias = random_array(rng, (12,), 0.5, 1.5), random_array(rng, (12,))
    out = assert_matches_plain(lambda a, w, b: layer_norm(a, w, b, 1e-6), [x, weight, bias])
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-6) * weight + bias, rtol=1e-5, atol=1e-5)


def test_large_mean_keeps_precision():
    # E[x^2] - E[x]^2 would lose every digit here; the centred variance does not.
    x = (1000.0 + np.array([[0.0, 1e-2, 2e-2, 3e-2]])).astype(np.float32)
    out = layer_norm(jt.array(x), jt.ones(4), jt.zeros(4), 1e-12).numpy()
    centred = x.astype(np.float64) - x.astype(np.float64).mean()
    np.testing.assert_allclose(out, centred / centred.std(), atol=2e-3)


def test_eps_is_used():
    x = np.zeros((1, 4), dtype=np.float32)
    x[0, 0] = 1.0
    for eps in (1e-6, 10.0):
        out = layer_norm(jt.array(x), jt.ones(4), jt.zeros(4), eps).numpy()
        np.testing.assert_allclose(out[0, 0], 0.75 / np.sqrt(0.1875 + eps), rtol=1e-5)


def test_parameter_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match='weight'):
        layer_norm(jt.zeros((2, 5)), jt.ones(4), jt.zeros(4), 1e-6)
