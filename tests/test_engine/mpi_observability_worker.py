"""Run by test_mpi_observability.py under ``mpirun -np 2``: each process feeds WorstImagesHook its own
images (different error counts) and opens a TensorboardLoggerHook; writes into the folder given."""
import logging
import os
import sys
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from dformer_seg import runtime  # noqa: E402

runtime.setup()
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from dformer_seg.engine import TensorboardLoggerHook, WorstImagesHook  # noqa: E402
from dformer_seg.utils.dist import rank  # noqa: E402

# Pixels (of 48) predicted wrong in each process's three images: the two worst overall are rank 1's
# third image (44) and rank 0's second (40).
WRONG = {0: [0, 40, 8], 1: [24, 2, 44]}
SIZE = (6, 8)


def main(out_dir):
    me = rank()
    logger = logging.getLogger('dformer_seg')
    runner = SimpleNamespace(work_dir=out_dir, logger=logger,
                             dataset_meta=dict(classes=['a', 'b'], palette=[[0, 0, 0], [255, 0, 0]]))
    tensorboard = TensorboardLoggerHook()
    tensorboard.before_run(runner)
    hook = WorstImagesHook(out_dir=os.path.join(out_dir, 'worst'), k=2)
    hook.before_test_epoch(runner)
    for index, wrong in enumerate(WRONG[me]):
        img_path = os.path.join(out_dir, f'r{me}_img_{index}.png')
        depth_path = os.path.join(out_dir, f'r{me}_depth_{index}.png')
        cv2.imwrite(img_path, np.full(SIZE + (3,), 50, np.uint8))
        cv2.imwrite(depth_path, np.full(SIZE, 100, np.uint8))
        label = np.zeros(SIZE, np.int64)
        label[:, 4:] = 1
        pred = label.reshape(-1).copy()
        pred[:wrong] = 1 - pred[:wrong]
        hook.after_test_iter(runner, index, dict(gt_seg=label[None], img_metas=[dict(img_path=img_path,
                                                                                     depth_path=depth_path)]),
                             [pred.reshape(SIZE)])
    hook.after_test_epoch(runner)
    tensorboard.after_run(runner)


if __name__ == '__main__':
    main(sys.argv[1])
