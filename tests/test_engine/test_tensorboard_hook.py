"""TensorboardLoggerHook on a tiny demo set: the event file holds the losses, lr, times, validation metrics,
per-class IoU and RGB | depth | label | prediction panels, and they match the JSON log."""
import json
import os

import pytest

from dformer_seg.datasets.demo import DEMO_CLASSES, generate_demo_dataset
from dformer_seg.engine import Runner

from event_files import scalars_and_images
from script_loading import load_script
from toy import ToySegmentor  # noqa: F401  (registers ToySegmentor)


def demo_loader(root, split):
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadDepthFromFile', channels=1),
                dict(type='Normalize', mean=[128.0] * 3, std=[64.0] * 3, depth_mean=[128.0], depth_std=[64.0]),
                dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    return dict(batch_size=2, num_workers=0, shuffle=split == 'train', drop_last=split == 'train',
                dataset=dict(type='DemoRGBDDataset', data_root=root, split=split, pipeline=pipeline))


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo') / 'demo_rgbd')
    generate_demo_dataset(root, seed=0, num_train=4, num_test=3, size=(24, 32))
    return root


def test_event_file_holds_scalars_metrics_and_panels(demo_root, tmp_path):
    runner = Runner(
        model=dict(type='ToySegmentor', num_classes=len(DEMO_CLASSES)), work_dir=str(tmp_path),
        train_dataloader=demo_loader(demo_root, 'train'), val_dataloader=demo_loader(demo_root, 'test'),
        val_evaluator=dict(type='IoUMetric'), optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01)),
        param_scheduler=dict(type='WarmupPolyLR', warmup_iters=1, power=0.9),
        train_loop=dict(type='IterBasedTrainLoop', max_iters=4, val_interval=2),
        default_hooks=dict(param_scheduler=dict(type='ParamSchedulerHook'), timer=dict(type='IterTimerHook'),
                           logger=dict(type='TextLoggerHook', interval=2)),
        custom_hooks=[dict(type='TensorboardLoggerHook', interval=2, num_images=2)], seed=0)
    runner.train()

    scalars, images = scalars_and_images(os.path.join(str(tmp_path), 'tf_logs'))
    log_json = os.path.join(str(tmp_path), f'{runner.timestamp}.log.json')
    records = [json.loads(line) for line in open(log_json)]
    train = [r for r in records if r['mode'] == 'train']
    val = [r for r in records if r['mode'] == 'val']
    assert [step for step, _ in scalars['train/decode.loss_ce']] == [r['iter'] for r in train] == [2, 4]
    for record in train:
        step = record['iter']
        for key in ('decode.loss_ce', 'loss', 'decode.acc_seg', 'time', 'data_time', 'lr'):
            assert dict(scalars[f'train/{key}'])[step] == pytest.approx(record[key], rel=1e-5), key
    assert [r['iter'] for r in val] == [2, 4]
    for record in val:
        for key in ('aAcc', 'mIoU', 'mAcc', 'fwIoU'):
            assert dict(scalars[f'val/{key}'])[record['iter']] == pytest.approx(record[key], rel=1e-5), key
    class_iou = runner.val_loop.evaluator.results['iou']
    for name, iou in zip(DEMO_CLASSES, class_iou):
        if iou == iou:  # present classes
            assert dict(scalars[f'val_class_IoU/{name}'])[4] == pytest.approx(iou, rel=1e-5)
    # two validations x two panels, each 4 views of 24x32 side by side with a title strip
    assert sorted(images) == ['val_images/0', 'val_images/1']
    assert all(len(entries) == 2 and entries[0][1] > 24 and entries[0][2] >= 4 * 32
               for entries in images.values())

    # tools/analysis/analyze_logs.py reads the JSON log of this run
    analyze_logs = load_script('tools/analysis/analyze_logs.py', 'analyze_logs_tool')
    curve = str(tmp_path / 'curve.png')
    analyze_logs.main(['plot_curve', log_json, '--keys', 'loss_ce', 'mIoU', '--out', curve])
    assert os.path.getsize(curve) > 0
    (timing,) = analyze_logs.main(['cal_train_time', log_json])
    assert timing['mean'] == pytest.approx(train[1]['time'])  # the first interval is left out


def test_bad_arguments_are_named():
    from dformer_seg.engine import TensorboardLoggerHook

    with pytest.raises(ValueError, match='interval'):
        TensorboardLoggerHook(interval=0)
    with pytest.raises(ValueError, match='num_images'):
        TensorboardLoggerHook(num_images=-1)
