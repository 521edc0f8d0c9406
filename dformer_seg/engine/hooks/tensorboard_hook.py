import os
import re
from collections import OrderedDict

import numpy as np

from ...registry import HOOKS
from ...utils.dist import is_main_process
from .hook import Hook


@HOOKS.register_module()
class TensorboardLoggerHook(Hook):
    """Writes a TensorBoard event file (``tensorboardX``) to ``log_dir`` (default ``<work_dir>/tf_logs``).

    Training (every ``interval`` iterations, averaged over them): every logged
    value under ``train/`` (the losses by name, ``acc_seg``, ``time``,
    ``data_time``) and ``train/lr``. Validation: the metrics under ``val/``,
    the IoU of every class under ``val_class_IoU/<class>`` and the first
    ``num_images`` samples as RGB | depth | label | prediction panels under
    ``val_images/<n>``; a test run writes its metrics under ``test/``. The step
    is the training iteration. Only rank 0 writes.

    Enable it with one config line: ``custom_hooks = [dict(type='TensorboardLoggerHook')]``,
    then ``tensorboard --logdir work_dirs/<config>``.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, interval=10, num_images=4, log_dir=None, ignore_index=255):
        if interval <= 0:
            raise ValueError(f'interval must be positive, got {interval}')
        if num_images < 0:
            raise ValueError(f'num_images must be >= 0, got {num_images}')
        self.interval = interval
        self.num_images = num_images
        self.log_dir = log_dir
        self.ignore_index = ignore_index
        self.writer = None
        self._buffer = []
        self._panels = []

    def before_run(self, runner):
        if not is_main_process() or self.writer is not None:
            return
        from tensorboardX import SummaryWriter

        self.log_dir = self.log_dir or os.path.join(runner.work_dir, 'tf_logs')
        self.writer = SummaryWriter(self.log_dir)
        runner.logger.info(f'TensorBoard event files go to {self.log_dir}')

    def after_run(self, runner):
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def after_train_iter(self, runner, batch_idx=None, data_batch=None, outputs=None):
        if self.writer is None or not outputs:
            return
        self._buffer.append(outputs)
        if not (self.every_n_iters(runner, self.interval) or runner.iter == runner.max_iters):
            return
        averaged = OrderedDict()
        for item in self._buffer:
            for key, value in item.items():
                averaged.setdefault(key, []).append(value)
        self._buffer = []
        for key, values in averaged.items():
            self.writer.add_scalar(f'train/{key}', float(np.mean(values)), runner.iter)
        self.writer.add_scalar('train/lr', float(runner.current_lr()[0]), runner.iter)

    def before_val_epoch(self, runner):
        self._panels = []

    def after_val_iter(self, runner, batch_idx=None, data_batch=None, outputs=None):
        if self.writer is None or len(self._panels) >= self.num_images or not outputs:
            return
        from ...visualization import default_palette
        from ...visualization.panels import read_sample, sample_panel

        labels = data_batch.get('gt_seg')
        labels = labels.numpy() if hasattr(labels, 'numpy') else labels
        meta_info = runner.dataset_meta
        for index, (pred, meta) in enumerate(zip(outputs, data_batch['img_metas'])):
            if len(self._panels) >= self.num_images:
                break
            pred = np.asarray(pred)
            height, width = pred.shape
            label = labels[index][:height, :width] if labels is not None else np.full(pred.shape, self.ignore_index)
            palette = meta_info.get('palette') or default_palette(max(len(meta_info.get('classes') or ()),
                                                                      int(pred.max(initial=0)) + 1))
            image, depth = read_sample(meta)
            panel = sample_panel(image, depth, label, pred, palette, self.ignore_index)
            self._panels.append(panel[:, :, ::-1].copy())  # TensorBoard wants RGB

    def _write_metrics(self, runner, mode, metrics, evaluator):
        if self.writer is None:
            return
        for key, value in (metrics or {}).items():
            if isinstance(value, (int, float)) and np.isfinite(value):
                self.writer.add_scalar(f'{mode}/{key}', float(value), runner.iter)
        results = getattr(evaluator, 'results', None) or {}
        if 'iou' in results:
            for name, iou in zip(evaluator.class_names, results['iou']):
                if np.isfinite(iou):
                    tag = re.sub(r'[^-\w.]', '_', str(name))  # TensorBoard tags: no spaces or slashes
                    self.writer.add_scalar(f'{mode}_class_IoU/{tag}', float(iou), runner.iter)
        self.writer.flush()

    def after_val_epoch(self, runner, metrics=None):
        self._write_metrics(runner, 'val', metrics, getattr(runner.val_loop, 'evaluator', None))
        if self.writer is not None:
            for index, panel in enumerate(self._panels):
                self.writer.add_image(f'val_images/{index}', panel, runner.iter, dataformats='HWC')
            self.writer.flush()
        self._panels = []

    def after_test_epoch(self, runner, metrics=None):
        self._write_metrics(runner, 'test', metrics, getattr(runner.test_loop, 'evaluator', None))
