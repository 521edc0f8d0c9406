import os

import cv2
import numpy as np
import pytest

from dformer_seg.config import Config
from dformer_seg.datasets import DataError, build_dataset
from dformer_seg.datasets.pipelines import (
    Compose,
    LoadAnnotations,
    LoadDepthFromFile,
    LoadImageFromFile,
    Normalize,
    PackSegInputs,
    Pad,
    PhotoMetricDistortion,
    RandomCrop,
    RandomFlip,
    RandomResize,
    Resize,
    sample_rng,
    using_rng,
)

from rgbd_samples import block_label

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGENET = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
PALETTE = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200], [220, 220, 40], [40, 220, 220]], np.uint8)


def synthetic_results(h=48, w=64, block=8):
    """RGB, depth and label that encode the same blocks: img = PALETTE[label], depth = 40 * label + 20."""
    label = block_label(h, w, num_classes=5, block=block).astype(np.int32) - 1
    label[label < 0] = 4
    depth = (40 * label + 20).astype(np.uint8)
    return dict(img=PALETTE[label], depth=np.repeat(depth[:, :, None], 3, axis=2), gt_seg=label.astype(np.uint8),
                img_fields=['img', 'depth'], seg_fields=['gt_seg'], ori_shape=(h, w), img_shape=(h, w),
                pad_shape=(h, w), scale_factor=1.0, flip=False, flip_direction=None, ignore_index=255)


def assert_aligned(results, radius=3):
    """Away from label edges (the label is uniform within ``radius`` pixels: bilinear blending
    at 1.75x reaches about 2.6 pixels), image and depth must show the label's own content."""
    label = results['gt_seg'].astype(np.int32)
    padded = np.pad(label, radius, constant_values=-1)  # beyond the border: unknown (cropped away)
    uniform = np.ones_like(label, dtype=bool)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            uniform &= padded[dy:dy + label.shape[0], dx:dx + label.shape[1]] == label
    check = uniform & (label != 255)
    assert check.sum() > 0.2 * (label != 255).sum()
    np.testing.assert_array_equal(results['img'][check], PALETTE[label[check]])
    np.testing.assert_array_equal(results['depth'][check][:, 0], 40 * label[check] + 20)


# ---------------------------------------------------------------------------- loading
def test_load_image_colour_order(tmp_path):
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 0] = 255  # pure blue as OpenCV stores it
    path = str(tmp_path / 'a.png')
    cv2.imwrite(path, bgr)
    results = LoadImageFromFile(color_order='bgr')(dict(img_path=path))
    assert results['img'][0, 0].tolist() == [255, 0, 0] and results['color_order'] == 'bgr'
    assert results['ori_shape'] == results['img_shape'] == results['pad_shape'] == (4, 6)
    assert results['img_fields'] == ['img'] and results['flip'] is False and results['scale_factor'] == 1.0
    assert LoadImageFromFile(color_order='rgb')(dict(img_path=path))['img'][0, 0].tolist() == [0, 0, 255]
    with pytest.raises(ValueError, match='color_order'):
        LoadImageFromFile(color_order='hsv')


def test_load_depth_8bit_rgba_and_16bit(tmp_path):
    gray = np.arange(24, dtype=np.uint8).reshape(4, 6) * 10
    path8 = str(tmp_path / 'd8.png')
    cv2.imwrite(path8, gray)
    results = LoadDepthFromFile(channels=3)(dict(depth_path=path8))
    depth = results['depth']
    assert depth.shape == (4, 6, 1) and depth.dtype == np.uint8 and results['depth_channels'] == 3
    np.testing.assert_array_equal(depth[:, :, 0], gray)
    results['img'] = np.zeros((4, 6, 3), np.uint8)
    packed = PackSegInputs()(results)['depth']
    assert packed.shape == (3, 4, 6) and (packed == gray).all()  # repeated to the channels the model wants
    # The released depth PNGs were written by plt.imsave: 4-channel grey RGBA.
    rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
    path_rgba = str(tmp_path / 'rgba.png')
    cv2.imwrite(path_rgba, rgba)
    np.testing.assert_array_equal(LoadDepthFromFile(channels=1)(dict(depth_path=path_rgba))['depth'][:, :, 0], gray)
    millimetres = np.array([[0, 2500, 5000, 10000, 20000, 65535]], np.uint16)
    path16 = str(tmp_path / 'd16.png')
    cv2.imwrite(path16, millimetres)
    depth16 = LoadDepthFromFile(channels=1)(dict(depth_path=path16))['depth']
    assert depth16.dtype == np.float32 and depth16.shape == (1, 6, 1)
    np.testing.assert_allclose(depth16[0, :, 0], [0, 63.75, 127.5, 255, 255, 255], rtol=1e-6)
    scaled = LoadDepthFromFile(channels=1, raw_depth_range=(0, 20000))(dict(depth_path=path16))['depth']
    np.testing.assert_allclose(scaled[0, :4, 0], [0, 31.875, 63.75, 127.5], rtol=1e-6)


