import json
import os
import resource
from collections import OrderedDict

import jittor as jt

from ...registry import HOOKS
from ...utils.dist import is_main_process
from ...utils.misc import format_eta
from .hook import Hook

_TIMING_KEYS = ('time', 'data_time')


def memory_mb():
    """Device memory in use (CUDA) or the process's peak resident memory (CPU), in MiB."""
    if jt.flags.use_cuda:
        return int(jt.get_mem_info().total_cuda_used / 2 ** 20)
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


@HOOKS.register_module()
class TextLoggerHook(Hook):
    """Logs training every ``interval`` iterations and every evaluation, to the
    console, the run's ``.log`` file and, one JSON object per line, ``<timestamp>.log.json``.

    A training line: ``Epoch [3][40/50]  lr: 1.8e-05  eta: 0:41:12  time: 0.402
    data_time: 0.011  memory: 912  decode.loss_ce: 1.2034  decode.acc_seg: 61.27  loss: 1.2034``
    (values averaged over the interval). Only rank 0 writes; under MPI the
    runner has already averaged the losses over all processes.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, interval=20):
        if interval <= 0:
            raise ValueError(f'interval must be positive, got {interval}')
        self.interval = interval
        self.json_path = None
        self._buffer = []
        self._iter_times = []

    def before_run(self, runner):
        self.json_path = os.path.join(runner.work_dir, f'{runner.timestamp}.log.json')
        self._buffer, self._iter_times = [], []

    def _write_json(self, record):
        if self.json_path is not None and is_main_process():
            with open(self.json_path, 'a') as f:
                f.write(json.dumps(record) + '\n')

    def _due(self, runner, batch_idx):
        if runner.by_epoch:
            done = batch_idx + 1
            return done % self.interval == 0 or done == runner.train_loop.iters_per_epoch
        return runner.iter % self.interval == 0 or runner.iter == runner.max_iters

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if outputs is None:
            return
        self._buffer.append(outputs)
        if 'time' in outputs:
            self._iter_times.append(outputs['time'])
        if not self._due(runner, batch_idx):
            return
        averaged = OrderedDict()
        for key in self._buffer[-1]:
            values = [item[key] for item in self._buffer if key in item]
            averaged[key] = sum(values) / len(values)
        self._buffer = []
        lr = runner.current_lr()[0]
        parts = [f'lr: {lr:.3e}']
        if self._iter_times:
            recent = self._iter_times[-200:]
            eta = sum(recent) / len(recent) * (runner.max_iters - runner.iter)
            parts.append(f'eta: {format_eta(eta)}')
        for key in _TIMING_KEYS:
            if key in averaged:
                parts.append(f'{key}: {averaged[key]:.3f}')
        memory = memory_mb()
        parts.append(f'memory: {memory}')
        parts += [f'{k}: {v:.4f}' for k, v in averaged.items() if k not in _TIMING_KEYS]
        if runner.by_epoch:
            where = f'Epoch [{runner.epoch + 1}][{batch_idx + 1}/{runner.train_loop.iters_per_epoch}]'
        else:
            where = f'Iter [{runner.iter}/{runner.max_iters}]'
        runner.logger.info(f'{where}  ' + '  '.join(parts))
        record = OrderedDict(mode='train', epoch=runner.epoch + 1 if runner.by_epoch else runner.epoch,
                             iter=runner.iter, lr=lr, memory=memory)
        record.update(averaged)
        self._write_json(record)

    def _log_metrics(self, runner, mode, metrics):
        if not metrics:
            return
        text = '  '.join(f'{k}: {v:.2f}' if isinstance(v, float) else f'{k}: {v}' for k, v in metrics.items())
        if mode == 'val' and runner.by_epoch:
            where = f'Epoch(val) [{runner.epoch}]'
        elif mode == 'val':
            where = f'Iter(val) [{runner.iter}]'
        else:
            where = 'Test'
        runner.logger.info(f'{where}  {text}')
        record = OrderedDict(mode=mode, epoch=runner.epoch, iter=runner.iter)
        record.update((k, v) for k, v in metrics.items() if isinstance(v, (int, float)))
        self._write_json(record)

    def after_val_epoch(self, runner, metrics=None):
        self._log_metrics(runner, 'val', metrics)

    def after_test_epoch(self, runner, metrics=None):
        self._log_metrics(runner, 'test', metrics)
