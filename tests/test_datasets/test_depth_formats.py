"""LoadDepthFromFile: float depth files, depth types, hole filling, invalid values and missing depth."""
import os

import cv2
import numpy as np
import pytest

from dformer_seg.datasets import DataError
from dformer_seg.datasets.pipelines import Compose, LoadDepthFromFile

METRES = np.array([[0.0, 1.0, 2.5], [5.0, 10.0, 20.0]], np.float32)  # 0 = no measurement
# 0..10 m -> 0..255, clipped; the hole gets missing_value (0 by default)
EXPECTED = np.array([[0.0, 25.5, 63.75], [127.5, 255.0, 255.0]], np.float32)


def load(path, **kwargs):
    return LoadDepthFromFile(channels=1, **kwargs)(dict(depth_path=str(path)))['depth'][:, :, 0]


def write(path, array):
    path = str(path)
    if path.endswith('.npy'):
        np.save(path, array)
    else:
        if path.endswith('.exr'):
            if 'OpenEXR' not in cv2.getBuildInformation():
                pytest.skip('this OpenCV is built without OpenEXR')
            os.environ.setdefault('OPENCV_IO_ENABLE_OPENEXR', '1')  # as the loader does for .exr files
        assert cv2.imwrite(path, array), path
    return path


@pytest.mark.parametrize('suffix', ['.tiff', '.npy', '.exr'])
def test_float_metres_from_tiff_npy_and_exr(tmp_path, suffix):
    path = write(tmp_path / f'd{suffix}', METRES)
    depth = load(path)
    assert depth.dtype == np.float32
    np.testing.assert_allclose(depth, EXPECTED, rtol=1e-6)
    np.testing.assert_allclose(load(path, float_depth_range=(0, 20)), [[0, 12.75, 31.875], [63.75, 127.5, 255]],
                               rtol=1e-6)


def test_float64_npy_and_arrays_match_files(tmp_path):
    path = write(tmp_path / 'd64.npy', METRES.astype(np.float64))
    np.testing.assert_allclose(load(path), EXPECTED, rtol=1e-6)
    from_array = LoadDepthFromFile(channels=1)(dict(depth=METRES))['depth'][:, :, 0]
    np.testing.assert_allclose(from_array, EXPECTED, rtol=1e-6)


def test_disparity_and_inverse_depth(tmp_path):
    depth = np.array([[2.0, 4.0], [8.0, 0.0]], np.float32)
    baseline_focal = 0.2 * 500.0
    disparity = np.where(depth > 0, baseline_focal / np.where(depth > 0, depth, 1), 0).astype(np.float32)
    inverse = np.where(depth > 0, 1 / np.where(depth > 0, depth, 1), 0).astype(np.float32)
    expected = depth * 25.5  # 0..10 m -> 0..255, hole -> 0
    np.testing.assert_allclose(load(write(tmp_path / 'disp.tiff', disparity), depth_type='disparity',
                                    disparity_scale=baseline_focal), expected, rtol=1e-5)
    np.testing.assert_allclose(load(write(tmp_path / 'inv.npy', inverse), depth_type='inverse'), expected, rtol=1e-5)
    # 16-bit disparity: depth = scale / raw, mapped with raw_depth_range.
    raw = np.array([[100, 50], [25, 0]], np.uint16)
    np.testing.assert_allclose(load(write(tmp_path / 'disp16.png', raw), depth_type='disparity', disparity_scale=800,
                                    raw_depth_range=(0, 40)), [[51.0, 102.0], [204.0, 0.0]], rtol=1e-6)
    with pytest.raises(ValueError, match='disparity_scale'):
        LoadDepthFromFile(depth_type='disparity')
    with pytest.raises(ValueError, match='depth_type must be one of'):
        LoadDepthFromFile(depth_type='range')


