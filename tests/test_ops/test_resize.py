import numpy as np
import pytest

import jittor as jt

from dformer_seg.ops import bilinear_resize
from op_test_utils import assert_matches_plain, random_array


def torch_bilinear(x, size, align_corners):
    """Reference: PyTorch's upsample_bilinear2d index and weight rules, in numpy."""
    def axis(in_size, out_size):
        if align_corners:
            scale = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
            src = scale * np.arange(out_size, dtype=np.float32)
        else:
            src = np.maximum((np.arange(out_size, dtype=np.float32) + 0.5) * (in_size / out_size) - 0.5, 0)
        low = np.minimum(src.astype(np.int64), in_size - 1)
        high = np.minimum(low + 1, in_size - 1)
        return low, high, (src - low).astype(np.float32)

    y0, y1, fy = axis(x.shape[2], size[0])
    x0, x1, fx = axis(x.shape[3], size[1])
    fy, fx = fy[:, None], fx[None, :]
    top = x[:, :, y0][:, :, :, x0] * (1 - fx) + x[:, :, y0][:, :, :, x1] * fx
    bottom = x[:, :, y1][:, :, :, x0] * (1 - fx) + x[:, :, y1][:, :, :, x1] * fx
    return top * (1 - fy) + bottom * fy


@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('size', [(9, 11), (2, 3), (5, 4), (1, 1)])
def test_matches_pytorch_rule_and_plain_gradients(size, align_corners):
    rng = np.random.default_rng(9)
    x = random_array(rng, (2, 3, 5, 4))
    out = assert_matches_plain(lambda v: bilinear_resize(v, size, align_corners), [x])
    np.testing.assert_allclose(out, torch_bilinear(x, size, align_corners), rtol=1e-5, atol=1e-6)


def test_bad_input_is_reported():
    with pytest.raises(ValueError, match='NCHW'):
        bilinear_resize(jt.zeros((3, 4, 5)), (2, 2))
    with pytest.raises(ValueError, match='positive'):
        bilinear_resize(jt.zeros((1, 1, 4, 5)), (0, 2))
