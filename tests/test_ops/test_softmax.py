import jittor as jt
import numpy as np
import pytest

from dformer_seg.ops import softmax

from numpy_ops import numpy_softmax
from op_test_utils import assert_matches_plain, random_array


def test_last_axis_matches_numpy_and_plain_gradients():
    rng = np.random.default_rng(4)
    x = random_array(rng, (2, 3, 11), -5, 5)
    out = assert_matches_plain(softmax, [x])
    np.testing.assert_allclose(out, numpy_softmax(x), rtol=1e-5, atol=1e-7)


def test_bias_is_added_before_softmax_and_gets_the_gradient():
    rng = np.random.default_rng(5)
    x, bias = random_array(rng, (4, 6), -3, 3), random_array(rng, (4, 6), -3, 3)
    out = assert_matches_plain(lambda a, b: softmax(a, bias=b), [x, bias])
    np.testing.assert_allclose(out, numpy_softmax(x + bias), rtol=1e-5, atol=1e-7)


def test_large_logits_stay_finite():
    x = np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)
    np.testing.assert_allclose(softmax(jt.array(x)).numpy(), [[1.0, 0.0, 0.0]], atol=1e-7)


def test_other_axes_use_the_plain_softmax():
    rng = np.random.default_rng(6)
    x = random_array(rng, (3, 4, 5))
    out = softmax(jt.array(x), dim=1).numpy()
    expected = np.moveaxis(numpy_softmax(np.moveaxis(x, 1, -1)), -1, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-7)


def test_bias_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match='bias shape'):
        softmax(jt.zeros((2, 3)), bias=jt.zeros((3,)))
