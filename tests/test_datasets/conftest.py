"""Tiny RGB-D folders in the official layouts, written on the fly."""

import pytest

from rgbd_samples import H, W, make_sample_arrays, write_sample, write_split


@pytest.fixture
def nyu_root(tmp_path):
    """NYUDepthv2 layout: JPEG RGB, 8-bit depth and label PNGs, split lines 'RGB/x.jpg Label/x.png'."""
    root = str(tmp_path / 'NYUDepthv2')
    for split, indices in (('train', range(5)), ('test', range(5, 7))):
        lines = []
        for i in indices:
            name = f'{i:04d}'
            write_sample(root, name, *make_sample_arrays(i, num_classes=40))
            lines.append(f'RGB/{name}.jpg Label/{name}.png')
        write_split(root, split, lines)
    return root


@pytest.fixture
def sunrgbd_root(tmp_path):
    """SUNRGBD layout: labels in 'labels/', JPEG RGB, split lines with bare names, varying sizes."""
    root = str(tmp_path / 'SUNRGBD')
    for split, indices in (('train', range(3)), ('test', range(3, 5))):
        lines = []
        for i in indices:
            name = f'img-{i:06d}'
            rgb, depth, label = make_sample_arrays(i, h=H + 2 * i, w=W + i, num_classes=37)
            write_sample(root, name, rgb, depth, label, ann_dir='labels')
            lines.append(name)
        write_split(root, split, lines)
    return root
