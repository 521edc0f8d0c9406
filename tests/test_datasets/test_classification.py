"""RGBDClassificationDataset: ImageNet folder layout, class names, bad input."""
import logging
import os

import cv2
import numpy as np
import pytest

from dformer_seg.datasets import DataError, RGBDClassificationDataset
from dformer_seg.datasets.collate import collate_samples
from dformer_seg.datasets.pipelines import using_rng

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadDepthAnySize', channels=1), dict(type='PackClsInputs')]


def _write(path, array):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, array)


def make_imagenet(root, classes=('n10', 'n2'), per_class=2, depth_size=(12, 16), skip_depth=()):
    """root/images/train/<class>/<name>.JPEG and root/depth/train/<class>/<name>.png (12x16 images)."""
    for c, name in enumerate(classes):
        for i in range(per_class):
            stem = f'train/{name}/{name}_{i}'
            _write(f'{root}/images/{stem}.JPEG', np.full((12, 16, 3), 40 * c + i, np.uint8))
            if stem not in skip_depth:
                _write(f'{root}/depth/{stem}.png', np.full(depth_size, 100 + c, np.uint8))
    return f'{root}/images', f'{root}/depth'


def test_classes_come_from_the_folders_in_natural_order(tmp_path):
    images, depth = make_imagenet(str(tmp_path))
    dataset = RGBDClassificationDataset(images, depth, pipeline=PIPELINE)
    assert dataset.classes == ('n2', 'n10') and dataset.metainfo['num_classes'] == 2 and len(dataset) == 4
    sample = dataset[0]
    assert int(sample['gt_label']) == 0 and sample['img'].shape == (3, 12, 16) and sample['depth'].shape == (1, 12, 16)
    assert sample['depth'][0, 0, 0] == 101  # n2 is class 1 of the writer, whose depth is 100 + 1
    batch = collate_samples([dataset[0], dataset[3]])
    np.testing.assert_array_equal(batch['gt_label'], [0, 1])


def test_ann_file_lists_samples(tmp_path):
    images, depth = make_imagenet(str(tmp_path))
    with open(os.path.join(images, 'val.txt'), 'w') as f:
        f.write('train/n10/n10_1.JPEG 1\n\ntrain/n2/n2_0.JPEG 0\n')
    dataset = RGBDClassificationDataset(images, depth, pipeline=PIPELINE, ann_file='val.txt')
    assert [s['gt_label'] for s in dataset.samples] == [1, 0]
    with open(os.path.join(images, 'bad.txt'), 'w') as f:
        f.write('train/n2/n2_0.JPEG 7\n')
    with pytest.raises(DataError, match=r'bad.txt, line 1: class index 7 is outside 0..1'):
        RGBDClassificationDataset(images, depth, ann_file='bad.txt')


def test_missing_depth_is_counted_and_can_be_skipped(tmp_path, caplog):
    images, depth = make_imagenet(str(tmp_path), skip_depth=('train/n2/n2_1', 'train/n10/n10_0'))
    with pytest.raises(DataError, match=r'2 of 4 images have no depth file[\s\S]*n2_1.png[\s\S]*missing_depth'):
        RGBDClassificationDataset(images, depth)
    with caplog.at_level(logging.WARNING, logger='dformer_seg'):
        dataset = RGBDClassificationDataset(images, depth, missing_depth='skip')
    assert len(dataset) == 2 and 'skipping 2 image(s) without a depth file' in caplog.text


def test_depth_of_another_size_is_resized_and_said_once(tmp_path, caplog):
    from dformer_seg.datasets.pipelines.classification import LoadDepthAnySize
    images, depth = make_imagenet(str(tmp_path), depth_size=(6, 8))
    dataset = RGBDClassificationDataset(images, depth, pipeline=PIPELINE)
    LoadDepthAnySize._resize_logged = False
    with caplog.at_level(logging.WARNING, logger='dformer_seg'):
        shapes = [dataset[i]['depth'].shape for i in range(3)]
    assert shapes == [(1, 12, 16)] * 3
    assert caplog.text.count('resizing depth maps to their images') == 1


def test_a_class_folder_without_images_is_an_error(tmp_path):
    images, depth = make_imagenet(str(tmp_path))
    os.makedirs(os.path.join(images, 'train', 'n7'))
    with pytest.raises(DataError, match=r'1 class folder\(s\) without images[\s\S]*n7'):
        RGBDClassificationDataset(images, depth)


def test_wrong_roots_are_named(tmp_path):
    images, depth = make_imagenet(str(tmp_path))
    with pytest.raises(DataError, match='depth_root'):
        RGBDClassificationDataset(images, str(tmp_path / 'nope'))
    with pytest.raises(DataError, match='split folder not found'):
        RGBDClassificationDataset(images, depth, split='val')


def test_the_demo_recipe_pipeline_runs_on_the_layout(tmp_path):
    from dformer_seg.config import Config
    cfg = Config.fromfile(os.path.join(os.path.dirname(__file__), '..', '..', 'configs', 'pretrain',
                                       'dformer_tiny_demo_cls.py'))
    images, depth = make_imagenet(str(tmp_path))
    dataset = RGBDClassificationDataset(images, depth, pipeline=cfg.train_dataloader.dataset.pipeline)
    with using_rng(np.random.default_rng(0)):
        sample = dataset[1]
    size = cfg.crop_size
    assert sample['img'].shape == (3, size, size) and sample['depth'].shape == (1, size, size)
    assert sample['img'].dtype == np.float32 and int(sample['gt_label']) == 0
