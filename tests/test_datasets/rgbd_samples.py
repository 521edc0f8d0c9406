"""Helpers that write tiny RGB-D samples and split files for the data tests."""
import os

import cv2
import numpy as np

H, W = 24, 32


def block_label(h=H, w=W, num_classes=4, block=8, offset=0):
    """Raw labels 1..num_classes in square blocks (0 = void in the top-left block)."""
    rows, cols = np.mgrid[0:h, 0:w] // block
    label = ((rows * 3 + cols + offset) % num_classes + 1).astype(np.uint8)
    label[:block, :block] = 0
    return label


def write_sample(root, name, rgb_bgr, depth, label, img_dir='RGB', depth_dir='Depth', ann_dir='Label',
                 img_suffix='.jpg', depth_suffix='.png', seg_suffix='.png'):
    for folder, suffix, image in ((img_dir, img_suffix, rgb_bgr), (depth_dir, depth_suffix, depth),
                                  (ann_dir, seg_suffix, label)):
        if image is None:
            continue
        path = os.path.join(root, folder, name + suffix)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        assert cv2.imwrite(path, image), path


def make_sample_arrays(index, h=H, w=W, num_classes=4):
    rng = np.random.default_rng(index)
    rgb = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    depth = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
    return rgb, depth, block_label(h, w, num_classes, offset=index)


def write_split(root, split, lines):
    with open(os.path.join(root, f'{split}.txt'), 'w') as f:
        f.write(''.join(line + '\n' for line in lines))
