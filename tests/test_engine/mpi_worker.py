"""Run by test_mpi.py, in one process or under ``mpirun -np 2``: a short toy training on
``RGBDDataLoader`` shards with a fixed *global* batch of 4, then validation on 7 samples
(an odd count, so one process gets a padding repeat). Writes each rank's final weights.

    python mpi_worker.py WORK_DIR [NORM]

NORM: 'none' (default; the toy model without normalisation), or 'SyncBN' / 'BN': a two-layer model whose
layers are normalised by ``build_norm_layer(dict(type=NORM))``."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from dformer_seg import runtime  # noqa: E402

runtime.setup()
import jittor as jt  # noqa: E402
import numpy as np  # noqa: E402
from jittor import nn  # noqa: E402

from dformer_seg.datasets.loader import RGBDDataLoader  # noqa: E402
from dformer_seg.engine import Runner  # noqa: E402
from dformer_seg.models import BaseModel  # noqa: E402
from dformer_seg.models.utils.conv_module import build_norm_layer  # noqa: E402
from dformer_seg.registry import SEGMENTORS  # noqa: E402
from dformer_seg.utils.dist import rank, world_size  # noqa: E402

from toy import CLASSES, PALETTE, make_samples  # noqa: E402  (also registers ToySegmentor)

GLOBAL_BATCH = 4


@SEGMENTORS.register_module(force=True)
class NormedToySegmentor(BaseModel):
    """conv -> norm -> ReLU -> conv -> norm -> ReLU -> classifier, the norms built from ``norm_cfg``."""

    def __init__(self, norm_cfg, num_classes=2, channels=6):
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(4, channels, 3, padding=1, bias=False), build_norm_layer(norm_cfg, channels)
        self.conv2, self.norm2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), \
            build_norm_layer(norm_cfg, channels)
        self.cls = nn.Conv2d(channels, num_classes, 1)

    def execute(self, batch, mode='loss'):
        x = jt.concat([batch['img'], batch['depth'][:, :1]], dim=1)
        x = nn.relu(self.norm1(self.conv1(x)))
        logits = self.cls(nn.relu(self.norm2(self.conv2(x))))
        if mode == 'loss':
            loss = nn.cross_entropy_loss(logits.permute(0, 2, 3, 1).reshape(-1, logits.shape[1]),
                                         batch['gt_seg'].reshape(-1), ignore_index=255)
            return {'decode.loss_ce': loss}
        if mode == 'predict':
            return list(logits.argmax(1)[0].numpy().astype(np.int64))
        raise ValueError(mode)


class ArraySource:
    """Packed toy samples, as a pipeline would produce them."""

    metainfo = dict(classes=CLASSES, palette=PALETTE)

    def __init__(self, num, seed):
        self.samples = make_samples(num, seed=seed)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        s = self.samples[index]
        shape = s['img'].shape[1:]
        return dict(img=s['img'], depth=s['depth'], gt_seg=s['gt_seg'],
                    img_metas=dict(img_path=s['img_path'], ori_shape=shape, img_shape=shape, pad_shape=shape,
                                   scale_factor=1.0, flip=False, flip_direction=None, sample_idx=index))


def main(work_dir, norm='none'):
    model = dict(type='ToySegmentor', norm=False) if norm == 'none' else \
        dict(type='NormedToySegmentor', norm_cfg=dict(type=norm))
    train = RGBDDataLoader(ArraySource(16, seed=0), batch_size=GLOBAL_BATCH // world_size(), shuffle=True,
                           drop_last=True, seed=0)
    val = RGBDDataLoader(ArraySource(7, seed=1), batch_size=1, seed=0)
    runner = Runner(
        model=model, work_dir=work_dir, train_dataloader=train,
        val_dataloader=val, val_evaluator=dict(type='IoUMetric'),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.5, momentum=0.9)),
        param_scheduler=dict(type='WarmupPolyLR', power=1.0),
        train_loop=dict(type='IterBasedTrainLoop', max_iters=8, val_interval=8),
        default_hooks=dict(param_scheduler=dict(type='ParamSchedulerHook'),
                           logger=dict(type='TextLoggerHook', interval=1),
                           checkpoint=dict(type='CheckpointHook', interval=8, by_epoch=False)),
        seed=0)
    runner.train()
    weights = {k: v.numpy() for k, v in runner.model.state_dict().items()}
    np.savez(os.path.join(work_dir, f'weights_rank{rank()}.npz'), **weights)
    evaluator = runner.val_loop.evaluator
    with open(os.path.join(work_dir, f'eval_rank{rank()}.json'), 'w') as f:
        json.dump(dict(local_samples=evaluator.num_samples, total_samples=evaluator.results['num_samples'],
                       miou=float(evaluator.results['summary']['mIoU']),
                       synchronised_norms=[m.sync for m in runner.model.modules() if isinstance(m, nn.BatchNorm)],
                       in_mpi=bool(jt.in_mpi)), f)


if __name__ == '__main__':
    main(*sys.argv[1:])