def test_hole_filling(tmp_path):
    millimetres = np.full((5, 6), 2000, np.uint16)
    millimetres[:, 3:] = 6000
    millimetres[2, 1] = millimetres[2, 4] = 0  # one hole inside each region
    path = write(tmp_path / 'holes.png', millimetres)
    plain = load(path, missing_value=7)
    assert plain[2, 1] == plain[2, 4] == 7 and plain[0, 0] == pytest.approx(51.0)
    nearest = load(path, hole_fill='nearest')
    np.testing.assert_allclose(nearest[2], [51.0, 51.0, 51.0, 153.0, 153.0, 153.0], rtol=1e-6)
    assert np.array_equal(nearest[millimetres > 0], plain[millimetres > 0])
    inpainted = load(path, hole_fill='inpaint')
    assert 51.0 - 1e-3 <= inpainted[2, 1] <= 153.0 and 51.0 <= inpainted[2, 4] <= 153.0 + 1e-3
    assert np.array_equal(inpainted[millimetres > 0], plain[millimetres > 0])
    with pytest.raises(ValueError, match='hole_fill must be one of'):
        LoadDepthFromFile(hole_fill='zero')


def test_invalid_values_are_refused_naming_the_file_or_mapped_to_missing(tmp_path):
    bad = METRES.copy()
    bad[0, 1], bad[0, 2], bad[1, 0] = np.nan, np.inf, -1.0
    path = write(tmp_path / 'bad.tiff', bad)
    with pytest.raises(DataError, match=r'depth file .*bad\.tiff has invalid values \(1 NaN, 1 infinite, '
                                        r'1 negative\).*invalid="missing"'):
        load(path)
    missing = load(path, invalid='missing', missing_value=3)
    np.testing.assert_allclose(missing, [[3, 3, 3], [3, 255, 255]])
    nan_only = write(tmp_path / 'nan.npy', np.where(METRES > 5, np.nan, METRES).astype(np.float32))
    with pytest.raises(DataError, match=r'nan\.npy has invalid values \(2 NaN\)'):
        load(nan_only)


def test_depth_without_any_measurement_is_refused(tmp_path):
    with pytest.raises(DataError, match=r'depth file .*zero\.png has no measured depth: every pixel is 0'):
        load(write(tmp_path / 'zero.png', np.zeros((4, 4), np.uint16)))
    with pytest.raises(DataError, match=r'allnan\.tiff has no measured depth.*or invalid'):
        load(write(tmp_path / 'allnan.tiff', np.full((4, 4), np.nan, np.float32)), invalid='missing')


def test_unsupported_files_and_types(tmp_path):
    pickled = str(tmp_path / 'obj.npy')
    np.save(pickled, np.array([{'a': 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r'obj\.npy as a numeric \.npy array'):
        load(pickled)
    with pytest.raises(DataError, match=r'cube\.npy holds an array of shape \(2, 3, 4\)'):
        load(write(tmp_path / 'cube.npy', np.ones((2, 3, 4), np.float32)))
    eight_bit = write(tmp_path / 'd8.png', np.full((3, 3), 9, np.uint8))
    with pytest.raises(DataError, match=r'd8\.png is 8-bit.*depth_type=.disparity'):
        load(eight_bit, depth_type='disparity', disparity_scale=1.0)
    assert load(eight_bit).dtype == np.uint8  # the released 8-bit maps are used as they are


def test_missing_depth_gets_the_missing_value():
    pipeline = Compose([dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', missing_value=12)])
    results = pipeline(dict(img=np.zeros((4, 5, 3), np.uint8), depth_path=None))
    assert results['depth'].shape == (4, 5, 1) and (results['depth'] == 12).all() and results['depth_missing']
    with pytest.raises(DataError, match='put LoadImageFromFile first'):
        LoadDepthFromFile()(dict(depth_path=None))
    with pytest.raises(ValueError, match='missing_value'):
        LoadDepthFromFile(missing_value=300)


def test_thermal_of_another_size_names_both_files(tmp_path):
    rgb, thermal = str(tmp_path / 'rgb.png'), str(tmp_path / 'thermal.png')
    cv2.imwrite(rgb, np.zeros((6, 8, 3), np.uint8))
    cv2.imwrite(thermal, np.zeros((5, 8), np.uint8))
    pipeline = Compose([dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', modality='thermal')])
    with pytest.raises(DataError, match=r'thermal file .*thermal\.png is 5x8 \(HxW\) but image file '
                                        r'.*rgb\.png is 6x8'):
        pipeline(dict(img_path=rgb, depth_path=thermal))
    assert os.path.isfile(thermal)
