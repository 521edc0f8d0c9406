import jittor as jt
import numpy as np
import pytest

from dformer_seg.ops import bilinear_resize

from numpy_ops import torch_bilinear
from op_test_utils import assert_matches_plain, random_array


@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('size', [(9, 11), (2, 3), (5, 4), (1, 1)])
def test_matches_pytorch_rule_and_plain_gradients(size, align_corners):
    rng = np.random.default_rng(9)
    x = random_array(rng, (2, 3, 5, 4))
    out = assert_matches_plain(lambda v: bilinear_resize(v, size, align_corners), [x])
    np.testing.assert_allclose(out, torch_bilinear(x, size, align_corners), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('align_corners', [False, True])
def test_few_planes_are_split_into_bands_of_output_rows(align_corners):
    # Fewer planes than threads: each plane's output rows are cut into bands, each with its own row buffer.
    rng = np.random.default_rng(3)
    x = random_array(rng, (1, 1, 6, 5))
    with jt.no_grad():
        out = bilinear_resize(jt.array(x), (48, 40), align_corners).numpy()
    np.testing.assert_allclose(out, torch_bilinear(x, (48, 40), align_corners), rtol=1e-5, atol=1e-6)


def test_bad_input_is_reported():
    with pytest.raises(ValueError, match='NCHW'):
        bilinear_resize(jt.zeros((3, 4, 5)), (2, 2))
    with pytest.raises(ValueError, match='positive'):
        bilinear_resize(jt.zeros((1, 1, 4, 5)), (0, 2))
