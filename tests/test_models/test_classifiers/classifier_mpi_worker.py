"""Run by test_classifier_mpi.py, in one process or under ``mpirun -np 2``: 4 iterations of a 1-block-per-stage
DFormer-T classifier (SyncBN, no drop path, no Mixup) with a global batch of 4, then top-1/top-5 on 7 samples
(an odd count: one process gets a padding repeat). Writes each rank's final weights and the metric."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

from dformer_seg import runtime  # noqa: E402

runtime.setup()
import numpy as np  # noqa: E402

from dformer_seg.datasets.loader import RGBDDataLoader  # noqa: E402
from dformer_seg.engine import Runner  # noqa: E402
from dformer_seg.utils.dist import rank, world_size  # noqa: E402

GLOBAL_BATCH = 4


class LabelledArrays:
    """Packed samples: the class is the sign pattern of the depth's mean (learnable in a few steps)."""

    metainfo = dict(classes=('a', 'b', 'c'))

    def __init__(self, num, seed):
        rng = np.random.default_rng(seed)
        self.samples = []
        for index in range(num):
            label = index % 3
            depth = rng.standard_normal((1, 32, 32)).astype(np.float32) + (label - 1)
            img = rng.standard_normal((3, 32, 32)).astype(np.float32)
            self.samples.append(dict(img=img, depth=depth, gt_label=np.asarray(label, np.int64),
                                     img_metas=dict(sample_idx=index)))

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return dict(self.samples[index])


def main(work_dir):
    train = RGBDDataLoader(LabelledArrays(16, seed=0), batch_size=GLOBAL_BATCH // world_size(), shuffle=True,
                           drop_last=True, seed=0)
    val = RGBDDataLoader(LabelledArrays(7, seed=1), batch_size=1, seed=0)
    backbone = dict(type='DFormer', arch='tiny', depths=[1, 1, 1, 1], drop_path_rate=0.0,
                    norm_cfg=dict(type='SyncBN', requires_grad=True))
    runner = Runner(
        model=dict(type='RGBDImageClassifier', backbone=backbone, num_classes=3), work_dir=work_dir,
        train_dataloader=train, val_dataloader=val, val_evaluator=dict(type='AccuracyMetric', topk=(1, 2)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        param_scheduler=dict(type='ConstantLR'),
        train_loop=dict(type='IterBasedTrainLoop', max_iters=4, val_interval=4),
        default_hooks=dict(param_scheduler=dict(type='ParamSchedulerHook'),
                           logger=dict(type='TextLoggerHook', interval=1)),
        seed=0)
    runner.train()
    weights = {k: v.numpy() for k, v in runner.model.state_dict().items()}
    np.savez(os.path.join(work_dir, f'weights_rank{rank()}.npz'), **weights)
    evaluator = runner.val_loop.evaluator
    with open(os.path.join(work_dir, f'eval_rank{rank()}.json'), 'w') as f:
        json.dump(dict(local_samples=evaluator.count, metrics=runner.val_loop.run()), f)


if __name__ == '__main__':
    main(sys.argv[1])
