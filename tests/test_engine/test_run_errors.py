"""Bad input that the engine owns stops with one of the toolbox's user errors (one line, naming the key or the
file), and a run that fails while setting up leaves nothing in its work dir."""
import os

import pytest

from dformer_seg.cli import user_error_types
from dformer_seg.config import ConfigError
from dformer_seg.engine import Runner
from dformer_seg.engine.work_dir import WorkDirError
from dformer_seg.utils.checkpoint import CheckpointError, read_checkpoint, save_checkpoint

from toy import rgbd_loader_cfg, toy_runner_kwargs, write_rgbd_set


def short_run(work_dir, max_iters=2, **overrides):
    overrides.setdefault('loop', dict(type='IterBasedTrainLoop', max_iters=max_iters))
    return Runner(**toy_runner_kwargs(work_dir, val_dataloader=None, **overrides))


def assert_one_line_user_error(info, error_type):
    assert isinstance(info.value, error_type) and isinstance(info.value, user_error_types())
    assert '\n' not in str(info.value)


def test_amp_on_the_cpu_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r'mixed precision \(amp\) needs CUDA') as info:
        short_run(tmp_path, amp=True)
    assert_one_line_user_error(info, ConfigError)


@pytest.mark.parametrize('loop, message', [
    (dict(type='EpochBasedTrainLoop', max_epochs=-1), r'train_loop\.max_epochs must be a positive integer, got -1'),
    (dict(type='IterBasedTrainLoop', max_iters=0), r'train_loop\.max_iters must be a positive integer, got 0'),
    (dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=0),
     r'train_loop\.val_interval must be a positive integer, got 0'),
])
def test_loop_settings_are_checked_and_a_failed_set_up_leaves_nothing(tmp_path, loop, message):
    work_dir = tmp_path / 'work'
    with pytest.raises(ConfigError, match=message) as info:
        short_run(work_dir, loop=loop).train()
    assert_one_line_user_error(info, ConfigError)
    assert not work_dir.exists()


def test_a_batch_size_of_0_names_the_data_loader_key(tmp_path):
    data_root = write_rgbd_set(str(tmp_path / 'data'))
    (tmp_path / 'work').mkdir()
    with pytest.raises(ConfigError, match=r'^train_dataloader\.batch_size must be a positive integer .per process., '
                                          r'got 0$') as info:
        short_run(tmp_path / 'work', train_dataloader=rgbd_loader_cfg(data_root, batch_size=0)).train()
    assert_one_line_user_error(info, ConfigError)
    assert os.listdir(tmp_path / 'work') == []  # an existing work dir: no log file, no lock file


def test_a_test_run_that_fails_while_setting_up_leaves_no_log(tmp_path):
    data_root = write_rgbd_set(str(tmp_path / 'data'))
    (tmp_path / 'work').mkdir()
    runner = short_run(tmp_path / 'work', test_dataloader=rgbd_loader_cfg(data_root, batch_size=0, shuffle=False,
                                                                          drop_last=False))
    with pytest.raises(ConfigError, match=r'^test_dataloader\.batch_size must be a positive integer'):
        runner.test()
    assert os.listdir(tmp_path / 'work') == []


def test_a_work_dir_that_is_a_file(tmp_path):
    path = tmp_path / 'file'
    path.write_text('not a folder')
    for action in ('train', 'test'):
        with pytest.raises(WorkDirError, match=f'work dir {path} exists but is not a directory') as info:
            getattr(short_run(path, test_dataloader=toy_runner_kwargs(tmp_path)['val_dataloader']), action)()
        assert_one_line_user_error(info, WorkDirError)
    assert path.read_text() == 'not a folder'


@pytest.fixture
def trained(tmp_path):
    """A finished 2-iteration run (``iter_2.pkl``) in ``tmp_path/trained``."""
    short_run(tmp_path / 'trained').train()
    return tmp_path / 'trained' / 'iter_2.pkl'


def rewritten(path, target, change):
    """``path`` saved to ``target`` after ``change(checkpoint)``."""
    checkpoint = read_checkpoint(str(path))
    change(checkpoint)
    save_checkpoint(str(target), checkpoint.pop('state_dict'), meta=checkpoint.pop('meta'), **checkpoint)
    return str(target)


@pytest.mark.parametrize('change, message', [
    (lambda c: c.update(optimizer=None), r'cannot be resumed: it has no optimizer state; use --load-from'),
    (lambda c: c['meta'].pop('iter'), r"cannot be resumed: its meta has no 'iter' count"),
    (lambda c: c.update(meta={}), r"cannot be resumed: its meta has no 'epoch' count"),
])
def test_a_checkpoint_that_cannot_be_resumed(tmp_path, trained, change, message):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    path = rewritten(trained, work_dir / 'broken.pkl', change)
    with pytest.raises(CheckpointError, match=rf'^{path} {message}') as info:
        short_run(work_dir, max_iters=4, resume=path).train()
    assert_one_line_user_error(info, CheckpointError)
    assert sorted(os.listdir(work_dir)) == ['broken.pkl']  # no log file, no lock file


def test_a_checkpoint_of_another_epoch_length_cannot_be_resumed(tmp_path):
    epochs = dict(type='EpochBasedTrainLoop', max_epochs=2)
    hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1))
    short_run(tmp_path / 'trained', loop=epochs, default_hooks=hooks).train()
    path = str(tmp_path / 'trained' / 'epoch_1.pkl')
    from toy import ToyLoader
    with pytest.raises(CheckpointError, match=rf'^{path} was written with 4 iterations per epoch, this run has 2') \
            as info:
        short_run(tmp_path / 'work', loop=dict(epochs, max_epochs=3), default_hooks=hooks, resume=path,
                  train_dataloader=ToyLoader(num=8, batch_size=4, shuffle=True)).train()
    assert_one_line_user_error(info, CheckpointError)


def test_use_ema_without_ema_weights(tmp_path, trained):
    runner = short_run(tmp_path / 'test')
    with pytest.raises(CheckpointError, match=rf'^{trained} has no EMA weights \(state_dict_ema\).*EMAHook') as info:
        runner.load_checkpoint(str(trained), use_ema=True)
    assert_one_line_user_error(info, CheckpointError)
