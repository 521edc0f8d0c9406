"""Part 3 of RGB-D pretraining end to end: tools/train.py pretrains (2 iterations) on the demo classification
set, and its checkpoint starts a segmentation model as ``model.pretrained``; pretrain2backbone.py writes the
official layout."""
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from dformer_seg.config import Config
from dformer_seg.datasets.demo_cls import generate_demo_cls_dataset
from dformer_seg.registry import SEGMENTORS
from dformer_seg.utils.checkpoint import PRETRAINED_STATE_DICT_KEYS, CheckpointError, read_checkpoint

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRETRAIN_CONFIG = os.path.join(REPO, 'configs', 'pretrain', 'dformer_tiny_demo_cls.py')
SEG_CONFIG = os.path.join(REPO, 'configs', 'demo', 'dformer_tiny_demo.py')
sys.path.insert(0, os.path.join(REPO, 'tools', 'model_converters'))


def run_tool(*args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=1500)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """The epoch checkpoint of a 2-iteration pretraining run of a 1-block-per-stage DFormer-T."""
    root = str(tmp_path_factory.mktemp('demo_cls'))
    generate_demo_cls_dataset(root, seed=0, num_train_per_class=1, num_val_per_class=1, size=(32, 32))
    work_dir = str(tmp_path_factory.mktemp('pretrain'))
    options = [f'{loader}.dataset.{key}={root}/{folder}' for loader in ('train_dataloader', 'val_dataloader')
               for key, folder in (('data_root', 'images'), ('depth_root', 'depth'))]
    options += ['model.backbone.depths=[1,1,1,1]', 'train_dataloader.batch_size=3', 'train_dataloader.num_workers=0',
                'val_dataloader.num_workers=0', 'train_dataloader.dataset.pipeline.2.size=32',
                'train_loop.max_epochs=1', 'train_loop.val_interval=1', 'default_hooks.checkpoint.interval=1',
                'default_hooks.logger.interval=1', 'param_scheduler.warmup_epochs=0']
    code, log = run_tool('tools/train.py', PRETRAIN_CONFIG, '--work-dir', work_dir, '--cfg-options', *options)
    assert code == 0, log
    assert 'Epoch [1][2/2]' in log, log
    assert 'top1' in log and 'top5' in log
    return os.path.join(work_dir, 'epoch_1.pkl')


def _segmentor(pretrained_path, arch='tiny'):
    cfg = Config.fromfile(SEG_CONFIG)
    cfg.model.backbone.depths = [1, 1, 1, 1]
    cfg.model.backbone.arch = arch
    cfg.model.pretrained = pretrained_path
    from dformer_seg import models  # noqa: F401
    return SEGMENTORS.build(cfg.model)


def test_pretraining_checkpoint_is_a_segmentation_backbone(pretrained, caplog):
    state = read_checkpoint(pretrained)['state_dict']
    assert state and all(k.startswith(('backbone.', 'pred.')) for k in state)
    with caplog.at_level(logging.INFO, logger='dformer_seg'):
        model = _segmentor(pretrained)
    backbone = model.backbone.state_dict()
    assert f'{len(backbone)}/{len(backbone)} tensors; 0 missing' in caplog.text
    for name, value in backbone.items():
        np.testing.assert_array_equal(value.numpy(), state['backbone.' + name])


def test_a_mismatched_backbone_names_the_keys(pretrained, caplog):
    with caplog.at_level(logging.WARNING, logger='dformer_seg'):
        _segmentor(pretrained, arch='small')
    assert 'shape mismatches' in caplog.text
    assert 'downsample_layers.0.0.weight: model (32, 3, 3, 3), checkpoint (16, 3, 3, 3)' in caplog.text


def test_pretrain2backbone_writes_the_official_layout(pretrained, tmp_path):
    import pretrain2backbone

    out = str(tmp_path / 'backbone.pth')
    code, log = run_tool('tools/model_converters/pretrain2backbone.py', pretrained, out)
    assert code == 0, log
    official = read_checkpoint(out, state_dict_keys=PRETRAINED_STATE_DICT_KEYS)['state_dict']
    ours = read_checkpoint(pretrained)['state_dict']
    assert {k for k in official if not k.endswith('num_batches_tracked')} == \
        {k[len('backbone.'):] if k.startswith('backbone.') else k for k in ours}
    assert 'downsample_layers.0.1.num_batches_tracked' in official and 'pred.weight' in official
    assert 'pred.weight' not in pretrain2backbone.backbone_state_dict(pretrained, with_head=False)

    code, log = run_tool('tools/model_converters/pretrain2backbone.py', pretrained, out, '--config', SEG_CONFIG)
    assert code == 1 and 'the backbone does not match' in log and 'missing stages.0.1.' in log
    with pytest.raises(CheckpointError, match='no state_dict_ema'):
        pretrain2backbone.backbone_state_dict(pretrained, use_ema=True)
