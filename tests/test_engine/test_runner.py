import json

import jittor as jt
import numpy as np
import pytest

from dformer_seg.config import ConfigError
from dformer_seg.engine import Hook, OptimWrapper, Runner
from dformer_seg.registry import SEGMENTORS
from dformer_seg.utils.checkpoint import CheckpointError, read_checkpoint, save_checkpoint

from toy import ToyLoader, ToySegmentor, toy_runner_kwargs


class Interrupt(Exception):
    pass


class RecordHook(Hook):
    """Records the LR each iteration ran with, and optionally stops the run after iteration ``stop_at``."""

    priority = 'LOWEST'

    def __init__(self, stop_at=None):
        self.lrs = {}
        self.stop_at = stop_at

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.lrs[runner.iter] = runner.current_lr()
        if runner.iter == self.stop_at:
            raise Interrupt


def weights(runner):
    return {k: v.numpy().copy() for k, v in runner.model.state_dict().items()}


def run(work_dir, stop_at=None, **overrides):
    runner = Runner(**toy_runner_kwargs(work_dir, **overrides))
    recorder = runner.register_hook(RecordHook(stop_at))
    if stop_at is None:
        runner.train()
    else:
        with pytest.raises(Interrupt):
            runner.train()
    return runner, recorder


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-7, err_msg=key)


def test_iter_based_resume_matches_an_uninterrupted_run(tmp_path):
    straight, straight_rec = run(tmp_path / 'straight')
    _, first_half = run(tmp_path / 'split', stop_at=4)
    assert (tmp_path / 'split' / 'iter_4.pkl').exists()
    resumed, second_half = run(tmp_path / 'split', resume=True)
    assert resumed.iter == 8
    assert sorted(second_half.lrs) == [5, 6, 7, 8]
    assert {**first_half.lrs, **second_half.lrs} == straight_rec.lrs
    assert_same_weights(weights(straight), weights(resumed))
    halfway = read_checkpoint(str(tmp_path / 'split' / 'iter_4.pkl'))['state_dict']
    assert not np.allclose(halfway['cls.weight'], weights(resumed)['cls.weight'])  # it did train on


def test_epoch_based_resume_from_the_middle_of_an_epoch(tmp_path):
    loop = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1)
    hooks = dict(param_scheduler=dict(type='ParamSchedulerHook'),
                 checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False))
    loader = lambda: ToyLoader(num=8, batch_size=2, shuffle=True)  # noqa: E731
    straight, straight_rec = run(tmp_path / 'a', loop=loop, hooks=hooks, train_dataloader=loader(),
                                 param_scheduler=dict(type='WarmupPolyLR', warmup_epochs=1, power=1.0))
    _, first = run(tmp_path / 'b', stop_at=3, loop=loop, hooks=hooks, train_dataloader=loader(),
                   param_scheduler=dict(type='WarmupPolyLR', warmup_epochs=1, power=1.0))
    resumed_loader = loader()
    resumed, second = run(tmp_path / 'b', loop=loop, hooks=hooks, train_dataloader=resumed_loader, resume=True,
                          param_scheduler=dict(type='WarmupPolyLR', warmup_epochs=1, power=1.0))
    assert (resumed.epoch, resumed.iter) == (2, 8)
    assert {**first.lrs, **second.lrs} == straight_rec.lrs
    # The resumed run skipped the 3 batches of epoch 0 it had trained on, in the same shuffled order.
    assert resumed_loader.order_log[3:] == straight.train_dataloader.order_log[3:]
    assert_same_weights(weights(straight), weights(resumed))


