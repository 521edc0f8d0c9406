import jittor as jt
import numpy as np
import pytest

from dformer_seg.ops import rotate_pairs
from dformer_seg.ops.rotary import plain_rotate_pairs

from numpy_ops import numpy_rotary
from op_test_utils import assert_matches_plain, random_array


def test_matches_numpy_and_plain_gradient():
    rng = np.random.default_rng(18)
    x = random_array(rng, (2, 3, 4, 5, 6))
    angles = random_array(rng, (4, 5, 6), -3, 3)
    sin, cos = np.sin(angles), np.cos(angles)

    def fn(a):
        return rotate_pairs(a, jt.array(sin).stop_grad(), jt.array(cos).stop_grad())

    out = assert_matches_plain(fn, [x])
    np.testing.assert_allclose(out, numpy_rotary(x, sin, cos), rtol=1e-5, atol=1e-6)


def test_trainable_tables_use_the_plain_form_and_get_gradients():
    rng = np.random.default_rng(19)
    x, sin, cos = (jt.array(random_array(rng, shape)) for shape in ((3, 4), (4,), (4,)))
    out = rotate_pairs(x, sin, cos)
    np.testing.assert_allclose(out.numpy(), plain_rotate_pairs(x, sin, cos).numpy(), rtol=1e-6)
    grad_sin = jt.grad(out.sum(), sin).numpy()
    rotated = numpy_rotary(x.numpy(), np.ones(4, np.float32), np.zeros(4, np.float32))
    np.testing.assert_allclose(grad_sin, rotated.sum(0), rtol=1e-5, atol=1e-6)


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match='trailing dims'):
        rotate_pairs(jt.zeros((2, 3, 4)), jt.zeros((2, 4)), jt.zeros((2, 4)))
    with pytest.raises(ValueError, match='even'):
        rotate_pairs(jt.zeros((2, 3)), jt.zeros((3,)), jt.zeros((3,)))
    with pytest.raises(ValueError, match=r'heads=2 .* must be \(B, \*\(3, 8\)\)'):
        rotate_pairs(jt.zeros((2, 3, 6)), jt.zeros((3, 4)), jt.zeros((3, 4)), heads=2)
