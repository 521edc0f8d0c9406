"""What the engine protects a run from: NaN/inf weights and scores, class-count mismatches, work-dir reuse,
left-overs of killed checkpoint writes."""
import hashlib
import os
import shutil

import jittor as jt
import numpy as np
import pytest
from jittor import nn

from dformer_seg.config import ConfigError
from dformer_seg.engine import Hook, Runner
from dformer_seg.engine.runner import WorkDirError
from dformer_seg.registry import SEGMENTORS
from dformer_seg.utils.numerics import NonFiniteError

from toy import ToyLoader, ToySegmentor, toy_runner_kwargs


class PoisonWeightsHook(Hook):
    """Makes one weight NaN after iteration ``at``, as a diverging update would (before any checkpoint)."""

    priority = 'HIGHEST'

    def __init__(self, at):
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter == self.at:
            weight = runner.model.cls.weight
            weight.update(weight * float('nan'))


def iter_hooks(interval=2, max_keep_ckpts=-1, invalid_loss=None):
    hooks = dict(param_scheduler=dict(type='ParamSchedulerHook'),
                 checkpoint=dict(type='CheckpointHook', interval=interval, by_epoch=False,
                                 max_keep_ckpts=max_keep_ckpts))
    if invalid_loss is not None:
        hooks['invalid_loss'] = invalid_loss
    return hooks


def short_run(work_dir, max_iters=2, **overrides):
    overrides.setdefault('hooks', iter_hooks())
    overrides.setdefault('val_dataloader', None)
    return Runner(**toy_runner_kwargs(work_dir, loop=dict(type='IterBasedTrainLoop', max_iters=max_iters),
                                      **overrides))


def md5(path):
    with open(path, 'rb') as f:
        return hashlib.md5(f.read()).hexdigest()


def logs(work_dir):
    return sorted(name for name in os.listdir(work_dir) if name.endswith('.log'))


def test_weights_that_became_nan_are_never_saved(tmp_path):
    # Before: the loss of the diverging step was still finite, so the checkpoint of NaN weights was written.
    runner = short_run(tmp_path, max_iters=4)
    runner.register_hook(PoisonWeightsHook(at=2))
    with pytest.raises(NonFiniteError, match=r'at iteration 2, before saving iter_2\.pkl \(1 tensor\(s\): '
                                             r'cls\.weight\)'):
        runner.train()
    assert not (tmp_path / 'iter_2.pkl').exists() and not (tmp_path / 'last_checkpoint').exists()


def test_the_loss_hook_checks_the_weights_every_n_iterations(tmp_path):
    hooks = iter_hooks(interval=4, invalid_loss=dict(type='CheckInvalidLossHook', weights_interval=1))
    runner = short_run(tmp_path, max_iters=4, hooks=hooks)
    runner.register_hook(PoisonWeightsHook(at=3))
    with pytest.raises(NonFiniteError, match=r'at iteration 3 \(batch 2\)'):
        runner.train()
    with pytest.raises(ValueError, match='weights_interval'):
        Runner(**toy_runner_kwargs(tmp_path / 'b', hooks=dict(x=dict(type='CheckInvalidLossHook',
                                                                       weights_interval=-1))))


def test_validation_refuses_nan_weights(tmp_path):
    # Before: the NaN scores all argmaxed to class 0 and were scored (and could become the best checkpoint).
    runner = Runner(**toy_runner_kwargs(tmp_path))
    runner.model.cls.bias.update(runner.model.cls.bias * float('inf'))
    with pytest.raises(NonFiniteError, match='at validation after iteration 0.*cls.bias'):
        runner.val()


@SEGMENTORS.register_module(force=True)
class ScoringToySegmentor(ToySegmentor):
    """The toy with the ``inference`` contract of RGBDEncoderDecoder: per-image class probabilities."""

    def inference(self, img, depth, img_metas=None):
        probs = nn.softmax(self.encode_decode(img, depth), dim=1)
        return [probs[i] for i in range(probs.shape[0])]


