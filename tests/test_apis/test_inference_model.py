import os

import cv2
import jittor as jt
import numpy as np
import pytest

from dformer_seg.apis import SegResult, enable_tta, inference_model, inference_pipeline_config, init_model
from dformer_seg.config import Config
from dformer_seg.datasets import DataError, build_dataset
from dformer_seg.datasets.collate import collate_samples

NUM_CLASSES = 5
H, W = 40, 56
IMG_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], depth_mean=[122.4], depth_std=[71.4])


def mini_cfg(data_root='unused', test_pipeline=None, **test_cfg):
    pipeline = test_pipeline or [
        dict(type='LoadImageFromFile', color_order='bgr'),
        dict(type='LoadDepthFromFile', channels=1, raw_depth_range=(0, 255 * 40)),
        dict(type='Normalize', **IMG_NORM),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs'),
    ]
    model = dict(
        type='RGBDEncoderDecoder',
        backbone=dict(type='DFormer', dims=[16, 32, 64, 128], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 1, 1],
                      num_heads=[1, 2, 4, 8], windows=[0, 7, 7, 7], drop_path_rate=0.1),
        decode_head=dict(type='LightHamHead', in_channels=[32, 64, 128], in_index=[1, 2, 3], channels=16,
                         ham_channels=32, num_classes=NUM_CLASSES, nmf_seed=0,
                         norm_cfg=dict(type='BN', eps=1e-3, requires_grad=True)),
        test_cfg=dict(mode='whole', **test_cfg))
    dataset = dict(type='RGBDSegDataset', data_root=data_root, split=None, img_suffix='.png',
                   classes=[f'c{i}' for i in range(NUM_CLASSES)], reduce_zero_label=True, pipeline=pipeline)
    return Config(dict(model=model, test_dataloader=dict(batch_size=1, dataset=dataset),
                       tta_cfg=dict(scales=[1.0], flip=False)))


@pytest.fixture(scope='module')
def samples(tmp_path_factory):
    """Two RGB-D pairs with labels on disk (NYU layout), and the arrays they hold."""
    root = str(tmp_path_factory.mktemp('rgbd'))
    arrays = []
    for i in range(2):
        rng = np.random.default_rng(i)
        bgr = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
        depth = rng.integers(0, 256, size=(H, W), dtype=np.uint8)
        label = rng.integers(0, NUM_CLASSES + 1, size=(H, W), dtype=np.uint8)
        for folder, suffix, image in (('RGB', '.png', bgr), ('Depth', '.png', depth), ('Label', '.png', label)):
            os.makedirs(os.path.join(root, folder), exist_ok=True)
            assert cv2.imwrite(os.path.join(root, folder, f'{i}{suffix}'), image)
        arrays.append((bgr, depth))
    paths = [(os.path.join(root, 'RGB', f'{i}.png'), os.path.join(root, 'Depth', f'{i}.png')) for i in range(2)]
    return root, paths, arrays


@pytest.fixture(scope='module')
def model(samples):
    return init_model(mini_cfg(samples[0]), device='cpu')


