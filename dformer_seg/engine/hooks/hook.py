"""The hook base class and the priority scale.

Loops do the training work; hooks run at fixed points around it. Most hooks only
observe (logging, checkpoints, timers), but some change state on purpose:
``DepthInputHook`` edits the batch, ``ParamSchedulerHook`` sets the learning
rate, ``EMAHook`` keeps and swaps in averaged weights. Every hook point is a
no-op here, and the arguments are explicit (what a point needs is passed in,
nothing travels through shared buffers). Hooks run in ascending priority; equal priorities keep
the order in which the hooks were registered.
"""

PRIORITIES = {
    'HIGHEST': 0,
    'VERY_HIGH': 10,
    'HIGH': 30,
    'ABOVE_NORMAL': 40,
    'NORMAL': 50,
    'BELOW_NORMAL': 60,
    'LOW': 70,
    'VERY_LOW': 90,
    'LOWEST': 100,
}


def get_priority(priority):
    """Turn a priority name ('NORMAL') or number (0..100) into a number."""
    if isinstance(priority, str):
        key = priority.upper()
        if key not in PRIORITIES:
            raise ValueError(f'unknown hook priority {priority!r}; use a number in 0..100 or one of '
                             f'{", ".join(PRIORITIES)}')
        return PRIORITIES[key]
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 100:
        raise ValueError(f'hook priority must be an int in 0..100 or a name, got {priority!r}')
    return priority


class Hook:
    """Base class of all hooks; subclasses override the points they use."""

    priority = 'NORMAL'

    # run
    def before_run(self, runner):
        pass

    def after_run(self, runner):
        pass

    # training
    def before_train(self, runner):
        pass

    def after_train(self, runner):
        pass

    def before_train_epoch(self, runner):
        pass

    def after_train_epoch(self, runner):
        pass

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        pass

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        pass

    # validation
    def before_val_epoch(self, runner):
        pass

    def before_val_iter(self, runner, batch_idx, data_batch=None):
        pass

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        pass

    def after_val_epoch(self, runner, metrics=None):
        pass

    # testing
    def before_test_epoch(self, runner):
        pass

    def before_test_iter(self, runner, batch_idx, data_batch=None):
        pass

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        pass

    def after_test_epoch(self, runner, metrics=None):
        pass

    # checkpoints
    def before_save_checkpoint(self, runner, checkpoint):
        pass

    def after_load_checkpoint(self, runner, checkpoint):
        pass

    # Interval checks for the ``after_*`` points: the runner counts an iteration
    # (epoch) as done before it calls them, so ``runner.iter`` is 1 after the first.
    @staticmethod
    def every_n_iters(runner, n):
        return n > 0 and runner.iter % n == 0

    @staticmethod
    def every_n_epochs(runner, n):
        return n > 0 and runner.epoch % n == 0
