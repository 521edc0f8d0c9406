import hashlib
import json
import os
import subprocess
import sys

import cv2
import numpy as np

from dformer_seg.datasets import DEMO_CLASSES, DemoRGBDDataset, NYUDepthV2Dataset, generate_demo_dataset, render_scene
from dformer_seg.datasets.demo import MAX_DEPTH_M, depth_to_png8

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def folder_digest(root):
    digest = hashlib.sha256()
    for current, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            if name == 'meta.json':
                continue
            with open(os.path.join(current, name), 'rb') as f:
                digest.update(name.encode() + f.read())
    return digest.hexdigest()


def test_render_scene_geometry():
    rgb, depth, label = render_scene(np.random.default_rng([0, 1]), size=(48, 64))
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert depth.shape == (48, 64) and depth.dtype == np.float32 and label.dtype == np.uint8
    assert 0.1 < depth.min() and depth.max() < 12.0
    assert set(np.unique(label)) <= set(range(len(DEMO_CLASSES) + 1))
    floor = label == 2
    # The camera looks down at the floor: floor pixels lower in the image are nearer.
    rows = [r for r in range(48) if floor[r].sum() > 3]
    near_to_far = [depth[r][floor[r]].mean() for r in rows]
    assert len(rows) > 5 and np.all(np.diff(near_to_far) < 0)
    assert (label == 1).any()  # walls are always in view


def test_depth_png_convention():
    np.testing.assert_array_equal(depth_to_png8(np.array([0.0, MAX_DEPTH_M / 2, MAX_DEPTH_M, 30.0])),
                                  [0, 128, 255, 255])


def test_generator_is_deterministic_and_uses_the_official_layout(tmp_path):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    summary = generate_demo_dataset(a, seed=3, num_train=6, num_test=2, size=(24, 32))
    generate_demo_dataset(b, seed=3, num_train=6, num_test=2, size=(24, 32))
    generate_demo_dataset(c, seed=4, num_train=6, num_test=2, size=(24, 32))
    assert folder_digest(a) == folder_digest(b) != folder_digest(c)
    assert summary['classes'] == list(DEMO_CLASSES) and summary['num_train'] == 6
    with open(os.path.join(a, 'train.txt')) as f:
        lines = f.read().splitlines()
    assert len(lines) == 6 and lines[0] == 'RGB/train_00000.jpg Label/train_00000.png'
    assert json.load(open(os.path.join(a, 'meta.json')))['seed'] == 3
    assert cv2.imread(os.path.join(a, 'Depth', 'test_00007.png'), cv2.IMREAD_UNCHANGED).dtype == np.uint8

    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile'), dict(type='LoadAnnotations')]
    demo = DemoRGBDDataset(a, split='test', pipeline=pipeline)
    sample = demo[1]
    assert sample['img'].shape == (24, 32, 3) and set(np.unique(sample['gt_seg'])) <= {0, 1, 2, 3, 4, 5, 255}
    assert demo.num_classes == 6 and len(NYUDepthV2Dataset(a, split='train')) == 6  # NYU-style reading works


def test_generator_command_line(tmp_path):
    out = str(tmp_path / 'demo')
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, 'tools', 'dataset_converters', 'generate_demo_rgbd.py'),
         '--out', out, '--seed', '1', '--num-train', '3', '--num-test', '1', '--size', '16', '24'],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert 'wrote 3 training and 1 test samples' in result.stdout
    assert cv2.imread(os.path.join(out, 'RGB', 'test_00003.jpg')).shape == (16, 24, 3)
    bad = subprocess.run(
        [sys.executable, os.path.join(REPO, 'tools', 'dataset_converters', 'generate_demo_rgbd.py'),
         '--out', out, '--size', '4', '4'], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and 'at least 8x8' in bad.stderr
