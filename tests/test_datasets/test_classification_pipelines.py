"""Classification transforms: RGB and depth move together, colour changes touch RGB only."""
import numpy as np
import pytest

from dformer_seg.datasets.pipelines import (
    CenterCropResize,
    ColorJitter,
    RandAugment,
    RandomErasing,
    RandomResizedCrop,
    using_rng,
)
from dformer_seg.datasets.pipelines.rand_augment import GEOMETRIC_OPS, INCREASING_OPS


def _results(h=40, w=60):
    """An image whose first channel equals its depth (a ramp), so that any misalignment shows."""
    ramp = (np.add.outer(np.arange(h) * 3, np.arange(w) * 2) % 256).astype(np.uint8)
    checker = (np.add.outer(np.arange(h), np.arange(w)) % 2 * 150 + 50).astype(np.uint8)
    img = np.stack([ramp, 255 - ramp, checker], axis=2)
    return dict(img=img, depth=ramp[:, :, None].copy(), img_fields=['img', 'depth'], color_order='bgr')


def test_random_resized_crop_moves_rgb_and_depth_together():
    for seed in range(5):
        with using_rng(np.random.default_rng(seed)):
            out = RandomResizedCrop(24, interpolation='nearest')(_results())
        assert out['img'].shape == (24, 24, 3) and out['depth'].shape == (24, 24, 1)
        np.testing.assert_array_equal(out['img'][:, :, 0], out['depth'][:, :, 0])


def test_random_resized_crop_area_and_ratio():
    crop = RandomResizedCrop(8, scale=(0.25, 0.25), ratio=(1.0, 1.0))
    y, x, h, w = crop.draw_box(np.random.default_rng(0), 40, 40)
    assert (h, w) == (20, 20) and 0 <= y <= 20 and 0 <= x <= 20


def test_center_crop_resize_keeps_the_centre():
    out = CenterCropResize(16, crop_pct=0.5, interpolation='nearest')(_results(40, 60))
    assert out['img'].shape == (16, 16, 3)
    np.testing.assert_array_equal(out['img'][:, :, 0], out['depth'][:, :, 0])


@pytest.mark.parametrize('op', INCREASING_OPS)
def test_rand_augment_ops(op):
    original = _results()
    with using_rng(np.random.default_rng(0)):
        out = RandAugment(num_ops=1, magnitude=9, magnitude_std=0.0, prob=1.0, ops=(op,), fill=(255, 255, 255),
                          depth_fill=255)(_results())
    assert out['img'].shape == original['img'].shape and out['img'].dtype == np.uint8
    if op in GEOMETRIC_OPS:
        np.testing.assert_array_equal(out['img'][:, :, 0], out['depth'][:, :, 0])  # one warp, one fill
        assert not np.array_equal(out['depth'], original['depth'])
    else:
        np.testing.assert_array_equal(out['depth'], original['depth'])
        assert not np.array_equal(out['img'], original['img'])


def test_rand_augment_rejects_unknown_ops():
    with pytest.raises(ValueError, match='unknown RandAugment operations'):
        RandAugment(ops=('Cutout',))


def test_color_jitter_changes_rgb_only():
    original = _results()
    with using_rng(np.random.default_rng(1)):
        out = ColorJitter(0.4, 0.4, 0.4, 0.1)(_results())
    np.testing.assert_array_equal(out['depth'], original['depth'])
    assert not np.array_equal(out['img'], original['img'])


def test_random_erasing_erases_one_box_in_both_modalities():
    results = dict(img=np.full((20, 30, 3), 100.0, np.float32), depth=np.full((20, 30, 1), 100.0, np.float32))
    with using_rng(np.random.default_rng(0)):
        out = RandomErasing(prob=1.0, mode='pixel')(results)
    erased_img, erased_depth = out['img'][:, :, 0] != 100.0, out['depth'][:, :, 0] != 100.0
    assert 0 < erased_img.sum() < 600
    np.testing.assert_array_equal(erased_img, erased_depth)
    with pytest.raises(ValueError, match='after Normalize'):
        RandomErasing(prob=1.0)(dict(img=np.zeros((8, 8, 3), np.uint8)))