def test_checkpoint_contents_and_load_from(tmp_path):
    runner, _ = run(tmp_path / 'a')
    ckpt = read_checkpoint(str(tmp_path / 'a' / 'iter_8.pkl'))
    meta = ckpt['meta']
    assert (meta['iter'], meta['CLASSES'], meta['PALETTE']) == (8, ['background', 'object'], [[0, 0, 0], [255, 0, 0]])
    assert meta['jittor_version'] == jt.__version__ and 'dformer_seg_version' in meta
    assert ckpt['optimizer']['n_step'] == 8
    assert 'CheckpointHook' in ckpt['hook_states']
    with open(tmp_path / 'a' / 'last_checkpoint') as f:
        assert f.read() == str(tmp_path / 'a' / 'iter_8.pkl')

    fresh = Runner(**toy_runner_kwargs(tmp_path / 'b', load_from=str(tmp_path / 'a' / 'iter_4.pkl'),
                                       train_loop=dict(type='IterBasedTrainLoop', max_iters=1),
                                       param_scheduler=None))
    fresh._build_optimization()
    fresh._load_or_resume()
    assert fresh.iter == 0 and fresh.optimizer.n_step == 0  # weights only
    assert_same_weights(weights(fresh), read_checkpoint(str(tmp_path / 'a' / 'iter_4.pkl'))['state_dict'])


def test_resume_inside_an_accumulation_group_matches_an_uninterrupted_run(tmp_path):
    # 8 iterations, 3 batches per update: groups 1-3, 4-6 and 7-8; iter_4.pkl is written inside the second.
    accumulate = dict(optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01), accumulative_counts=3),
                      val_dataloader=None)
    straight, _ = run(tmp_path / 'straight', **accumulate)
    assert type(straight.optim_wrapper) is OptimWrapper and straight.optimizer.n_step == 3
    run(tmp_path / 'split', stop_at=4, **accumulate)
    saved = read_checkpoint(str(tmp_path / 'split' / 'iter_4.pkl'))
    assert saved['accumulation']['count'] == 4 and saved['accumulation']['grads'] is not None
    assert saved['optimizer']['n_step'] == 2  # the update of group 4-6 is counted when it begins
    resumed, _ = run(tmp_path / 'split', resume=True, **accumulate)
    assert resumed.optim_wrapper.inner_count == 8 and resumed.optimizer.n_step == 3
    assert_same_weights(weights(straight), weights(resumed))


def test_a_checkpoint_without_the_optimizer_wrapper_state_is_not_resumed(tmp_path):
    # An optimizer state without the wrapper's accumulation counter cannot continue the run's counting.
    run(tmp_path / 'split', stop_at=4, val_dataloader=None)
    path = str(tmp_path / 'split' / 'iter_4.pkl')
    partial = read_checkpoint(path)
    del partial['accumulation']
    save_checkpoint(path, partial.pop('state_dict'), meta=partial.pop('meta'), **partial)
    with pytest.raises(CheckpointError, match='cannot be resumed: it has no optimizer state; use --load-from'):
        run(tmp_path / 'split', resume=True, val_dataloader=None)


def test_a_loss_scaling_wrapper_without_amp_is_refused(tmp_path):
    runner = Runner(**toy_runner_kwargs(tmp_path, optim_wrapper=dict(type='AmpOptimWrapper',
                                                                     optimizer=dict(type='SGD', lr=0.1))))
    with pytest.raises(ConfigError, match='AmpOptimWrapper'):
        runner._build_optimization()


def test_amp_picks_the_loss_scaling_wrapper_with_its_settings(tmp_path):
    # amp itself is refused on the CPU, so this sets what Runner(amp=dict(level=5, init_scale=8.0)) would.
    runner = Runner(**toy_runner_kwargs(tmp_path))
    runner.amp_level, runner._loss_scale = 5, dict(init_scale=8.0)
    wrapper = runner._build_optim_wrapper(dict(optimizer=dict(type='SGD', lr=0.1), clip_grad=dict(max_norm=1.0)))
    assert type(wrapper).__name__ == 'AmpOptimWrapper' and wrapper.loss_scaler.scale == 8.0
    assert wrapper.clip_grad == dict(max_norm=1.0)
    with pytest.raises(ConfigError, match='OptimWrapper'):
        runner._build_optim_wrapper(dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)))


def test_a_new_run_refuses_a_work_dir_with_checkpoints(tmp_path):
    run(tmp_path)
    with pytest.raises(FileExistsError, match='--resume'):
        Runner(**toy_runner_kwargs(tmp_path)).train()