def test_load_depth_errors(tmp_path):
    with pytest.raises(DataError, match=r'depth file not found: .*missing\.png'):
        LoadDepthFromFile()(dict(depth_path=str(tmp_path / 'missing.png')))
    with pytest.raises(ValueError, match='channels=3'):
        LoadDepthFromFile(channels=1, color_type='color')


def test_load_annotations_reduce_zero_label_and_ignore(tmp_path):
    raw = np.array([[0, 1, 2, 40, 255]], np.uint8)
    path = str(tmp_path / 'l.png')
    cv2.imwrite(path, raw)
    base = dict(seg_map_path=path, num_classes=40, ignore_index=255)
    reduced = LoadAnnotations()(dict(base, reduce_zero_label=True))['gt_seg']
    assert reduced.tolist() == [[255, 0, 1, 39, 255]] and reduced.dtype == np.uint8
    assert LoadAnnotations(reduce_zero_label=False)(dict(base, num_classes=41))['gt_seg'].tolist() == [
        [0, 1, 2, 40, 255]]
    with pytest.raises(DataError, match=r'values \(40\)'):
        LoadAnnotations()(dict(base, reduce_zero_label=False))
    colour = np.zeros((2, 2, 3), np.uint8)
    colour[0, 0] = (1, 2, 3)
    cv2.imwrite(path, colour)
    with pytest.raises(DataError, match='colour image'):
        LoadAnnotations()(dict(base))


# ---------------------------------------------------------------------------- geometric
def test_random_resize_uses_official_int_truncation():
    results = synthetic_results(h=30, w=50)
    with using_rng(np.random.default_rng(0)):
        RandomResize(ratios=[0.75])(results)
    assert results['img'].shape == (22, 37, 3) and results['depth'].shape == (22, 37, 3)  # int(30*.75)
    assert results['gt_seg'].shape == (22, 37) and results['img_shape'] == (22, 37)
    assert results['scale_factor'] == 0.75
    seen = set()
    for seed in range(40):
        r = synthetic_results(h=40, w=40)
        with using_rng(np.random.default_rng(seed)):
            RandomResize(ratios=[0.5, 1.0, 1.75])(r)
        seen.add(r['img'].shape[0])
    assert seen == {20, 40, 70}
    fitted = synthetic_results(h=48, w=64)
    with using_rng(np.random.default_rng(0)):
        RandomResize(ratio_range=(1.0, 1.0), scale=(24, 40))(fitted)
    assert fitted['img'].shape[:2] == (24, 32)  # the base scale fitted to the image's aspect ratio
    with pytest.raises(ValueError, match='exactly one'):
        RandomResize()


def test_resize_keep_ratio_and_labels_nearest():
    results = synthetic_results(h=48, w=64)
    Resize(scale=(24, 40))(results)
    assert results['img'].shape[:2] == (24, 32) and results['scale_factor'] == 0.5
    assert set(np.unique(results['gt_seg'])) <= set(range(5))  # nearest: no blended label values
    Resize(scale=(10, 10), keep_ratio=False)(results)
    assert results['img'].shape[:2] == (10, 10)


def test_random_flip_moves_all_fields():
    results = synthetic_results()
    original = {k: results[k].copy() for k in ('img', 'depth', 'gt_seg')}
    RandomFlip(prob=1.0)(results)
    assert results['flip'] is True and results['flip_direction'] == 'horizontal'
    for key, value in original.items():
        np.testing.assert_array_equal(results[key], value[:, ::-1])
    RandomFlip(prob=0.0)(results)
    assert results['flip'] is False and results['flip_direction'] is None
    RandomFlip(prob=1.0, direction='vertical')(results)
    np.testing.assert_array_equal(results['gt_seg'], original['gt_seg'][::-1, ::-1])


def test_random_crop_and_pad_shapes():
    results = synthetic_results(h=48, w=64)
    with using_rng(np.random.default_rng(1)):
        RandomCrop(crop_size=(32, 40))(results)
    assert results['img'].shape == (32, 40, 3) and results['gt_seg'].shape == (32, 40)
    small = synthetic_results(h=20, w=64)
    with using_rng(np.random.default_rng(1)):
        RandomCrop(crop_size=(32, 40))(small)
    assert small['img'].shape[:2] == (20, 40)  # smaller dimension kept whole
    Pad(size=(32, 40), pad_val=dict(img=7, depth=9), seg_pad_val=255)(small)
    assert small['img'].shape[:2] == (32, 40) and small['pad_shape'] == (32, 40) and small['img_shape'] == (20, 40)
    assert (small['img'][20:] == 7).all() and (small['depth'][20:] == 9).all() and (small['gt_seg'][20:] == 255).all()


