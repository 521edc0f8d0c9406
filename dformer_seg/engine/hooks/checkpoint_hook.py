import os
import re

from ...registry import HOOKS
from .hook import Hook


@HOOKS.register_module()
class CheckpointHook(Hook):
    """Saves ``epoch_N.pkl`` / ``iter_N.pkl`` every ``interval`` epochs/iterations, keeps the last
    ``max_keep_ckpts`` of them (-1: all), saves the final state (``save_last``), and with
    ``save_best='mIoU'`` keeps one ``best_mIoU_epoch_N.pkl`` for the best validation score.

    Runs last (VERY_LOW), after the logger and the invalid-loss check. Writing is
    atomic and only rank 0 writes; the best score travels with the checkpoint so
    that a resumed run continues it. ``max_keep_ckpts`` rotates by what is on
    disk: after each save, the ``epoch_N.pkl`` (``iter_N.pkl``) files with N up
    to the current count are kept newest first, so a file whose removal was
    interrupted is removed at the next save (files of a later N, from a run that
    was resumed from an earlier checkpoint, are left to be overwritten).
    """

    priority = 'VERY_LOW'

    def __init__(self, interval=1, by_epoch=True, max_keep_ckpts=-1, save_last=True, save_best=None,
                 rule='greater'):
        if interval <= 0:
            raise ValueError(f'interval must be positive, got {interval}')
        if rule not in ('greater', 'less'):
            raise ValueError(f"rule must be 'greater' or 'less', got {rule!r}")
        if max_keep_ckpts == 0 or max_keep_ckpts < -1:
            raise ValueError(f'max_keep_ckpts must be -1 (keep all) or positive, got {max_keep_ckpts}')
        self.interval = interval
        self.by_epoch = by_epoch
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.save_best = save_best
        self.rule = rule
        self.best_score = None
        self.best_path = None
        self._last_saved_iter = None

    def before_train(self, runner):
        if self.by_epoch and not runner.by_epoch:
            raise ValueError('CheckpointHook(by_epoch=True) needs an epoch-based train loop; set '
                             'default_hooks.checkpoint.by_epoch=False for an IterBasedTrainLoop')

    def _save(self, runner, filename):
        saved = runner.save_checkpoint(filename)
        self._last_saved_iter = runner.iter
        if saved is not None and self.max_keep_ckpts > 0:  # rank 0 only
            for old in self.rotated_out(runner):
                os.remove(old)

    def _counter(self, runner):
        return runner.epoch if self.by_epoch else runner.iter

    def _name(self, runner):
        return f'{self._prefix}_{self._counter(runner)}.pkl'

    @property
    def _prefix(self):
        return 'epoch' if self.by_epoch else 'iter'

    def rotated_out(self, runner):
        """The regular checkpoints on disk beyond the newest ``max_keep_ckpts`` (up to the current count)."""
        pattern = re.compile(rf'{self._prefix}_(\d+)\.pkl')
        numbered = []
        for name in os.listdir(runner.work_dir):
            match = pattern.fullmatch(name)
            if match and int(match.group(1)) <= self._counter(runner):
                numbered.append((int(match.group(1)), os.path.join(runner.work_dir, name)))
        numbered.sort(reverse=True)
        return [path for _, path in numbered[self.max_keep_ckpts:]]

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not self.by_epoch and self.every_n_iters(runner, self.interval):
            self._save(runner, self._name(runner))

    def after_train_epoch(self, runner):
        if self.by_epoch and self.every_n_epochs(runner, self.interval):
            self._save(runner, self._name(runner))

    def after_train(self, runner):
        if self.save_last and self._last_saved_iter != runner.iter:
            self._save(runner, self._name(runner))

    def after_val_epoch(self, runner, metrics=None):
        if not self.save_best or not metrics:
            return
        if self.save_best not in metrics:
            raise KeyError(f'CheckpointHook(save_best={self.save_best!r}): validation returned only '
                           f'{sorted(metrics)}')
        score = metrics[self.save_best]
        improved = self.best_score is None or (score > self.best_score if self.rule == 'greater'
                                               else score < self.best_score)
        if not improved:
            return
        previous = self.best_path
        self.best_score = score
        self.best_path = os.path.join(runner.work_dir, f'best_{self.save_best}_{self._name(runner)}')
        if runner.save_checkpoint(os.path.basename(self.best_path)) is None:  # not rank 0
            return
        runner.logger.info(f'new best {self.save_best}: {score:.2f} -> {self.best_path}')
        if previous and previous != self.best_path and os.path.exists(previous):
            os.remove(previous)

    def state_dict(self):
        return dict(best_score=self.best_score, best_path=self.best_path)

    def load_state_dict(self, state):
        self.best_score = state.get('best_score')
        self.best_path = state.get('best_path')
