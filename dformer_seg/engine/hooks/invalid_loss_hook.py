import math

from ...registry import HOOKS
from .hook import Hook


@HOOKS.register_module()
class CheckInvalidLossHook(Hook):
    """Stops training when the total loss is NaN or infinite, naming the iteration.

    ``interval`` checks every n-th iteration (the loss values are fetched every
    iteration anyway, so checking is free); remove the hook from
    ``default_hooks`` (``invalid_loss=None``) to train on regardless.
    Runs before the checkpoint hook, so no checkpoint of broken weights is written.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval=1):
        if interval <= 0:
            raise ValueError(f'interval must be positive, got {interval}')
        self.interval = interval

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if outputs is None or not self.every_n_iters(runner, self.interval):
            return
        loss = outputs.get('loss')
        if loss is not None and not math.isfinite(loss):
            terms = ', '.join(f'{k}={v:.4g}' for k, v in outputs.items() if 'loss' in k)
            where = f'epoch {runner.epoch + 1}, ' if runner.by_epoch else ''
            raise FloatingPointError(
                f'the loss became {loss} at iteration {runner.iter} ({where}batch {batch_idx}): {terms}. '
                f'Training stopped; lower the learning rate, set optim_wrapper.clip_grad, or resume from an '
                f'earlier checkpoint.')
