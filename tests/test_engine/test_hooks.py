import json
import os
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from dformer_seg.engine import EMAHook, Hook, Runner
from dformer_seg.evaluation import rle_to_mask
from dformer_seg.utils.checkpoint import read_checkpoint

from toy import ToyLoader, ToySegmentor, toy_runner_kwargs


def test_checkpoint_hook_keeps_last_n_and_the_best(tmp_path):
    hooks = dict(param_scheduler=dict(type='ParamSchedulerHook'),
                 checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False, max_keep_ckpts=2,
                                 save_best='mIoU'))
    runner = Runner(**toy_runner_kwargs(tmp_path, hooks=hooks,
                                        train_loop=dict(type='IterBasedTrainLoop', max_iters=8, val_interval=2)))
    runner.train()
    files = sorted(f for f in os.listdir(tmp_path) if f.endswith('.pkl'))
    hook = runner.get_hook('CheckpointHook')
    best = os.path.basename(hook.best_path)
    assert [f for f in files if f.startswith('iter_')] == ['iter_6.pkl', 'iter_8.pkl']
    assert [f for f in files if f.startswith('best_')] == [best]
    assert best.startswith('best_mIoU_iter_')
    assert read_checkpoint(hook.best_path)['hook_states']['CheckpointHook']['best_score'] == hook.best_score


def test_checkpoint_hook_by_epoch_needs_an_epoch_loop(tmp_path):
    hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=True))
    with pytest.raises(ValueError, match='by_epoch=False'):
        Runner(**toy_runner_kwargs(tmp_path, hooks=hooks)).train()


def test_ema_average_swap_and_checkpoint(tmp_path):
    model = ToySegmentor()
    runner = SimpleNamespace(model=model, iter=1, logger=None)
    hook = EMAHook(momentum=0.25)
    hook.before_train(runner)
    start = model.cls.weight.numpy().copy()
    model.cls.weight.update(model.cls.weight + 1.0)
    hook.after_train_iter(runner, 0)
    expected = 0.75 * start + 0.25 * (start + 1.0)
    np.testing.assert_allclose(hook._averages['cls.weight'].numpy(), expected, rtol=1e-6)

    hook.before_val_epoch(runner)
    np.testing.assert_allclose(model.cls.weight.numpy(), expected, rtol=1e-6)
    hook.after_val_epoch(runner, {})
    np.testing.assert_allclose(model.cls.weight.numpy(), start + 1.0, rtol=1e-6)

    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    np.testing.assert_allclose(checkpoint['state_dict_ema']['cls.weight'], expected, rtol=1e-6)
    assert 'norm.running_mean' in checkpoint['state_dict_ema']
    restored = EMAHook()
    restored.after_load_checkpoint(runner, checkpoint)
    np.testing.assert_allclose(restored._averages['cls.weight'].numpy(), expected, rtol=1e-6)


def test_ema_hook_in_training_leaves_trainable_parameters(tmp_path):
    runner = Runner(**toy_runner_kwargs(tmp_path, custom_hooks=[dict(type='EMAHook', momentum=0.1)]))
    runner.train()
    assert all(not p.is_stop_grad() for n, p in runner.model.named_parameters() if 'running' not in n)
    assert 'state_dict_ema' in read_checkpoint(str(tmp_path / 'iter_8.pkl'))


class DiskToyLoader(ToyLoader):
    """Toy batches whose img_path points at real PNG files (for overlays)."""

    def __init__(self, folder, **kwargs):
        super().__init__(**kwargs)
        for i, sample in enumerate(self.samples):
            sample['img_path'] = str(folder / f'scene_{i}.png')
            cv2.imwrite(sample['img_path'], np.full((8, 8, 3), 100, np.uint8))


def test_seg_output_hook_writes_labels_overlays_and_rle(tmp_path):
    loader = DiskToyLoader(tmp_path, num=4, batch_size=2)
    out_dir, show_dir, json_file = tmp_path / 'pred', tmp_path / 'show', tmp_path / 'results.json'
    runner = Runner(**toy_runner_kwargs(tmp_path / 'work', test_dataloader=loader,
                                        test_evaluator=dict(type='IoUMetric'),
                                        custom_hooks=[dict(type='SegOutputHook', out_dir=str(out_dir),
                                                           show_dir=str(show_dir), json_file=str(json_file))]))
    predictions = []
    runner.register_hook(_Collect(predictions))
    metrics = runner.test()
    assert 'mIoU' in metrics
    assert sorted(os.listdir(out_dir)) == [f'scene_{i}.png' for i in range(4)]
    label = cv2.imread(str(out_dir / 'scene_0.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(label, predictions[0])
    overlay = cv2.imread(str(show_dir / 'scene_0.png'))
    red = np.array([0, 0, 255])  # class 1 in BGR
    expected = np.where(predictions[0][..., None] == 1, 0.5 * 100 + 0.5 * red, 50).round()
    np.testing.assert_allclose(overlay, expected, atol=1)
    records = json.load(open(json_file))
    first = [r for r in records if r['image_id'] == 'scene_0']
    assert {r['category_id'] for r in first} == set(np.unique(predictions[0]).tolist())
    for record in first:
        np.testing.assert_array_equal(rle_to_mask(record['segmentation']), predictions[0] == record['category_id'])
        assert record['category_name'] in ('background', 'object')


class _Collect(Hook):
    def __init__(self, store):
        self.store = store

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.store.extend(outputs)
