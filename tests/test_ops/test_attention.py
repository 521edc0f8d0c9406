import jittor as jt
import numpy as np
import pytest

from dformer_seg.ops import attention, fast_ops

from numpy_ops import numpy_attention
from op_test_utils import assert_matches_plain, random_array


@pytest.mark.parametrize('batch', [(1,), (2, 3)])
def test_with_bias_matches_numpy_and_plain_gradients(batch):
    rng = np.random.default_rng(14)
    q, k, v = random_array(rng, batch + (5, 4)), random_array(rng, batch + (7, 4)), random_array(rng, batch + (7, 3))
    bias = random_array(rng, batch + (5, 7), -2, 2)
    out = assert_matches_plain(attention, [q, k, v, bias])
    np.testing.assert_allclose(out, numpy_attention(q, k, v, bias), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('with_bias', [True, False])
@pytest.mark.parametrize('batch', [(1,), (5,)])
def test_inference_kernel_matches_numpy_and_plain(batch, with_bias):
    # Without gradients the fused kernel runs (one entry per thread, or threads inside one entry).
    rng = np.random.default_rng(16)
    q, k, v = random_array(rng, batch + (6, 4)), random_array(rng, batch + (9, 4)), random_array(rng, batch + (9, 3))
    bias = random_array(rng, batch + (6, 9), -2, 2) if with_bias else None
    operands = [jt.array(a) for a in (q, k, v)] + ([jt.array(bias)] if with_bias else [])
    with jt.no_grad():
        fused = attention(*operands).numpy()
        with fast_ops(False):
            plain = attention(*operands).numpy()
    np.testing.assert_allclose(fused, plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused, numpy_attention(q, k, v, bias), rtol=1e-5, atol=1e-6)


def test_without_bias():
    rng = np.random.default_rng(15)
    q, k, v = random_array(rng, (4, 6, 2)), random_array(rng, (4, 3, 2)), random_array(rng, (4, 3, 5))
    out = assert_matches_plain(lambda a, b, c: attention(a, b, c), [q, k, v])
    np.testing.assert_allclose(out, numpy_attention(q, k, v, None), rtol=1e-5, atol=1e-6)


def test_bad_shapes_are_reported():
    q, k, v = jt.zeros((2, 5, 4)), jt.zeros((2, 7, 4)), jt.zeros((2, 7, 3))
    with pytest.raises(ValueError, match='bias must have shape'):
        attention(q, k, v, jt.zeros((2, 7, 5)))
    with pytest.raises(ValueError, match='do not fit'):
        attention(q, jt.zeros((2, 7, 3)), v)
    with pytest.raises(ValueError, match='same leading dims'):
        attention(q, jt.zeros((3, 7, 4)), v)
