"""LoadImageFromFile / LoadDepthFromFile with in-memory arrays instead of files."""
import cv2
import numpy as np
import pytest

from dformer_seg.datasets import DataError
from dformer_seg.datasets.pipelines import Compose, LoadDepthFromFile, LoadImageFromFile

H, W = 6, 8


def bgr_image(seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(H, W, 3), dtype=np.uint8)


def test_image_array_matches_the_file(tmp_path):
    bgr = bgr_image()
    path = str(tmp_path / 'a.png')
    cv2.imwrite(path, bgr)
    for order in ('bgr', 'rgb'):
        loader = LoadImageFromFile(color_order=order)
        from_file = loader(dict(img_path=path))
        from_array = loader(dict(img_path=None, img=bgr, img_color_order='bgr'))
        assert np.array_equal(from_array['img'], from_file['img'])
        assert from_array['ori_shape'] == from_array['img_shape'] == (H, W)
        # An RGB array declared as such lands in the same stored order.
        rgb_given = loader(dict(img=bgr[..., ::-1].copy(), img_color_order='rgb'))
        assert np.array_equal(rgb_given['img'], from_file['img'])
    # Without img_color_order the array is taken to be in the loader's own order.
    assert np.array_equal(LoadImageFromFile(color_order='rgb')(dict(img=bgr))['img'], bgr)


def test_image_array_is_copied_not_shared():
    bgr = bgr_image()
    results = LoadImageFromFile()(dict(img=bgr))
    results['img'][:] = 0
    assert bgr.any()


def test_bad_image_arrays():
    loader = LoadImageFromFile()
    with pytest.raises(DataError, match=r'HxWx3 uint8, got shape \(6, 8\) and type uint8'):
        loader(dict(img=np.zeros((H, W), np.uint8)))
    with pytest.raises(DataError, match='type float32'):
        loader(dict(img=np.zeros((H, W, 3), np.float32)))
    with pytest.raises(DataError, match='image array is empty'):
        loader(dict(img=np.zeros((0, W, 3), np.uint8)))
    with pytest.raises(DataError, match='numpy array or a file path, got list'):
        loader(dict(img=[[1, 2, 3]]))
    with pytest.raises(ValueError, match='color_order'):
        loader(dict(img=bgr_image(), img_color_order='hsv'))


def test_depth_arrays_8_and_16_bit(tmp_path):
    depth8 = np.random.default_rng(1).integers(0, 256, size=(H, W), dtype=np.uint8)
    path = str(tmp_path / 'd.png')
    cv2.imwrite(path, depth8)
    loader = LoadDepthFromFile(channels=3)
    from_file = loader(dict(depth_path=path))
    for given in (depth8, depth8[:, :, None]):
        from_array = loader(dict(depth_path=None, depth=given))
        assert from_array['depth'].shape == (H, W, 1) and from_array['depth_channels'] == 3
        assert np.array_equal(from_array['depth'], from_file['depth'])
    # 16-bit: scaled by raw_depth_range exactly like a 16-bit file (here raw = 40 * value).
    depth16 = depth8.astype(np.uint16) * 40
    path16 = str(tmp_path / 'd16.png')
    cv2.imwrite(path16, depth16)
    loader16 = LoadDepthFromFile(raw_depth_range=(0, 255 * 40))
    from_array16 = loader16(dict(depth=depth16))['depth']
    assert from_array16.dtype == np.float32
    np.testing.assert_allclose(from_array16[:, :, 0], depth8, atol=1e-4)
    assert np.array_equal(from_array16, loader16(dict(depth_path=path16))['depth'])


def test_colour_second_modality_array():
    hha = bgr_image(2)
    loaded = LoadDepthFromFile(color_type='color', channels=3)(dict(depth=hha))['depth']
    assert np.array_equal(loaded, hha)
    with pytest.raises(DataError, match=r'HxWx3 for color_type="color"'):
        LoadDepthFromFile(color_type='color', channels=3)(dict(depth=hha[:, :, 0]))


def test_bad_depth_arrays_and_size_mismatch():
    loader = LoadDepthFromFile()
    with pytest.raises(DataError, match='depth array has pixel type int32'):
        loader(dict(depth=np.zeros((H, W), np.int32)))
    with pytest.raises(DataError, match=r'HxW or HxWx1 for color_type="grayscale", got shape \(6, 8, 3\)'):
        loader(dict(depth=np.zeros((H, W, 3), np.uint8)))
    pipeline = Compose([dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile')])
    with pytest.raises(DataError, match=r'depth array is 5x8 \(HxW\) but image array is 6x8'):
        pipeline(dict(img=bgr_image(), depth=np.zeros((H - 1, W), np.uint8)))
