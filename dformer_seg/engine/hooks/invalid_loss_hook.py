import math

from ...registry import HOOKS
from ...utils.numerics import NonFiniteError, check_finite_model
from .hook import Hook


@HOOKS.register_module()
class CheckInvalidLossHook(Hook):
    """Stops training when the total loss is NaN or infinite, or the weights are, naming the iteration.

    ``interval`` checks the loss every n-th iteration (the loss values are fetched
    every iteration anyway, so checking is free); ``weights_interval`` checks every
    parameter and buffer every n-th iteration (one reduction per tensor and one
    synchronisation; 0: never). The weights are also checked, whatever this hook
    says, before every checkpoint and every validation. Remove the hook from
    ``default_hooks`` (``invalid_loss=None``) to train on regardless.
    Runs before the checkpoint hook, so no checkpoint of broken weights is written.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval=1, weights_interval=50):
        if interval <= 0:
            raise ValueError(f'interval must be positive, got {interval}')
        if weights_interval < 0:
            raise ValueError(f'weights_interval must be 0 (never) or positive, got {weights_interval}')
        self.interval = interval
        self.weights_interval = weights_interval

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        where = f'epoch {runner.epoch + 1}, ' if runner.by_epoch else ''
        if outputs is not None and self.every_n_iters(runner, self.interval):
            loss = outputs.get('loss')
            if loss is not None and not math.isfinite(loss):
                terms = ', '.join(f'{k}={v:.4g}' for k, v in outputs.items() if 'loss' in k)
                raise NonFiniteError(
                    f'the loss became {loss} at iteration {runner.iter} ({where}batch {batch_idx}): {terms}. '
                    f'Training stopped; lower the learning rate, set optim_wrapper.clip_grad, or resume from an '
                    f'earlier checkpoint.')
        if self.every_n_iters(runner, self.weights_interval):
            check_finite_model(runner.model, f'at iteration {runner.iter} ({where}batch {batch_idx})')
