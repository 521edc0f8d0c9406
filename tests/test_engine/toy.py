"""A toy RGB-D segmentor and data loader for engine tests (seconds on the CPU).

The data: 2 classes; the label is 1 where the depth channel is positive, so a
model that reads depth learns it quickly. Batches follow the shared batch
contract. The loader's shuffle order is a function of ``(seed, epoch)``.
"""
import os

import cv2
import jittor as jt
import numpy as np
from jittor import nn

from dformer_seg.models import BaseModel
from dformer_seg.registry import SEGMENTORS

CLASSES = ('background', 'object')
PALETTE = [[0, 0, 0], [255, 0, 0]]


@SEGMENTORS.register_module(force=True)
class ToySegmentor(BaseModel):
    def __init__(self, num_classes=2, channels=4, norm=True):
        super().__init__()
        self.conv = nn.Conv2d(4, channels, 3, padding=1)
        self.norm = nn.BatchNorm2d(channels) if norm else nn.Identity()
        self.cls = nn.Conv2d(channels, num_classes, 1)

    def encode_decode(self, img, depth):
        x = jt.concat([img, depth[:, :1]], dim=1)
        return self.cls(nn.relu(self.norm(self.conv(x))))

    def execute(self, batch, mode='loss'):
        logits = self.encode_decode(batch['img'], batch['depth'])
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            loss = nn.cross_entropy_loss(logits.permute(0, 2, 3, 1).reshape(-1, logits.shape[1]),
                                         batch['gt_seg'].reshape(-1), ignore_index=255)
            acc = (logits.argmax(1)[0] == batch['gt_seg']).float32().mean() * 100
            return {'decode.loss_ce': loss, 'decode.acc_seg': acc}
        if mode == 'predict':
            labels = logits.argmax(1)[0].numpy().astype(np.int64)
            return [label[:meta['ori_shape'][0], :meta['ori_shape'][1]]
                    for label, meta in zip(labels, batch['img_metas'])]
        raise ValueError(mode)


def make_samples(num, size=(8, 8), seed=0):
    rng = np.random.RandomState(seed)
    samples = []
    for i in range(num):
        img = rng.randn(3, *size).astype(np.float32)
        depth = rng.randn(1, *size).astype(np.float32)
        label = (depth[0] > 0).astype(np.int32)
        label[0, 0] = 255
        samples.append(dict(img=img, depth=depth, gt_seg=label, img_path=f'/nonexistent/img_{i:03d}.png'))
    return samples


class ToyLoader:
    """Batches of ``make_samples``; ``shuffle`` permutes with ``RandomState(seed + epoch)``."""

    CLASSES = CLASSES
    PALETTE = PALETTE

    def __init__(self, num=8, batch_size=2, shuffle=False, seed=0, size=(8, 8)):
        self.samples = make_samples(num, size)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.order_log = []

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.samples) // self.batch_size

    def __iter__(self):
        order = np.arange(len(self.samples))
        if self.shuffle:
            order = np.random.RandomState(self.seed + self.epoch).permutation(order)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            self.order_log.append(tuple(int(i) for i in idx))
            chosen = [self.samples[i] for i in idx]
            yield dict(
                img=jt.array(np.stack([s['img'] for s in chosen])),
                depth=jt.array(np.stack([s['depth'] for s in chosen])),
                gt_seg=jt.array(np.stack([s['gt_seg'] for s in chosen])),
                img_metas=[dict(img_path=s['img_path'], ori_shape=s['img'].shape[1:],
                                img_shape=s['img'].shape[1:], pad_shape=s['img'].shape[1:], scale_factor=1.0,
                                flip=False, flip_direction=None) for s in chosen])


