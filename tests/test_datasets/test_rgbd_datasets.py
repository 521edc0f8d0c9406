import os

import cv2
import numpy as np
import pytest

from dformer_seg.datasets import (
    NYU_DEPTH_V2_CLASSES,
    SUNRGBD_CLASSES,
    DataError,
    NYUDepthV2Dataset,
    RGBDSegDataset,
    SUNRGBDDataset,
    build_dataset,
    label_palette,
    voc_colormap,
)

from rgbd_samples import block_label, make_sample_arrays, write_sample, write_split

LOAD_ALL = [dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile'), dict(type='LoadAnnotations')]


def test_nyu_layout_loads_with_shifted_labels(nyu_root):
    dataset = build_dataset(dict(type='NYUDepthV2Dataset', data_root=nyu_root, split='train', pipeline=LOAD_ALL))
    assert len(dataset) == 5 and dataset.num_classes == 40
    assert dataset.classes == NYU_DEPTH_V2_CLASSES and dataset.classes[0] == 'wall'
    results = dataset[1]
    raw = cv2.imread(os.path.join(nyu_root, 'Label', '0001.png'), cv2.IMREAD_UNCHANGED)
    expected = np.where(raw == 0, 255, raw.astype(np.int32) - 1)
    np.testing.assert_array_equal(results['gt_seg'], expected)
    assert results['img'].shape == (24, 32, 3) and results['depth'].shape == (24, 32, 1)  # repeated when packed
    assert results['img_path'].endswith(os.path.join('RGB', '0001.jpg'))
    assert results['sample_idx'] == 1
    assert len(NYUDepthV2Dataset(nyu_root, split='test')) == 2


def test_sunrgbd_layout_with_bare_names_and_lowercase_label_folder(sunrgbd_root):
    dataset = SUNRGBDDataset(sunrgbd_root, split='test', pipeline=LOAD_ALL)
    assert dataset.ann_dir == 'labels' and dataset.num_classes == 37 and dataset.classes == SUNRGBD_CLASSES
    sample = dataset[1]
    assert sample['gt_seg'].shape == (24 + 2 * 4, 32 + 4)  # sizes vary per image
    assert sample['seg_map_path'].endswith(os.path.join('labels', 'img-000004.png'))


def test_custom_layout_with_folder_scan_and_own_classes(tmp_path):
    root = str(tmp_path / 'thermal')
    for i in range(3):
        rgb, _, _ = make_sample_arrays(i)
        hha = np.random.default_rng(i).integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
        label = block_label(offset=i) - 1  # classes 0..3, no void
        write_sample(root, f'scene{i // 2}/frame{i}', rgb, hha, label, img_dir='images', depth_dir='hha',
                     ann_dir='masks', img_suffix='_rgb.png', depth_suffix='_hha.png', seg_suffix='_mask.png')
    pipeline = [dict(type='LoadImageFromFile', color_order='rgb'),
                dict(type='LoadDepthFromFile', color_type='color', color_order='bgr'),
                dict(type='LoadAnnotations')]
    dataset = build_dataset(dict(
        type='RGBDSegDataset', data_root=root, img_dir='images', depth_dir='hha', ann_dir='masks',
        img_suffix='_rgb.png', depth_suffix='_hha.png', seg_suffix='_mask.png',
        classes=['a', 'b', 'c', 'd'], palette=[(1, 2, 3), (4, 5, 6), (7, 8, 9), (10, 11, 12)],
        pipeline=pipeline))
    assert [s['name'] for s in dataset.samples] == ['scene0/frame0', 'scene0/frame1', 'scene1/frame2']
    sample = dataset[2]
    hha_bgr = cv2.imread(os.path.join(root, 'hha', 'scene1', 'frame2_hha.png'))
    np.testing.assert_array_equal(sample['depth'], hha_bgr)  # 3-channel modality kept as stored
    rgb_bgr = cv2.imread(os.path.join(root, 'images', 'scene1', 'frame2_rgb.png'))
    np.testing.assert_array_equal(sample['img'], rgb_bgr[:, :, ::-1])
    np.testing.assert_array_equal(sample['gt_seg'], block_label(offset=2) - 1)
    assert dataset.metainfo['palette'][3] == (10, 11, 12) and not dataset.reduce_zero_label


def test_split_entry_formats_and_comments(tmp_path):
    root = str(tmp_path / 'set')
    for i in range(3):
        write_sample(root, str(i), *make_sample_arrays(i))
    write_split(root, 'mixed', ['# a comment', 'RGB/0.jpg Label/0.png', '', '1', './RGB/2.jpg'])
    dataset = RGBDSegDataset(root, split='mixed', classes=['x', 'y', 'z', 'w'])
    assert [s['name'] for s in dataset.samples] == ['0', '1', '2']
    assert 'line 4' in dataset.samples[1]['origin']


def test_without_labels(tmp_path):
    root = str(tmp_path / 'set')
    rgb, depth, _ = make_sample_arrays(0)
    write_sample(root, 'a', rgb, depth, None)
    dataset = RGBDSegDataset(root, ann_dir=None, classes=['x'], pipeline=LOAD_ALL[:2])
    sample = dataset[0]
    assert sample['seg_map_path'] is None and 'gt_seg' not in sample
    with pytest.raises(DataError, match='no label file'):
        RGBDSegDataset(root, ann_dir=None, classes=['x'], pipeline=LOAD_ALL)[0]


def test_palette_is_the_voc_colour_map_shifted_past_void():
    cmap = voc_colormap(256)
    assert cmap[0].tolist() == [0, 0, 0] and cmap[1].tolist() == [128, 0, 0] and cmap[255].tolist() == [224, 224, 192]
    palette = label_palette(40)
    assert len(palette) == 40 and palette[0] == (128, 0, 0) and palette[39] == tuple(cmap[40])


# ---------------------------------------------------------------------------- bad input
def test_wrong_root_and_missing_or_empty_split(tmp_path, nyu_root):
    with pytest.raises(DataError, match='not a folder'):
        NYUDepthV2Dataset(str(tmp_path / 'nowhere'))
    with pytest.raises(DataError, match='split file not found'):
        NYUDepthV2Dataset(nyu_root, split='val')
    write_split(nyu_root, 'empty', ['', '   '])
    with pytest.raises(DataError, match='empty'):
        NYUDepthV2Dataset(nyu_root, split='empty')
    with pytest.raises(DataError, match='depth .*folder not found'):
        NYUDepthV2Dataset(nyu_root, depth_dir='HHA')


def test_missing_file_named_with_its_split_line(nyu_root):
    os.remove(os.path.join(nyu_root, 'Depth', '0003.png'))
    with pytest.raises(DataError) as info:
        NYUDepthV2Dataset(nyu_root, split='train')
    message = str(info.value)
    assert os.path.join('Depth', '0003.png') in message and 'train.txt, line 4' in message
    assert "'RGB/0003.jpg Label/0003.png'" in message


def test_corrupt_image_named_with_its_split_line(nyu_root):
    with open(os.path.join(nyu_root, 'RGB', '0002.jpg'), 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n not really a png')
    dataset = NYUDepthV2Dataset(nyu_root, split='train', pipeline=LOAD_ALL)
    with pytest.raises(DataError) as info:
        dataset[2]
    message = str(info.value)
    assert 'cannot decode image file' in message and '0002.jpg' in message and 'line 3' in message
    with open(os.path.join(nyu_root, 'Label', '0001.png'), 'wb'):
        pass
    with pytest.raises(DataError, match=r'label file is empty: .*0001\.png'):
        dataset[1]


def test_size_mismatch_named(nyu_root):
    cv2.imwrite(os.path.join(nyu_root, 'Depth', '0000.png'), np.zeros((20, 32), np.uint8))
    dataset = NYUDepthV2Dataset(nyu_root, split='train', pipeline=LOAD_ALL)
    with pytest.raises(DataError, match=r'depth file .*0000\.png is 20x32 .* image file .*0000\.jpg is 24x32'):
        dataset[0]
    cv2.imwrite(os.path.join(nyu_root, 'Label', '0001.png'), np.ones((24, 30), np.uint8))
    with pytest.raises(DataError, match=r'label file .*0001\.png is 24x30'):
        dataset[1]


def test_label_value_outside_classes_named(nyu_root):
    label = block_label(num_classes=40)
    label[0, 0], label[5, 5] = 41, 200
    cv2.imwrite(os.path.join(nyu_root, 'Label', '0004.png'), label)
    dataset = NYUDepthV2Dataset(nyu_root, split='train', pipeline=LOAD_ALL)
    with pytest.raises(DataError) as info:
        dataset[4]
    message = str(info.value)
    assert '0004.png' in message and '(41, 200)' in message and 'line 5' in message
    assert 'raw 1..40' in message


def test_bad_classes_or_palette_config(nyu_root):
    with pytest.raises(ValueError, match='set classes'):
        RGBDSegDataset(nyu_root)
    with pytest.raises(ValueError, match='palette'):
        RGBDSegDataset(nyu_root, classes=['a', 'b'], palette=[(0, 0, 0)])
