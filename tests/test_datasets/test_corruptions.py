"""Corrupt: the sensor corruptions of depth and RGB, their severities, their seeding and where they go in a pipeline."""
import os

import numpy as np
import pytest

from dformer_seg.config import Config
from dformer_seg.datasets.builder import build_dataloader
from dformer_seg.datasets.demo import depth_to_png8, generate_demo_dataset, render_scene
from dformer_seg.datasets.pipelines import CORRUPTIONS, Compose, Corrupt, with_corruption
from dformer_seg.datasets.pipelines.corruptions import DEPTH_CORRUPTIONS, RGB_CORRUPTIONS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', channels=1)]
NORM = dict(type='Normalize', mean=[0, 0, 0], std=[1, 1, 1], depth_mean=[0], depth_std=[1])


def loaded(rgb, depth):
    """A sample as the loading transforms leave it (BGR uint8 image, HxWx1 depth in 0..255 units)."""
    return Compose(LOAD)(dict(img=rgb.copy(), depth=depth.copy()))


@pytest.fixture(scope='module')
def scene():
    rgb, depth_m, _ = render_scene(np.random.default_rng([0, 5]), (60, 80))
    return rgb, depth_to_png8(depth_m)


def corrupt(sample, name, severity, seed=0):
    return Corrupt(name, severity, seed=seed)(dict(sample, img=sample['img'].copy(),
                                                   depth=sample['depth'].copy()))


def change(name, clean, out):
    key = 'img' if CORRUPTIONS[name].modality == 'rgb' else 'depth'
    return float(np.abs(out[key].astype(np.float64) - clean[key].astype(np.float64)).mean())


@pytest.mark.parametrize('name', list(CORRUPTIONS))
def test_each_corruption_grows_with_severity_and_leaves_the_other_modality_alone(scene, name):
    clean = loaded(*scene)
    outs = [corrupt(clean, name, severity) for severity in range(1, 6)]
    changes = [change(name, clean, out) for out in outs]
    assert changes[-1] > 0 and changes[-1] > changes[0]
    assert all(later >= earlier - 1e-6 for earlier, later in zip(changes, changes[1:])), changes
    other = 'depth' if CORRUPTIONS[name].modality == 'rgb' else 'img'
    for out in outs:
        assert np.array_equal(out[other], clean[other])
        assert out['img'].dtype == np.uint8 and out['img'].shape == clean['img'].shape
        assert out['depth'].shape == clean['depth'].shape
        assert out['depth'].min() >= 0 and out['depth'].max() <= 255


def test_same_image_seed_and_severity_give_the_same_result_in_any_order(scene):
    first = loaded(*scene)
    second = loaded(np.ascontiguousarray(scene[0][::-1]), np.ascontiguousarray(scene[1][::-1]))
    for name in CORRUPTIONS:
        a_then_b = [corrupt(first, name, 3), corrupt(second, name, 3)]
        b_then_a = [corrupt(second, name, 3), corrupt(first, name, 3)][::-1]
        for x, y in zip(a_then_b, b_then_a):
            assert np.array_equal(x['img'], y['img']) and np.array_equal(x['depth'], y['depth'])
    for name in ('hole_blobs', 'depth_noise', 'rgb_noise'):
        assert change(name, corrupt(first, name, 3, seed=0), corrupt(first, name, 3, seed=1)) > 0


def test_the_data_loader_order_and_seed_do_not_change_a_corrupted_sample(tmp_path):
    root = str(tmp_path / 'demo')
    generate_demo_dataset(root, seed=0, num_train=1, num_test=4, size=(24, 32))
    pipeline = with_corruption(LOAD + [dict(type='PackSegInputs')], 'hole_blobs+rgb_noise', 4, seed=7)

    def by_image(loader_seed, shuffle):
        loader = build_dataloader(dict(batch_size=1, num_workers=0, shuffle=shuffle, dataset=dict(
            type='DemoRGBDDataset', data_root=root, split='test', pipeline=pipeline)), seed=loader_seed)
        loader.set_epoch(3)
        return {batch['img_metas'][0]['img_path']: (batch['img'].numpy(), batch['depth'].numpy())
                for batch in loader}

    plain, shuffled = by_image(0, False), by_image(123, True)
    assert sorted(plain) == sorted(shuffled) and len(plain) == 4
    for path, (img, depth) in plain.items():
        assert np.array_equal(img, shuffled[path][0]) and np.array_equal(depth, shuffled[path][1])


