import time

from ...registry import HOOKS
from .hook import Hook


@HOOKS.register_module()
class IterTimerHook(Hook):
    """Adds ``time`` (whole iteration) and ``data_time`` (waiting for the batch) to the iteration's outputs.

    Runs before the logger (NORMAL < BELOW_NORMAL), which averages them and
    derives the ETA. The runner synchronises Jittor once per step, so the
    times are real compute times, not the time to enqueue lazy ops.
    """

    priority = 'NORMAL'

    def __init__(self):
        self._last = None
        self._data_time = 0.0

    def _start(self, runner):
        self._last = time.time()

    before_train_epoch = _start

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        now = time.time()
        self._data_time = now - self._last if self._last is not None else 0.0

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        now = time.time()
        if outputs is not None and self._last is not None:
            outputs['time'] = now - self._last
            outputs['data_time'] = self._data_time
        self._last = now

    def after_val_epoch(self, runner, metrics=None):
        self._last = time.time()  # validation time is not data time of the next iteration