def test_random_crop_cat_max_ratio_retries():
    def label_with_halves():
        r = synthetic_results(h=10, w=100)
        r['gt_seg'] = np.zeros((10, 100), np.uint8)
        r['gt_seg'][:, 50:] = 1
        return r

    mixed_with_retry, mixed_without = 0, 0
    for seed in range(20):
        for ratio, tries in ((0.75, 500), (1.0, 10)):
            r = label_with_halves()
            with using_rng(np.random.default_rng(seed)):
                RandomCrop(crop_size=10, cat_max_ratio=ratio, max_tries=tries)(r)
            counts = np.bincount(r['gt_seg'].ravel(), minlength=2)
            two_classes = counts.min() > 0 and counts.max() / counts.sum() < 0.75
            if ratio < 1:
                mixed_with_retry += two_classes
            else:
                mixed_without += two_classes
    assert mixed_with_retry == 20  # only crops 43..47 pass; 500 tries always find one
    assert mixed_without < 10


def test_pad_center_size_divisor_and_errors():
    results = synthetic_results(h=10, w=13)
    Pad(size=(15, 16), position='center', seg_pad_val=255)(results)
    label = results['gt_seg']
    assert label.shape == (15, 16)
    assert (label[:2] == 255).all() and (label[12:] == 255).all() and (label[:, :1] == 255).all()
    assert (label[:, 14:] == 255).all() and (label[2:12, 1:14] != 255).all()  # top 2, bottom 3, left 1, right 2
    divisor = synthetic_results(h=10, w=13)
    Pad(size_divisor=8)(divisor)
    assert divisor['img'].shape[:2] == (16, 16)
    with pytest.raises(DataError, match='larger than the Pad size'):
        Pad(size=(5, 5))(synthetic_results(h=10, w=13))


@pytest.mark.parametrize('seed', range(6))
def test_geometric_chain_keeps_rgb_depth_label_aligned(seed):
    pipeline = Compose([
        dict(type='RandomFlip', prob=0.5),
        dict(type='RandomResize', ratios=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75]),
        dict(type='RandomCrop', crop_size=(64, 80), cat_max_ratio=0.75),
        dict(type='Pad', size=(64, 80), pad_val=0, seg_pad_val=255, position='center'),
    ])
    with using_rng(sample_rng(seed, 0, 0)):
        results = pipeline(synthetic_results(h=96, w=128, block=32))
    assert results['img'].shape == (64, 80, 3) and results['depth'].shape == (64, 80, 3)
    assert_aligned(results)


@pytest.mark.parametrize('seed', range(4))
def test_flip_crop_pad_keep_every_pixel_aligned(seed):
    pipeline = Compose([dict(type='RandomFlip', prob=0.5), dict(type='RandomCrop', crop_size=(40, 100)),
                        dict(type='Pad', size=(64, 100), position='center')])
    with using_rng(sample_rng(seed, 0, 0)):
        results = pipeline(synthetic_results(h=48, w=64, block=8))
    assert_aligned(results, radius=0)  # no interpolation: exact everywhere


@pytest.mark.parametrize('ratio', [0.5, 0.75, 1.25, 1.75])
def test_resize_keeps_each_class_region_in_place(ratio):
    """Bilinear image and nearest label of a region must have the same centre (within the
    half pixel by which OpenCV's nearest and bilinear sampling grids differ)."""
    results = synthetic_results(h=96, w=128, block=32)
    with using_rng(np.random.default_rng(0)):
        RandomResize(ratios=[ratio])(results)
    label = results['gt_seg'].astype(np.int32)
    rows, cols = np.mgrid[0:label.shape[0], 0:label.shape[1]]
    for k in range(5):
        in_label = label == k
        for shown in ((results['img'] == PALETTE[k]).all(-1), results['depth'][:, :, 0] == 40 * k + 20):
            assert abs(rows[in_label].mean() - rows[shown].mean()) < 0.5
            assert abs(cols[in_label].mean() - cols[shown].mean()) < 0.5


# ---------------------------------------------------------------------------- photometric and packing
def test_photometric_distortion_touches_rgb_only():
    results = synthetic_results()
    depth, label = results['depth'].copy(), results['gt_seg'].copy()
    changed = False
    for seed in range(5):
        before = results['img'].copy()
        with using_rng(np.random.default_rng(seed)):
            PhotoMetricDistortion()(results)
        changed |= not np.array_equal(before, results['img'])
        assert results['img'].dtype == np.uint8 and results['img'].shape == before.shape
    assert changed
    np.testing.assert_array_equal(results['depth'], depth)
    np.testing.assert_array_equal(results['gt_seg'], label)
    Normalize(**IMAGENET)(results)
    with pytest.raises(ValueError, match='before Normalize'):
        PhotoMetricDistortion()(results)


