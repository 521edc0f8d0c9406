"""Resuming is exact: a run interrupted after epoch 1 and resumed ends with the weights of an uninterrupted
run, bit for bit, with random augmentation, drop path, dropout and random bases (the toy model's), with and
without gradient accumulation and worker processes."""
import os
import shutil

import numpy as np
import pytest

from dformer_seg.engine import Runner

from toy import StochasticToySegmentor, rgbd_loader_cfg, write_rgbd_set  # noqa: F401  (registers the model)


@pytest.fixture(scope='module')
def rgbd_set(tmp_path_factory):
    return write_rgbd_set(str(tmp_path_factory.mktemp('rgbd')))


def runner(work_dir, data_root, num_workers, accumulate, resume=False, seed=3):
    return Runner(
        model=dict(type='StochasticToySegmentor'), work_dir=str(work_dir), seed=seed, resume=resume,
        train_dataloader=rgbd_loader_cfg(data_root, num_workers=num_workers),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.01), accumulative_counts=accumulate),
        param_scheduler=dict(type='WarmupPolyLR', warmup_iters=2, power=0.9),
        train_loop=dict(type='EpochBasedTrainLoop', max_epochs=3),
        default_hooks=dict(param_scheduler=dict(type='ParamSchedulerHook'),
                           checkpoint=dict(type='CheckpointHook', interval=1)))


def weights(runner):
    return {k: v.numpy().copy() for k, v in runner.model.state_dict().items()}


# resume_seed None: the resumed run's config sets no seed, so it continues with the checkpoint's.
@pytest.mark.parametrize('num_workers, accumulate, resume_seed', [(0, 1, 3), (0, 3, None), (2, 1, 3)])
def test_resume_after_epoch_1_gives_the_weights_of_an_uninterrupted_run(tmp_path, rgbd_set, num_workers,
                                                                         accumulate, resume_seed):
    straight = runner(tmp_path / 'straight', rgbd_set, num_workers, accumulate)
    straight.train()
    os.makedirs(tmp_path / 'resumed')
    shutil.copy(tmp_path / 'straight' / 'epoch_1.pkl', tmp_path / 'resumed' / 'epoch_1.pkl')
    resumed = runner(tmp_path / 'resumed', rgbd_set, num_workers, accumulate,
                     resume=str(tmp_path / 'resumed' / 'epoch_1.pkl'), seed=resume_seed)
    resumed.train()
    assert resumed.seed == 3
    assert (resumed.epoch, resumed.iter) == (straight.epoch, straight.iter) == (3, 12)
    expected, got = weights(straight), weights(resumed)
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
