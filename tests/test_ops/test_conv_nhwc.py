import jittor as jt
import numpy as np
import pytest

from dformer_seg.ops import conv2d_nhwc, fast_ops, kernels

from numpy_ops import reference_conv
from op_test_utils import random_array, values_and_grads


@pytest.mark.parametrize('stride, padding, with_bias', [((2, 2), (1, 1), True), ((1, 1), (0, 1), False),
                                                        ((2, 1), (1, 0), True)])
def test_matches_numpy_and_nn_conv2d(stride, padding, with_bias):
    rng = np.random.default_rng(31)
    x, weight = random_array(rng, (2, 9, 11, 5)), random_array(rng, (7, 5, 3, 3))
    bias = random_array(rng, (7,)) if with_bias else None
    expected = reference_conv(x, weight, bias, stride, padding)
    with jt.no_grad():  # the oneDNN kernel (inference only)
        args = [jt.array(x), jt.array(weight), None if bias is None else jt.array(bias)]
        fast = conv2d_nhwc(*args, stride=stride, padding=padding).numpy()
        with fast_ops(False):
            plain = conv2d_nhwc(*args, stride=stride, padding=padding).numpy()
    np.testing.assert_allclose(fast, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(plain, expected, rtol=1e-5, atol=1e-5)


def test_new_shapes_reuse_the_kernel_correctly():
    # One compiled kernel keeps a primitive per shape: other sizes must not reuse a wrong one.
    rng = np.random.default_rng(32)
    weight = random_array(rng, (4, 3, 3, 3))
    for size in ((8, 8), (5, 7), (8, 8), (13, 6)):
        x = random_array(rng, (1,) + size + (3,))
        with jt.no_grad():
            out = conv2d_nhwc(jt.array(x), jt.array(weight), None, 2, 1).numpy()
        np.testing.assert_allclose(out, reference_conv(x, weight, None, (2, 2), (1, 1)), rtol=1e-5, atol=1e-5)


def test_gradients_come_from_the_plain_formulation():
    rng = np.random.default_rng(33)
    arrays = [random_array(rng, (1, 6, 7, 3)), random_array(rng, (5, 3, 3, 3)), random_array(rng, (5,))]
    before = kernels.kernel_builds['conv2d_nhwc']
    out, grads = values_and_grads(lambda x, w, b: conv2d_nhwc(x, w, b, 2, 1), arrays)
    assert kernels.kernel_builds['conv2d_nhwc'] == before  # with gradients the plain formulation runs
    with fast_ops(False):
        plain_out, plain_grads = values_and_grads(lambda x, w, b: conv2d_nhwc(x, w, b, 2, 1), arrays)
    np.testing.assert_allclose(out, plain_out, atol=1e-5)
    for grad, plain_grad in zip(grads, plain_grads):
        np.testing.assert_allclose(grad, plain_grad, atol=1e-5)


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match='N, H, W, C'):
        conv2d_nhwc(jt.zeros((3, 4, 5)), jt.zeros((2, 5, 3, 3)))
    with pytest.raises(ValueError, match='weight'):
        conv2d_nhwc(jt.zeros((1, 4, 4, 3)), jt.zeros((2, 4, 3, 3)))
    with pytest.raises(ValueError, match='bias'):
        conv2d_nhwc(jt.zeros((1, 4, 4, 3)), jt.zeros((2, 3, 3, 3)), jt.zeros((3,)))
    with pytest.raises(ValueError, match='stride'):
        conv2d_nhwc(jt.zeros((1, 4, 4, 3)), jt.zeros((2, 3, 3, 3)), stride=0)
    with pytest.raises(ValueError, match='smaller than the kernel'):
        conv2d_nhwc(jt.zeros((1, 2, 2, 3)), jt.zeros((2, 3, 5, 5)))
