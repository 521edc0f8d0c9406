"""configs/pretrain: RGBD-Pretrain's recipe in every ImageNet config, and every config resolves and builds its parts."""
import glob
import os

import pytest

from dformer_seg.config import Config
from dformer_seg.config.keys import check_top_level_keys
from dformer_seg.datasets.pipelines import Compose

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGENET_DROP_PATH = {'dformer_tiny': 0.1, 'dformer_small': 0.1, 'dformer_base': 0.15, 'dformer_large': 0.2,
                      'dformerv2_s': 0.15, 'dformerv2_b': 0.4, 'dformerv2_l': 0.5}


def _load(name):
    cfg = Config.fromfile(os.path.join(REPO, 'configs', 'pretrain', name), import_custom_modules=False)
    check_top_level_keys(cfg)
    return cfg


@pytest.mark.parametrize('stem', sorted(IMAGENET_DROP_PATH))
def test_imagenet_recipe(stem):
    cfg = _load(f'{stem}_imagenet_rgbd.py')
    assert cfg.model.type == 'RGBDImageClassifier' and cfg.model.num_classes == 1000
    assert cfg.model.backbone.drop_path_rate == IMAGENET_DROP_PATH[stem]
    assert cfg.model.label_smoothing == 0.1
    assert (cfg.model.batch_augments.mixup_alpha, cfg.model.batch_augments.cutmix_alpha) == (0.8, 1.0)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == ('AdamW', 1e-3, 0.05)
    assert cfg.optim_wrapper.clip_grad.max_norm == 1.0
    assert cfg.param_scheduler.type == 'CosineAnnealingLR' and cfg.param_scheduler.warmup_epochs == 5
    assert cfg.param_scheduler.warmup_ratio * optimizer.lr == pytest.approx(1e-6)
    assert cfg.train_loop.max_epochs == 300 and cfg.train_dataloader.batch_size == 128
    erasing = [t for t in cfg.train_pipeline if t.type == 'RandomErasing'][0]
    augment = [t for t in cfg.train_pipeline if t.type == 'RandAugment'][0]
    assert (erasing.prob, erasing.mode) == (0.25, 'pixel')
    assert (augment.num_ops, augment.magnitude, augment.magnitude_std) == (2, 9, 0.5)


@pytest.mark.parametrize('path', sorted(glob.glob(os.path.join(REPO, 'configs', 'pretrain', '*.py'))),
                         ids=os.path.basename)
def test_pipelines_and_evaluator_build(path):
    from dformer_seg.registry import METRICS
    cfg = _load(os.path.basename(path))
    for loader in ('train_dataloader', 'val_dataloader'):
        Compose(cfg[loader].dataset.pipeline)
    METRICS.build(cfg.val_evaluator)
    assert cfg.default_hooks.checkpoint.save_best == 'top1'
