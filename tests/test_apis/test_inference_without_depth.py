"""inference_model(model, rgb) without depth: the configured missing-depth value and one warning."""
import logging

import numpy as np
import pytest

from dformer_seg.apis import inference, inference_model, init_model
from dformer_seg.config import Config

H, W = 32, 40
IMG_NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], depth_mean=[122.4], depth_std=[71.4])


def mini_model(missing_value):
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', channels=1, missing_value=missing_value),
                dict(type='Normalize', **IMG_NORM), dict(type='PackSegInputs')]
    model = dict(
        type='RGBDEncoderDecoder',
        backbone=dict(type='DFormer', dims=[16, 32, 64, 128], mlp_ratios=[8, 8, 4, 4], depths=[1, 1, 1, 1],
                      num_heads=[1, 2, 4, 8], windows=[0, 7, 7, 7]),
        decode_head=dict(type='LightHamHead', in_channels=[32, 64, 128], in_index=[1, 2, 3], channels=16,
                         ham_channels=32, num_classes=4, nmf_seed=0, norm_cfg=dict(type='BN', eps=1e-3)),
        test_cfg=dict(mode='whole'))
    return init_model(Config(dict(model=model, test_pipeline=pipeline)), device='cpu')


@pytest.fixture(scope='module')
def model():
    return mini_model(missing_value=0)


@pytest.fixture
def fresh_warning():
    inference._missing_depth_warned.clear()
    yield
    inference._missing_depth_warned.clear()


def test_no_depth_runs_with_the_missing_value_and_warns_once(model, fresh_warning, caplog):
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    with caplog.at_level(logging.WARNING, logger='dformer_seg'):
        without = inference_model(model, rgb, return_scores=True)
        again = inference_model(model, [rgb, rgb], [None, np.zeros((H, W), np.uint8)], return_scores=True)
    warnings = [r for r in caplog.records if 'inference without depth' in r.getMessage()]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert '(0 in 0..255 units)' in message and 'mIoU fell from' in message and 'docs/data.md' in message
    assert '{' not in message  # the measured figures are filled in
    explicit = inference_model(model, rgb, np.zeros((H, W), np.uint8), return_scores=True)
    assert without.label_map.shape == (H, W) and without.depth_path is None
    np.testing.assert_allclose(without.scores, explicit.scores, atol=1e-6)
    np.testing.assert_allclose(again[0].scores, again[1].scores, atol=1e-6)


def test_the_configured_missing_value_is_used(fresh_warning):
    rgb = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    model = mini_model(missing_value=122.4)  # the depth mean: normalized depth 0
    without = inference_model(model, rgb, return_scores=True)
    explicit = inference_model(model, rgb, np.full((H, W), 122.4 / 25.5, np.float32), return_scores=True)
    np.testing.assert_allclose(without.scores, explicit.scores, atol=1e-5)
