import jittor as jt
import numpy as np
import pytest

from dformer_seg.ops import matmul

from op_test_utils import assert_matches_plain, random_array


def _transposed(a, flag):
    return np.swapaxes(a, -1, -2) if flag else a


@pytest.mark.parametrize('trans_a', [False, True])
@pytest.mark.parametrize('trans_b', [False, True])
def test_matches_numpy_and_plain_gradients(trans_a, trans_b):
    rng = np.random.default_rng(1)
    a = random_array(rng, (2, 3, 4, 5) if trans_a else (2, 3, 5, 4))
    b = random_array(rng, (2, 3, 6, 4) if trans_b else (2, 3, 4, 6))
    out = assert_matches_plain(lambda x, y: matmul(x, y, trans_a, trans_b), [a, b])
    np.testing.assert_allclose(out, _transposed(a, trans_a) @ _transposed(b, trans_b), rtol=1e-5, atol=1e-6)


def test_plain_2d_and_single_batch():
    rng = np.random.default_rng(2)
    a, b = random_array(rng, (7, 3)), random_array(rng, (3, 2))
    np.testing.assert_allclose(matmul(jt.array(a), jt.array(b)).numpy(), a @ b, rtol=1e-5, atol=1e-6)
    a1, b1 = a[None], b[None]
    assert_matches_plain(matmul, [a1, b1])


def test_broadcast_batch_falls_back_to_jt_matmul():
    rng = np.random.default_rng(3)
    a, b = random_array(rng, (2, 1, 4, 3)), random_array(rng, (5, 3, 2))
    np.testing.assert_allclose(matmul(jt.array(a), jt.array(b)).numpy(), a @ b, rtol=1e-5, atol=1e-6)


def test_inner_size_mismatch_is_reported():
    with pytest.raises(ValueError, match='inner sizes differ'):
        matmul(jt.zeros((2, 3, 4)), jt.zeros((2, 5, 6)))
    with pytest.raises(ValueError, match='at least 2 dims'):
        matmul(jt.zeros((3,)), jt.zeros((3, 2)))
