"""ModalityDropout: drops the whole depth with probability p, to the value a sample without depth gets."""
import os

import numpy as np
import pytest

from dformer_seg.config import Config
from dformer_seg.datasets.pipelines import Compose, ModalityDropout, using_rng

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NORM = dict(type='Normalize', mean=[0, 0, 0], std=[1, 1, 1], depth_mean=[0], depth_std=[1])


def loaded(missing_value=5):
    pipeline = Compose([dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', missing_value=missing_value)])
    depth = np.arange(1, 13, dtype=np.uint8).reshape(3, 4)
    return pipeline(dict(img=np.zeros((3, 4, 3), np.uint8), depth=depth))


def test_dropped_depth_is_what_a_sample_without_depth_gets():
    without_depth = Compose([dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', missing_value=5)])(
        dict(img=np.zeros((3, 4, 3), np.uint8), depth_path=None))['depth']
    dropped = ModalityDropout(prob=1.0)(loaded())
    assert dropped['depth_dropped']
    assert np.array_equal(dropped['depth'], without_depth) and dropped['depth'].dtype == without_depth.dtype
    kept = ModalityDropout(prob=0.0)(loaded())
    assert not kept['depth_dropped'] and np.array_equal(kept['depth'][:, :, 0], np.arange(1, 13).reshape(3, 4))
    fractional = ModalityDropout(prob=1.0)(loaded(missing_value=2.5))['depth']
    assert fractional.dtype == np.float32 and (fractional == 2.5).all()


def test_drop_rate_follows_prob_and_the_sample_generator():
    rng = np.random.default_rng(0)
    with using_rng(rng):
        drops = [ModalityDropout(prob=0.3)(loaded())['depth_dropped'] for _ in range(400)]
    assert 0.24 < np.mean(drops) < 0.36
    with using_rng(np.random.default_rng(0)):
        again = [ModalityDropout(prob=0.3)(loaded())['depth_dropped'] for _ in range(400)]
    assert drops == again


def test_order_and_settings_are_checked():
    with pytest.raises(ValueError, match=r'prob must be in \[0, 1\]'):
        ModalityDropout(prob=1.5)
    with pytest.raises(KeyError, match='after LoadDepthFromFile'):
        ModalityDropout()(dict(depth=np.zeros((2, 2))))
    normalized = Compose([NORM])(loaded())
    with pytest.raises(ValueError, match='before Normalize'):
        ModalityDropout()(normalized)


def test_demo_dropout_config_places_it_before_normalize():
    cfg = Config.fromfile(os.path.join(REPO, 'configs', 'demo', 'dformer_tiny_demo_modality_dropout.py'))
    train = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    test = [t.type for t in cfg.test_dataloader.dataset.pipeline]
    assert train.index('ModalityDropout') == 7 and train[8] == 'Normalize'
    assert cfg.train_dataloader.dataset.pipeline[7].prob == 0.3
    assert test.index('ModalityDropout') == 2 and cfg.test_dataloader.dataset.pipeline[2].prob == 0.0