class InfiniteInputLoader(ToyLoader):
    """Validation data whose second image holds an infinite pixel (finite weights, non-finite scores)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.samples[1]['img'][0, 2, 2] = np.inf


def test_non_finite_scores_are_refused_naming_the_images(tmp_path):
    runner = Runner(**toy_runner_kwargs(tmp_path, model=dict(type='ScoringToySegmentor'),
                                        val_dataloader=InfiniteInputLoader(num=4, batch_size=2)))
    with pytest.raises(NonFiniteError, match=r'img_000\.png, /nonexistent/img_001\.png \(image\(s\) 1 of the '
                                             r'batch'):
        runner.val()
    # Finite inputs: the same path predicts as mode='predict' does.
    runner = Runner(**toy_runner_kwargs(tmp_path / 'ok', model=dict(type='ScoringToySegmentor')))
    batch = next(iter(ToyLoader(num=2, batch_size=2)))
    with jt.no_grad():
        expected = runner.model(batch, mode='predict')
    for got, want in zip(runner.predict_step(batch), expected):
        np.testing.assert_array_equal(got, want)


@SEGMENTORS.register_module(force=True)
class ThreeClassToySegmentor(ToySegmentor):
    def __init__(self):
        super().__init__(num_classes=3)
        self.num_classes = 3


def test_class_count_mismatch_is_found_when_the_runner_is_built(tmp_path):
    # Before: found after a whole epoch as "label values must be in [0, 3)", naming neither key nor data set.
    # The toy segmentor takes num_classes itself (a segmentor with a decode head is named by that head's key).
    with pytest.raises(ConfigError, match=r'model\.num_classes is 3, but the train_dataloader data '
                                          r'set \(ToyLoader\) has 2 classes'):
        Runner(**toy_runner_kwargs(tmp_path, model=dict(type='ThreeClassToySegmentor')))
    demo_loader = dict(batch_size=1, dataset=dict(type='DemoRGBDDataset', data_root='not built'))
    with pytest.raises(ConfigError, match=r'test_dataloader data set \(DemoRGBDDataset\) has 6 classes'):
        Runner(model=dict(type='ThreeClassToySegmentor'), work_dir=str(tmp_path), test_dataloader=demo_loader)


def test_checkpoints_without_last_checkpoint_are_not_overwritten(tmp_path):
    short_run(tmp_path).train()
    os.remove(tmp_path / 'last_checkpoint')  # lost, or the checkpoints were copied in
    before, log_files = md5(tmp_path / 'iter_2.pkl'), logs(tmp_path)
    for resume in (False, True):  # True: there is nothing to resume automatically
        with pytest.raises(WorkDirError, match=r'holds checkpoints \(iter_2\.pkl\) but no last_checkpoint.*'
                                               r'--resume CKPT.*--work-dir'):
            short_run(tmp_path, resume=resume).train()
    assert md5(tmp_path / 'iter_2.pkl') == before
    assert logs(tmp_path) == log_files  # a refused run creates nothing
    resumed = short_run(tmp_path, max_iters=4, resume=str(tmp_path / 'iter_2.pkl'))
    resumed.train()
    assert resumed.iter == 4 and (tmp_path / 'iter_4.pkl').exists()


def test_a_refused_work_dir_gets_no_new_log_file(tmp_path):
    short_run(tmp_path).train()
    log_files = logs(tmp_path)
    with pytest.raises(WorkDirError, match='already holds the checkpoints of another run'):
        short_run(tmp_path).train()
    assert logs(tmp_path) == log_files


def test_a_resumed_run_removes_stale_temp_files_and_rotates_by_what_is_on_disk(tmp_path):
    short_run(tmp_path, max_iters=4, hooks=iter_hooks(interval=1, max_keep_ckpts=2)).train()
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pkl')) == ['iter_3.pkl', 'iter_4.pkl']
    # Left by kills: a half-written temporary file, and a checkpoint whose removal was interrupted.
    (tmp_path / '.iter_5.pkl.x1y2z3.tmp').write_bytes(b'\0' * 1000)
    (tmp_path / '.last_checkpoint.k2j4x8.tmp').write_text('half')
    shutil.copy(tmp_path / 'iter_3.pkl', tmp_path / 'iter_1.pkl')
    runner = short_run(tmp_path, max_iters=6, hooks=iter_hooks(interval=1, max_keep_ckpts=2), resume=True)
    runner.train()
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pkl') or '.tmp' in f) == \
        ['iter_5.pkl', 'iter_6.pkl']
