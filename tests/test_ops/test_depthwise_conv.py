import math

import jittor as jt
import numpy as np
import pytest

import dformer_seg.ops.depthwise_conv as dwconv_module
from dformer_seg.ops import depthwise_conv2d_nhwc

from numpy_ops import numpy_depthwise_nhwc
from op_test_utils import assert_matches_plain, random_array


@pytest.mark.parametrize('kernel,pad', [(3, 1), (5, 2), (7, 3), (3, 0), (3, 2)])
def test_matches_numpy_and_plain_gradients(kernel, pad):
    rng = np.random.default_rng(10)
    x, weight = random_array(rng, (2, 6, 5, 4)), random_array(rng, (4, 1, kernel, kernel))
    bias = random_array(rng, (4,))
    out = assert_matches_plain(lambda a, w, b: depthwise_conv2d_nhwc(a, w, b, pad), [x, weight, bias])
    np.testing.assert_allclose(out, numpy_depthwise_nhwc(x, weight, bias, (pad, pad)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kernel,pad', [(3, 1), (7, 3), (3, 0)])
def test_sixteen_channel_blocks_and_interior_pixel_groups(kernel, pad):
    # 32 channels and a 13-pixel width exercise the vector blocks, four-pixel groups and the borders.
    rng = np.random.default_rng(17)
    x, weight = random_array(rng, (1, 5, 13, 32)), random_array(rng, (32, 1, kernel, kernel))
    bias = random_array(rng, (32,))
    out = assert_matches_plain(lambda a, w, b: depthwise_conv2d_nhwc(a, w, b, pad), [x, weight, bias])
    np.testing.assert_allclose(out, numpy_depthwise_nhwc(x, weight, bias, (pad, pad)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('with_bias', [True, False])
def test_residual_is_added_and_gets_the_gradient(with_bias):
    rng = np.random.default_rng(24)
    x, weight, bias = random_array(rng, (1, 4, 9, 16)), random_array(rng, (16, 1, 3, 3)), random_array(rng, (16,))
    residual = random_array(rng, (1, 4, 9, 16))
    if with_bias:
        out = assert_matches_plain(lambda a, w, b, r: depthwise_conv2d_nhwc(a, w, b, 1, residual=r),
                                   [x, weight, bias, residual])
    else:
        out = assert_matches_plain(lambda a, w, r: depthwise_conv2d_nhwc(a, w, None, 1, residual=r),
                                   [x, weight, residual])
    expected = numpy_depthwise_nhwc(x, weight, bias if with_bias else None, (1, 1)) + residual
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_fused_gelu_with_and_without_gradients():
    rng = np.random.default_rng(26)
    x, weight = random_array(rng, (1, 4, 9, 16), -2, 2), random_array(rng, (16, 1, 3, 3))
    bias = random_array(rng, (16,))

    def fn(a, w, b):
        return depthwise_conv2d_nhwc(a, w, b, 1, residual=a, activation='gelu')

    out = assert_matches_plain(fn, [x, weight, bias])  # with gradients: conv, then ops.gelu
    with jt.no_grad():  # without: GELU inside the conv kernel
        fused = fn(*(jt.array(a) for a in (x, weight, bias))).numpy()
    np.testing.assert_allclose(fused, out, rtol=1e-5, atol=1e-6)
    pre = numpy_depthwise_nhwc(x, weight, bias, (1, 1)) + x
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(fused, 0.5 * pre * (1 + erf(pre / math.sqrt(2))), rtol=1e-5, atol=1e-5)


def test_without_bias_and_rectangular_padding():
    rng = np.random.default_rng(11)
    x, weight = random_array(rng, (1, 4, 7, 3)), random_array(rng, (3, 1, 3, 5))
    out = assert_matches_plain(lambda a, w: depthwise_conv2d_nhwc(a, w, None, (1, 2)), [x, weight])
    np.testing.assert_allclose(out, numpy_depthwise_nhwc(x, weight, None, (1, 2)), rtol=1e-5, atol=1e-5)


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match=r'weight must be \(4, 1'):
        depthwise_conv2d_nhwc(jt.zeros((1, 5, 5, 4)), jt.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match='bias'):
        depthwise_conv2d_nhwc(jt.zeros((1, 5, 5, 4)), jt.zeros((4, 1, 3, 3)), jt.zeros((3,)))
    with pytest.raises(ValueError, match='residual'):
        depthwise_conv2d_nhwc(jt.zeros((1, 5, 5, 4)), jt.zeros((4, 1, 3, 3)), padding=1,
                              residual=jt.zeros((1, 3, 3, 4)))
    with pytest.raises(ValueError, match='activation'):
        depthwise_conv2d_nhwc(jt.zeros((1, 5, 5, 4)), jt.zeros((4, 1, 3, 3)), activation='relu')
    with pytest.raises(ValueError, match='padding'):
        depthwise_conv2d_nhwc(jt.zeros((1, 5, 5, 4)), jt.zeros((4, 1, 3, 3)), padding=-1)


def check_forward_paths(x, weight, bias, residual, pad, with_grads=True):
    """The numpy conv (and the plain path's values and gradients), and the fused residual + GELU kernel."""
    if with_grads:
        # atol: the weight gradient sums hundreds of products per tap, in another order than the plain path
        out = assert_matches_plain(lambda a, w, b: depthwise_conv2d_nhwc(a, w, b, pad), [x, weight, bias], atol=2e-5)
    else:
        with jt.no_grad():
            out = depthwise_conv2d_nhwc(*(jt.array(a) for a in (x, weight, bias)), pad).numpy()
    np.testing.assert_allclose(out, numpy_depthwise_nhwc(x, weight, bias, (pad, pad)), rtol=1e-5, atol=1e-5)
    with jt.no_grad():
        fused = depthwise_conv2d_nhwc(*(jt.array(a) for a in (x, weight, bias)), pad, residual=jt.array(residual),
                                      activation='gelu').numpy()
    pre = numpy_depthwise_nhwc(x, weight, bias, (pad, pad)) + residual
    expected = 0.5 * pre * (1 + np.vectorize(math.erf)(pre / math.sqrt(2)))
    np.testing.assert_allclose(fused, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kernel', [3, 5, 7])
def test_column_strips_and_row_bands(monkeypatch, kernel):
    # A tiny tile budget cuts the 22-pixel rows into 8-pixel strips (groups of 8 and 4, single pixels at
    # the strip ends); 40 channels leave 8 tail channels after the 16-channel vectors; two images.
    monkeypatch.setattr(dwconv_module, '_TILE_BYTES', 1)
    rng = np.random.default_rng(31 + kernel)
    x, weight = random_array(rng, (2, 5, 22, 40)), random_array(rng, (40, 1, kernel, kernel))
    bias, residual = random_array(rng, (40,)), random_array(rng, (2, 5, 22, 40))
    check_forward_paths(x, weight, bias, residual, kernel // 2)


def test_streaming_stores(monkeypatch):
    # Streaming stores need a 64-byte aligned output: Jittor aligns allocations of this size (4 MB).
    monkeypatch.setattr(dwconv_module, '_STREAM_MIN_BYTES', 0)
    rng = np.random.default_rng(35)
    x, weight = random_array(rng, (1, 128, 128, 64)), random_array(rng, (64, 1, 3, 3))
    bias, residual = random_array(rng, (64,)), random_array(rng, (1, 128, 128, 64))
    check_forward_paths(x, weight, bias, residual, 1, with_grads=False)


@pytest.mark.parametrize('kernel_hw,pad', [((3, 4), (1, 2)), ((1, 9), (0, 4))])
def test_filter_widths_without_the_sliding_window(kernel_hw, pad):
    # Filter widths other than 3, 5 and 7 take the per-pixel path for every pixel.
    rng = np.random.default_rng(40)
    x, weight = random_array(rng, (1, 4, 12, 32)), random_array(rng, (32, 1) + kernel_hw)
    bias = random_array(rng, (32,))
    out = assert_matches_plain(lambda a, w, b: depthwise_conv2d_nhwc(a, w, b, pad), [x, weight, bias])
    np.testing.assert_allclose(out, numpy_depthwise_nhwc(x, weight, bias, pad), rtol=1e-5, atol=1e-5)
