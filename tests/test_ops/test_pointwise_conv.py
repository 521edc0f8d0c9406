import jittor as jt
import numpy as np
import pytest
from jittor import nn

from dformer_seg.ops import Conv2d, pointwise_conv2d

from op_test_utils import assert_matches_plain, random_array


@pytest.mark.parametrize('with_bias', [True, False])
def test_matches_numpy_and_plain_gradients(with_bias):
    rng = np.random.default_rng(12)
    x, weight, bias = random_array(rng, (2, 5, 3, 4)), random_array(rng, (6, 5, 1, 1)), random_array(rng, (6,))
    if with_bias:
        out = assert_matches_plain(pointwise_conv2d, [x, weight, bias])
    else:
        out = assert_matches_plain(lambda a, w: pointwise_conv2d(a, w), [x, weight])
    expected = np.einsum('oc,nchw->nohw', weight[:, :, 0, 0], x) + (bias[None, :, None, None] if with_bias else 0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_conv2d_module_keeps_parameters_and_other_kernel_sizes():
    rng = np.random.default_rng(13)
    x = jt.array(random_array(rng, (1, 4, 6, 5)))
    for kernel, padding in ((1, 0), (3, 1)):
        ours, reference = Conv2d(4, 3, kernel, padding=padding), nn.Conv2d(4, 3, kernel, padding=padding)
        assert sorted(ours.state_dict()) == sorted(reference.state_dict()) == ['bias', 'weight']
        reference.load_parameters({k: v.numpy() for k, v in ours.state_dict().items()})
        np.testing.assert_allclose(ours(x).numpy(), reference(x).numpy(), rtol=1e-5, atol=1e-6)


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match='C_in'):
        pointwise_conv2d(jt.zeros((1, 4, 2, 2)), jt.zeros((3, 5, 1, 1)))
    with pytest.raises(ValueError, match='bias'):
        pointwise_conv2d(jt.zeros((1, 4, 2, 2)), jt.zeros((3, 4, 1, 1)), jt.zeros((4,)))