def toy_runner_kwargs(work_dir, loop=None, hooks=None, **overrides):
    """Keyword arguments for a Runner on the toy task; ``overrides`` replace any of them."""
    kwargs = dict(
        model=dict(type='ToySegmentor'),
        work_dir=str(work_dir),
        train_dataloader=ToyLoader(num=8, batch_size=2, shuffle=True),
        val_dataloader=ToyLoader(num=4, batch_size=2),
        val_evaluator=dict(type='IoUMetric'),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.01),
                           paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0)),
        param_scheduler=dict(type='WarmupPolyLR', warmup_iters=2, power=0.9),
        train_loop=loop or dict(type='IterBasedTrainLoop', max_iters=8, val_interval=4),
        default_hooks=hooks if hooks is not None else dict(
            param_scheduler=dict(type='ParamSchedulerHook'),
            timer=dict(type='IterTimerHook'),
            invalid_loss=dict(type='CheckInvalidLossHook'),
            logger=dict(type='TextLoggerHook', interval=2),
            checkpoint=dict(type='CheckpointHook', interval=4, by_epoch=False)),
        seed=0,
    )
    kwargs.update(overrides)
    return kwargs


@SEGMENTORS.register_module(force=True)
class StochasticToySegmentor(ToySegmentor):
    """The toy segmentor with the random parts of a real model while training: drop path on a residual
    branch, dropout before the classifier and random starting bases (as the NMF decode head draws them)."""

    def __init__(self, num_classes=2, channels=4, drop_path_rate=0.5, dropout_ratio=0.3):
        super().__init__(num_classes, channels)
        from dformer_seg.models.utils.drop_path import DropPath
        self.branch = nn.Conv2d(channels, channels, 3, padding=1)
        self.drop_path = DropPath(drop_path_rate)
        self.dropout = nn.Dropout(dropout_ratio)

    def encode_decode(self, img, depth):
        x = nn.relu(self.norm(self.conv(jt.concat([img, depth[:, :1]], dim=1))))
        x = x + self.drop_path(self.branch(x))
        if self.is_training():
            x = x * jt.rand((x.shape[0], x.shape[1], 1, 1), dtype=x.dtype)
        return self.cls(self.dropout(x))


# A real data set on disk for the RGBDDataLoader, with the random augmentations of a training pipeline.
RGBD_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthFromFile', channels=1),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', ratios=[0.75, 1.0, 1.5]),
    dict(type='RandomCrop', crop_size=(8, 12)),
    dict(type='PhotoMetricDistortion'),
    dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
         depth_mean=[122.4], depth_std=[71.4]),
    dict(type='Pad', size=(8, 12)),
    dict(type='PackSegInputs'),
]


def write_rgbd_set(root, num=8, size=(12, 16)):
    """``num`` random RGB-D samples (PNG) labelled 0/1 where the depth is low/high (255: a void corner), with
    a ``train.txt``; returns ``root``."""
    rng = np.random.default_rng(0)
    for folder in ('RGB', 'Depth', 'Label'):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    for i in range(num):
        depth = rng.integers(0, 256, size=size, dtype=np.uint8)
        label = (depth > 127).astype(np.uint8)
        label[:2, :2] = 255
        cv2.imwrite(os.path.join(root, 'RGB', f'{i}.png'), rng.integers(0, 256, size=(*size, 3), dtype=np.uint8))
        cv2.imwrite(os.path.join(root, 'Depth', f'{i}.png'), depth)
        cv2.imwrite(os.path.join(root, 'Label', f'{i}.png'), label)
    with open(os.path.join(root, 'train.txt'), 'w') as f:
        f.write(''.join(f'{i}\n' for i in range(num)))
    return str(root)


def rgbd_loader_cfg(data_root, **overrides):
    """A train_dataloader config over :func:`write_rgbd_set`'s samples."""
    dataset = dict(type='RGBDSegDataset', data_root=data_root, split='train', img_suffix='.png',
                   classes=['low', 'high'], pipeline=RGBD_PIPELINE)
    return dict(dict(batch_size=2, num_workers=0, shuffle=True, drop_last=True, buffer_size=4 * 1024 * 1024,
                     dataset=dataset), **overrides)