def test_edge_holes_open_on_the_far_side_and_widen():
    depth_m = np.full((20, 640), 3.0, np.float32)
    depth_m[:, :320] = 1.0  # a near surface on the left, the far one on the right
    sample = loaded(np.zeros((20, 640, 3), np.uint8), depth_to_png8(depth_m))
    widths = []
    for severity in range(1, 6):
        holes = corrupt(sample, 'edge_holes', severity)['depth'][:, :, 0] == 0
        assert not holes[:, :320].any()  # the near side keeps its depth
        columns = np.flatnonzero(holes.all(axis=0))
        assert columns.min() == 320 and np.array_equal(columns, np.arange(320, 320 + len(columns)))
        widths.append(len(columns))
    assert widths == list(CORRUPTIONS['edge_holes'].levels)  # pixels at 640 wide


def test_hole_blobs_cover_the_share_of_the_image(scene):
    sample = loaded(*scene)
    for severity, share in enumerate(CORRUPTIONS['hole_blobs'].levels, 1):
        holes = corrupt(sample, 'hole_blobs', severity)['depth'] == 0
        assert holes.mean() == pytest.approx(share, abs=0.01)
    # the same random field at every severity: the holes of a milder one stay holes
    mild, severe = (corrupt(sample, 'hole_blobs', s)['depth'] == 0 for s in (2, 4))
    assert np.all(severe[mild])


def test_depth_noise_sigma_grows_with_the_square_of_the_distance():
    depth_m = np.full((200, 200), 2.0, np.float32)
    depth_m[:, 100:] = 4.0
    sample = loaded(np.zeros((200, 200, 3), np.uint8), depth_m)  # float metres: 0..10 m -> 0..255
    noisy_m = corrupt(sample, 'depth_noise', 3)['depth'][:, :, 0] * 10.0 / 255.0
    k = CORRUPTIONS['depth_noise'].levels[2]
    assert np.std(noisy_m[:, :100] - 2.0) == pytest.approx(k * 4, rel=0.05)
    assert np.std(noisy_m[:, 100:] - 4.0) == pytest.approx(k * 16, rel=0.05)


def test_misalignment_moves_the_depth_only_and_leaves_no_depth_where_it_uncovers():
    depth = np.tile(np.arange(1, 129, dtype=np.uint8)[None, :] * 2, (64, 1))  # increasing to the right
    sample = loaded(np.zeros((64, 128, 3), np.uint8), depth)
    moved = corrupt(sample, 'misalignment', 5)['depth'][:, :, 0]
    assert (moved == 0).any()  # the uncovered border
    shift = 20 * 128 / 640
    inside = moved[16:48, 40:88]
    assert np.abs(inside.astype(float) - depth[16:48, 40:88]).max() <= 2 * (shift + 3) + 1
    assert not np.array_equal(moved, depth)


def test_quantisation_has_fewer_levels_and_depth_scale_multiplies():
    depth_m = np.tile(np.linspace(0.5, 8.0, 256, dtype=np.float32)[None, :], (4, 1))
    sample = loaded(np.zeros((4, 256, 3), np.uint8), depth_m)
    counts = [len(np.unique(corrupt(sample, 'quantisation', s)['depth'])) for s in range(1, 6)]
    assert counts == sorted(counts, reverse=True) and counts[-1] < counts[0] < 256
    for severity, factor in enumerate(CORRUPTIONS['depth_scale'].levels, 1):
        scaled = corrupt(sample, 'depth_scale', severity)['depth']
        np.testing.assert_allclose(scaled, sample['depth'] * factor, rtol=1e-5)


def test_missing_depth_drops_whole_maps_nested_over_severities():
    rng = np.random.default_rng(0)
    samples = [loaded(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8), np.full((4, 4), 9, np.uint8))
               for _ in range(200)]
    dropped = np.array([[bool((corrupt(s, 'missing_depth', severity)['depth'] == 0).all()) for s in samples]
                        for severity in range(1, 6)])
    np.testing.assert_allclose(dropped.mean(axis=1), CORRUPTIONS['missing_depth'].levels, atol=0.08)
    assert dropped[-1].all() and all(np.all(dropped[i + 1][dropped[i]]) for i in range(4))
    kept = corrupt(samples[0], 'missing_depth', 1)
    if not (kept['depth'] == 0).all():
        assert (kept['depth'] == 9).all()