def test_normalize_equals_the_official_formula_for_every_uint8_value():
    values = np.arange(256, dtype=np.uint8)
    img = np.stack([values, values[::-1], values], axis=1).reshape(16, 16, 3)
    depth = np.repeat(values.reshape(16, 16, 1), 3, axis=2)
    results = Normalize(**IMAGENET, depth_mean=[122.4], depth_std=[71.4])(dict(img=img, depth=depth))
    official_mean, official_std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    expected_img = ((img.astype(np.float64) / 255.0 - official_mean) / official_std).astype(np.float32)
    expected_depth = ((depth.astype(np.float64) / 255.0 - 0.48) / 0.28).astype(np.float32)
    assert results['img'].dtype == np.float32 and results['depth'].dtype == np.float32
    np.testing.assert_array_equal(results['img'], expected_img)
    np.testing.assert_array_equal(results['depth'], expected_depth)
    float_depth = Normalize(**IMAGENET, depth_mean=122.4, depth_std=71.4)(
        dict(img=img, depth=depth.astype(np.float32)))['depth']
    np.testing.assert_array_equal(float_depth, expected_depth)
    with pytest.raises(ValueError, match='both'):
        Normalize(**IMAGENET, depth_mean=[1.0])


def test_pack_seg_inputs():
    results = synthetic_results(h=6, w=8)
    results.update(img_path='a.jpg', depth_path='a.png', seg_map_path='l.png', sample_idx=np.int64(3),
                   color_order='bgr')
    Normalize(**IMAGENET, depth_mean=122.4, depth_std=71.4)(results)
    packed = PackSegInputs()(results)
    assert packed['img'].shape == (3, 6, 8) and packed['img'].dtype == np.float32
    assert packed['depth'].shape == (3, 6, 8) and packed['gt_seg'].dtype == np.int32
    np.testing.assert_array_equal(packed['img'][1], results['img'][:, :, 1])
    meta = packed['img_metas']
    assert meta['ori_shape'] == (6, 8) and meta['sample_idx'] == 3 and type(meta['sample_idx']) is int
    assert set(meta) >= {'img_path', 'depth_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                         'scale_factor', 'flip', 'flip_direction'}


# ---------------------------------------------------------------------------- the configs
def _dataset_from_config(config, data_root, loader='val_dataloader'):
    cfg = Config.fromfile(os.path.join(REPO, 'configs', '_base_', 'datasets', config))
    dataset_cfg = cfg[loader]['dataset'].to_dict() if hasattr(cfg[loader]['dataset'], 'to_dict') \
        else dict(cfg[loader]['dataset'])
    dataset_cfg['data_root'] = data_root
    return build_dataset(dataset_cfg)


def test_nyu_evaluation_pipeline_reproduces_the_official_preprocessing(nyu_root):
    sample = _dataset_from_config('nyu_depth_v2.py', nyu_root)[1]
    name = '0006'  # test.txt: 0005, 0006
    bgr = cv2.imread(os.path.join(nyu_root, 'RGB', name + '.jpg'))  # the official reads BGR, keeps it
    gray = cv2.imread(os.path.join(nyu_root, 'Depth', name + '.png'), cv2.IMREAD_GRAYSCALE)
    raw_label = cv2.imread(os.path.join(nyu_root, 'Label', name + '.png'), cv2.IMREAD_GRAYSCALE)
    img = ((bgr / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]))
    depth = (np.stack([gray] * 3, axis=2) / 255.0 - 0.48) / 0.28
    np.testing.assert_array_equal(sample['img'], img.transpose(2, 0, 1).astype(np.float32))
    np.testing.assert_array_equal(sample['depth'], depth.transpose(2, 0, 1).astype(np.float32))
    np.testing.assert_array_equal(sample['gt_seg'], (raw_label - np.uint8(1)).astype(np.int32))  # uint8: 0 -> 255
    assert sample['img_metas']['ori_shape'] == (24, 32) and sample['img_metas']['flip'] is False


def test_training_configs_build_and_produce_crops(nyu_root, sunrgbd_root):
    nyu = _dataset_from_config('nyu_depth_v2.py', nyu_root, 'train_dataloader')
    with using_rng(sample_rng(0, 0, 0)):
        sample = nyu[0]
    assert sample['img'].shape == (3, 480, 640) and sample['gt_seg'].shape == (480, 640)
    sun = _dataset_from_config('sunrgbd.py', sunrgbd_root, 'train_dataloader')
    assert sun.num_classes == 37 and sun[2]['depth'].shape == (3, 480, 480)
    assert _dataset_from_config('sunrgbd.py', sunrgbd_root)[1]['gt_seg'].shape == (32, 36)