def test_text_and_json_logs(tmp_path):
    runner, _ = run(tmp_path)
    log_text = open(tmp_path / f'{runner.timestamp}.log').read()
    assert 'Iter [2/8]  lr: ' in log_text and 'eta: ' in log_text and 'data_time: ' in log_text
    assert 'Iter(val) [4]  aAcc: ' in log_text and '| background |' in log_text
    assert 'ParamSchedulerHook' in log_text.split('Iter [2/8]')[0]  # hook order logged at start
    records = [json.loads(line) for line in open(tmp_path / f'{runner.timestamp}.log.json')]
    train = [r for r in records if r['mode'] == 'train']
    val = [r for r in records if r['mode'] == 'val']
    assert [r['iter'] for r in train] == [2, 4, 6, 8]
    assert {'lr', 'loss', 'decode.loss_ce', 'decode.acc_seg', 'time', 'data_time', 'memory'} <= set(train[0])
    assert [r['iter'] for r in val] == [4, 8] and 0 <= val[-1]['mIoU'] <= 100


@SEGMENTORS.register_module(force=True)
class NanAfterTwoSegmentor(ToySegmentor):
    calls = 0

    def execute(self, batch, mode='loss'):
        out = super().execute(batch, mode)
        if mode == 'loss':
            NanAfterTwoSegmentor.calls += 1
            if NanAfterTwoSegmentor.calls >= 3:
                out['decode.loss_ce'] = out['decode.loss_ce'] * float('nan')
        return out


def test_nan_loss_stops_training_naming_the_iteration(tmp_path):
    NanAfterTwoSegmentor.calls = 0
    runner = Runner(**toy_runner_kwargs(tmp_path, model=dict(type='NanAfterTwoSegmentor')))
    with pytest.raises(FloatingPointError, match='at iteration 3'):
        runner.train()
    assert not (tmp_path / 'iter_4.pkl').exists()


def test_gradient_clipping_bounds_the_update(tmp_path):
    runner = Runner(**toy_runner_kwargs(
        tmp_path, optim_wrapper=dict(optimizer=dict(type='SGD', lr=1.0), clip_grad=dict(max_norm=1e-3)),
        param_scheduler=None, train_loop=dict(type='IterBasedTrainLoop', max_iters=1), val_dataloader=None,
        default_hooks=dict(param_scheduler=dict(type='ParamSchedulerHook'))))
    runner._build_optimization()
    before = {n: p.numpy().copy() for n, p in runner.model.named_parameters() if not p.is_stop_grad()}
    runner.train()
    after = dict(runner.model.named_parameters())
    step = np.sqrt(sum(((after[n].numpy() - v) ** 2).sum() for n, v in before.items()))
    assert 0 < step <= 1e-3 * 1.01


def test_amp_is_refused_on_the_cpu(tmp_path):
    with pytest.raises(ConfigError, match='needs CUDA'):
        Runner(**toy_runner_kwargs(tmp_path, amp=True))


def test_hooks_run_by_priority_with_stable_ties(tmp_path):
    runner = Runner(**toy_runner_kwargs(tmp_path, default_hooks={}))
    calls = []

    class Named(Hook):
        def __init__(self, name):
            self.name = name

        def before_run(self, runner):
            calls.append(self.name)

    runner.register_hook(Named('normal-1'))
    runner.register_hook(Named('low'), priority='LOW')
    runner.register_hook(Named('normal-2'), priority=50)
    runner.register_hook(Named('first'), priority=0)
    runner.call_hook('before_run')
    assert calls == ['first', 'normal-1', 'normal-2', 'low']
    with pytest.raises(ValueError, match='priority'):
        runner.register_hook(Named('bad'), priority='SOMETIMES')


def test_two_hooks_of_one_class_keep_their_own_state(tmp_path):
    class Counter(Hook):
        def __init__(self, start):
            self.count = start

        def state_dict(self):
            return dict(count=self.count)

        def load_state_dict(self, state):
            self.count = state['count']

    Runner(**toy_runner_kwargs(tmp_path, custom_hooks=[Counter(1), Counter(2)])).train()
    checkpoint = read_checkpoint(str(tmp_path / 'iter_8.pkl'))
    assert checkpoint['hook_states']['Counter'] == dict(count=1)
    assert checkpoint['hook_states']['Counter#2'] == dict(count=2)
    counters = [Counter(0), Counter(0)]
    Runner(**toy_runner_kwargs(tmp_path, custom_hooks=counters, resume=True)).train()
    assert [c.count for c in counters] == [1, 2]