def test_matches_the_evaluation_path(model, samples):
    """inference_model == what tools/test.py computes: the data set's test pipeline, collate, predict."""
    root, paths, _ = samples
    cfg = mini_cfg(root)
    dataset = build_dataset(cfg.to_dict()['test_dataloader']['dataset'])
    batch = collate_samples([dataset[0]])
    expected = model(dict(img=jt.array(batch['img']), depth=jt.array(batch['depth']),
                          img_metas=batch['img_metas']), mode='predict')[0]

    result = inference_model(model, *paths[0], return_scores=True)
    assert isinstance(result, SegResult)
    assert result.img_path == paths[0][0] and result.depth_path == paths[0][1]
    assert result.label_map.shape == (H, W) and result.label_map.dtype == np.int64
    np.testing.assert_array_equal(result.label_map, expected)
    assert result.scores.shape == (NUM_CLASSES, H, W) and result.scores.dtype == np.float32
    np.testing.assert_allclose(result.scores.sum(axis=0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(result.scores.argmax(axis=0), result.label_map)
    assert inference_model(model, *paths[0]).scores is None


def test_arrays_lists_and_colour_order(model, samples):
    _, paths, arrays = samples
    from_files = inference_model(model, [p[0] for p in paths], [p[1] for p in paths], return_scores=True)
    assert isinstance(from_files, list) and len(from_files) == 2
    bgr, depth = arrays[1]
    # The config reads BGR: a BGR array as is, an RGB array declared as RGB, and a 16-bit
    # depth of the config's raw_depth_range all give the file result.
    for rgb_input, order, depth_input in ((bgr, None, depth), (bgr[..., ::-1].copy(), 'rgb', depth),
                                          (bgr, 'bgr', depth.astype(np.uint16) * 40)):
        result = inference_model(model, rgb_input, depth_input, return_scores=True, color_order=order)
        assert result.img_path is None and result.depth_path is None
        np.testing.assert_allclose(result.scores, from_files[1].scores, atol=1e-6)
    swapped = inference_model(model, bgr[..., ::-1].copy(), depth, return_scores=True)
    assert np.abs(swapped.scores - from_files[1].scores).max() > 1e-3  # taken as BGR: a different input


def test_resizing_pipeline_tta_and_slide_keep_the_original_size(samples):
    root, paths, _ = samples
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile'),
                dict(type='Resize', scale=(32, 48), keep_ratio=False),
                dict(type='Normalize', **IMG_NORM), dict(type='PackSegInputs')]
    model = init_model(mini_cfg(root, test_pipeline=pipeline), device='cpu')
    whole = inference_model(model, *paths[0], return_scores=True)
    assert whole.label_map.shape == (H, W)
    # A single-scale, unflipped "augmentation" is the whole-image inference, except that the pipeline's
    # resize is undone on probabilities (TTA averages them) instead of logits: equal up to that small difference.
    enable_tta(model)
    assert model.test_cfg['aug'] == dict(scales=[1.0], flip=False, size_divisor=None)
    np.testing.assert_allclose(inference_model(model, *paths[0], return_scores=True).scores, whole.scores,
                               atol=1e-4)
    enable_tta(model, dict(scales=[0.5, 1.0], flip=True))
    tta = inference_model(model, *paths[0], return_scores=True)
    assert tta.scores.shape == (NUM_CLASSES, H, W)
    assert np.abs(tta.scores - whole.scores).max() > 1e-4
    model.set_test_cfg(dict(mode='slide', crop_size=(32, 32), stride=(16, 16)))
    slide = inference_model(model, *paths[0], return_scores=True)
    assert slide.scores.shape == (NUM_CLASSES, H, W)
    assert np.abs(slide.scores - whole.scores).max() > 1e-4


def test_pipeline_choice_drops_label_loading():
    cfg = mini_cfg()
    assert [t['type'] for t in inference_pipeline_config(cfg)] == [
        'LoadImageFromFile', 'LoadDepthFromFile', 'Normalize', 'PackSegInputs']
    only_top_level = Config(dict(test_pipeline=[dict(type='LoadImageFromFile')]))
    assert inference_pipeline_config(only_top_level) == [dict(type='LoadImageFromFile')]
    with pytest.raises(KeyError, match='no test pipeline'):
        inference_pipeline_config(Config(dict(model=dict())))


def test_clear_errors(model, samples, tmp_path):
    _, paths, arrays = samples
    rgb_path, depth_path = paths[0]
    with pytest.raises(ValueError, match='2 RGB images but 1 depth maps'):
        inference_model(model, [rgb_path, rgb_path], [depth_path])
    with pytest.raises(DataError, match=r'depth file not found: .*nothing\.png'):
        inference_model(model, rgb_path, str(tmp_path / 'nothing.png'))
    corrupt = tmp_path / 'corrupt.png'
    corrupt.write_bytes(b'not an image')
    with pytest.raises(DataError, match=r'cannot decode depth file .*corrupt\.png.*\(list item 1, counting from 0\)'):
        inference_model(model, [rgb_path, rgb_path], [depth_path, str(corrupt)])
    with pytest.raises(DataError, match=r'depth array is 20x56 \(HxW\) but image file .*0\.png is 40x56'):
        inference_model(model, rgb_path, arrays[0][1][:20])
    with pytest.raises(TypeError, match='file path, a numpy array or a list of them, got int'):
        inference_model(model, 3, depth_path)
    with pytest.raises(TypeError, match='got dict'):
        inference_model(model, [rgb_path], [dict()])
    with pytest.raises(ValueError, match='needs an RGB image for every depth map'):
        inference_model(model, [None], [depth_path])
    with pytest.raises(ValueError, match='color_order'):
        inference_model(model, rgb_path, depth_path, color_order='hsv')
    with pytest.raises(KeyError, match='no tta_cfg'):
        enable_tta(init_model(Config(dict(model=mini_cfg().to_dict()['model'])), device='cpu'))
    bare = init_model(mini_cfg(), device='cpu')
    del bare.cfg
    with pytest.raises(AttributeError, match='init_model'):
        inference_model(bare, rgb_path, depth_path)


def test_swapped_rgb_and_depth_are_named(model, samples, tmp_path):
    _, paths, arrays = samples
    rgb_path, depth_path = paths[0]
    # The depth PNG given as rgb is read as three identical channels, the RGB image as one-channel depth.
    with pytest.raises(DataError, match=rf'^rgb and depth look swapped: depth {rgb_path} is a colour image and '
                                        rf'rgb {depth_path} has a single channel'):
        inference_model(model, depth_path, rgb_path)
    grey_as_colour = str(tmp_path / 'grey_as_colour.png')
    cv2.imwrite(grey_as_colour, np.repeat(arrays[0][1][:, :, None], 3, axis=2))
    with pytest.raises(DataError, match='look swapped'):
        inference_model(model, grey_as_colour, rgb_path)
    with pytest.raises(DataError, match=r'look swapped: depth array \(40, 56, 3\) is a colour image'):
        inference_model(model, arrays[0][1], arrays[0][0])
    # A colour image as depth next to a colour rgb image: not a swap, still not a depth map.
    with pytest.raises(DataError, match=rf'^depth {rgb_path} is a colour image \(3 different channels\)'):
        inference_model(model, rgb_path, rgb_path)
    # A depth map saved with three identical channels is a depth map.
    assert inference_model(model, rgb_path, grey_as_colour).label_map.shape == (H, W)


def test_bf16_precision_agrees_with_fp32(model, samples, tmp_path):
    """init_model(precision='bf16') runs the heavy ops in bf16: the same weights label almost every pixel alike."""
    from dformer_seg.ops.precision import PrecisionError, check_precision
    from dformer_seg.utils.checkpoint import save_checkpoint
    try:
        check_precision('bf16')
    except PrecisionError as exc:
        pytest.skip(f'this CPU cannot run bf16: {exc}')
    checkpoint = str(tmp_path / 'weights.pkl')
    save_checkpoint(checkpoint, model.state_dict())
    low = init_model(mini_cfg(samples[0]), checkpoint, device='cpu', precision='bf16')
    paths = samples[1]
    fp32 = inference_model(model, [p[0] for p in paths], [p[1] for p in paths], return_scores=True)
    bf16 = inference_model(low, [p[0] for p in paths], [p[1] for p in paths], return_scores=True)
    for a, b in zip(fp32, bf16):
        assert np.mean(a.label_map == b.label_map) >= 0.97
        assert not np.array_equal(a.scores, b.scores)  # the bf16 kernels ran
        np.testing.assert_allclose(a.scores, b.scores, atol=0.05)
    with pytest.raises(PrecisionError, match='unknown precision'):
        init_model(mini_cfg(samples[0]), device='cpu', precision='int4')
