import jittor as jt
import numpy as np

from ...registry import HOOKS
from .hook import Hook


@HOOKS.register_module()
class EMAHook(Hook):
    """Keeps an exponential moving average of the trainable parameters.

    After every ``interval``-th iteration from ``begin_iter`` on:
    ``ema = (1 - momentum) * ema + momentum * param``. Validation and testing run
    with the averaged weights (swapped in before, swapped back after). Buffers
    such as BN running statistics are the model's own. The average is saved in
    the checkpoint as ``state_dict_ema`` (``tools/test.py --use-ema`` evaluates it)
    and restored on resume.
    """

    priority = 'NORMAL'

    def __init__(self, momentum=0.0002, interval=1, begin_iter=0):
        if not 0.0 < momentum < 1.0:
            raise ValueError(f'momentum must be in (0, 1), got {momentum}')
        self.momentum = momentum
        self.interval = interval
        self.begin_iter = begin_iter
        self._averages = None  # name -> jt.Var

    def _params(self, runner):
        return {name: p for name, p in runner.model.named_parameters() if not p.is_stop_grad()}

    def _ensure_averages(self, runner):
        if self._averages is None:
            self._averages = {name: p.clone().stop_grad() for name, p in self._params(runner).items()}

    def before_train(self, runner):
        self._ensure_averages(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter < self.begin_iter or not self.every_n_iters(runner, self.interval):
            return
        params = dict(runner.model.named_parameters())
        m = self.momentum
        for name, average in self._averages.items():
            average.update((average * (1.0 - m) + params[name].detach() * m).stop_grad())

    def _swap(self, runner):
        if self._averages is None:
            return
        params = dict(runner.model.named_parameters())
        for name, average in self._averages.items():
            current = params[name].clone().stop_grad()
            params[name].update(average.clone())
            average.update(current)
        jt.sync_all()

    def before_val_epoch(self, runner):
        self._swap(runner)

    def after_val_epoch(self, runner, metrics=None):
        self._swap(runner)

    before_test_epoch = before_val_epoch
    after_test_epoch = after_val_epoch

    def before_save_checkpoint(self, runner, checkpoint):
        if self._averages is None:
            return
        ema_state = {name: var.numpy() for name, var in runner.model.state_dict().items()}
        ema_state.update({name: average.numpy() for name, average in self._averages.items()})
        checkpoint['state_dict_ema'] = ema_state

    def after_load_checkpoint(self, runner, checkpoint):
        saved = checkpoint.get('state_dict_ema')
        if saved is None:
            runner.logger.warning('the checkpoint has no EMA weights; the average restarts from the model')
            self._averages = None
            return
        self._averages = {name: jt.array(np.asarray(saved[name])).stop_grad()
                          for name in self._params(runner) if name in saved}