def test_rgb_corruptions_do_what_they_say():
    flat = loaded(np.full((100, 100, 3), 128, np.uint8), np.full((100, 100), 50, np.uint8))
    noisy = corrupt(flat, 'rgb_noise', 2)['img'].astype(float)
    assert np.std(noisy - 128) == pytest.approx(CORRUPTIONS['rgb_noise'].levels[1], rel=0.05)
    means = [corrupt(flat, 'low_light', s)['img'].mean() for s in range(1, 6)]
    assert means == sorted(means, reverse=True) and means[0] < 128

    point = np.zeros((64, 640, 3), np.uint8)
    point[32, 320] = 255
    blurred = corrupt(loaded(point, np.full((64, 640), 50, np.uint8)), 'motion_blur', 5)['img'][:, :, 0]
    ys, xs = np.nonzero(blurred)
    extent = np.hypot(xs.max() - xs.min(), ys.max() - ys.min())
    assert CORRUPTIONS['motion_blur'].levels[4] - 2 <= extent <= CORRUPTIONS['motion_blur'].levels[4] + 3


def test_a_combination_applies_both(scene):
    clean = loaded(*scene)
    both = corrupt(clean, 'depth_noise+jpeg', 4)
    assert np.array_equal(both['depth'], corrupt(clean, 'depth_noise', 4)['depth'])
    assert np.array_equal(both['img'], corrupt(clean, 'jpeg', 4)['img'])
    assert Corrupt(['edge_holes', 'low_light'], 1).corruption == 'edge_holes+low_light'


def test_bad_settings_and_order_are_refused(scene):
    with pytest.raises(ValueError, match=r"unknown corruption 'fog'; known: depth: edge_holes, .*RGB: rgb_noise"):
        Corrupt('fog', 1)
    with pytest.raises(ValueError, match="unknown corruption 'blur'"):
        Corrupt('depth_noise+blur', 1)
    for severity in (0, 6, 2.5, True, '3'):
        with pytest.raises(ValueError, match='severity must be an integer from 1 to 5'):
            Corrupt('jpeg', severity)
    with pytest.raises(ValueError, match='depth_max_m must be a positive'):
        Corrupt('jpeg', 1, depth_max_m=0)
    with pytest.raises(ValueError, match='before Normalize'):
        Corrupt('jpeg', 1)(Compose([NORM])(loaded(*scene)))
    image_only = Compose([dict(type='LoadImageFromFile')])(dict(img=scene[0].copy()))
    with pytest.raises(KeyError, match='after LoadDepthFromFile'):
        Corrupt('depth_noise', 1)(image_only)
    hha = Compose([dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', color_type='color')])(
        dict(img=scene[0].copy(), depth=scene[0].copy()))
    with pytest.raises(ValueError, match='single-channel depth map, got 3 channels'):
        Corrupt('depth_noise', 1)(hha)
    assert Corrupt('misalignment', 2)(hha)['depth'].shape == hha['depth'].shape  # moving works on any channels


def test_with_corruption_inserts_after_loading_before_everything_else():
    demo = Config.fromfile(os.path.join(REPO, 'configs', 'demo', 'dformer_tiny_demo_modality_dropout.py'))
    pipeline = demo.to_dict()['test_dataloader']['dataset']['pipeline']
    corrupted = with_corruption(pipeline, 'edge_holes', 3, seed=2, depth_max_m=8)
    assert [t['type'] for t in corrupted] == ['LoadImageFromFile', 'LoadDepthFromFile', 'Corrupt',
                                              'ModalityDropout', 'Normalize', 'LoadAnnotations', 'PackSegInputs']
    assert corrupted[2] == dict(type='Corrupt', corruption='edge_holes', severity=3, seed=2, depth_max_m=8.0)
    assert len(pipeline) == 6  # the given list is not changed
    rgb_only = [dict(type='LoadImageFromFile'), dict(type='Normalize', mean=[0], std=[1])]
    assert with_corruption(rgb_only, 'jpeg', 1)[1]['type'] == 'Corrupt'
    with pytest.raises(ValueError, match='corrupts the depth, but the pipeline has no LoadDepthFromFile'):
        with_corruption(rgb_only, 'jpeg+missing_depth', 1)
    with pytest.raises(ValueError, match='no LoadImageFromFile'):
        with_corruption([dict(type='PackSegInputs')], 'jpeg', 1)
    assert set(DEPTH_CORRUPTIONS) | set(RGB_CORRUPTIONS) == set(CORRUPTIONS)
