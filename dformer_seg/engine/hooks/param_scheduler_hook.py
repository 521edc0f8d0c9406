from ...registry import HOOKS
from .hook import Hook


@HOOKS.register_module()
class ParamSchedulerHook(Hook):
    """Sets every group's LR to ``scheduler.get_lr(group['initial_lr'], runner.iter)`` before each iteration.

    The LR depends on the iteration only, so a resumed run uses the same LR at
    every step as an uninterrupted one, and the logger shows the LR actually used.
    """

    priority = 'VERY_HIGH'

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        for group in runner.optimizer.param_groups:
            group['lr'] = runner.scheduler.get_lr(group['initial_lr'], runner.iter)
