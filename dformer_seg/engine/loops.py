"""Training, validation and test loops: the code that acts (hooks only observe).

Counters live on the runner: ``runner.iter`` and ``runner.epoch`` are the
numbers of *completed* iterations and epochs. A loop increments them before it
calls the matching ``after_*`` hooks, so a checkpoint written there records
exactly how far training got, and a resumed loop starts from those numbers.
"""
import jittor as jt

from ..config import ConfigError
from ..datasets.errors import DataError
from ..registry import LOOPS
from ..utils.dist import is_main_process
from ..utils.misc import ProgressBar
from ..utils.numerics import check_finite_model


def set_loader_epoch(loader, epoch):
    """Tell a loader which pass over the data starts, so its shuffle order is a function of it."""
    set_epoch = getattr(loader, 'set_epoch', None)
    if callable(set_epoch):
        set_epoch(epoch)


def positive_int(key, value):
    """Refuse a loop setting that is not a positive integer, naming its config key."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f'{key} must be a positive integer, got {value!r}')


class _TrainLoop:
    def __init__(self, runner, dataloader, val_begin=1, val_interval=1):
        if len(dataloader) == 0:
            raise DataError('the training data loader yields no batch (empty dataset, or fewer samples '
                            'than the batch size with drop_last=True)')
        positive_int('train_loop.val_interval', val_interval)
        if not isinstance(val_begin, int) or isinstance(val_begin, bool):
            raise ConfigError(f'train_loop.val_begin must be an integer, got {val_begin!r}')
        self.runner = runner
        self.dataloader = dataloader
        self.iters_per_epoch = len(dataloader)
        self.val_begin = val_begin
        self.val_interval = val_interval

    def run_iter(self, batch_idx, data_batch):
        runner = self.runner
        runner.seed_iteration()
        runner.call_hook('before_train_iter', batch_idx=batch_idx, data_batch=data_batch)
        outputs = runner.train_step(data_batch)
        runner.iter += 1
        runner.call_hook('after_train_iter', batch_idx=batch_idx, data_batch=data_batch, outputs=outputs)

    def validate(self):
        if self.runner.val_loop is not None:
            self.runner.val_loop.run()


@LOOPS.register_module()
class EpochBasedTrainLoop(_TrainLoop):
    """Train ``max_epochs`` passes over the data; validate after epoch e when
    ``e >= val_begin`` and (``e % val_interval == 0`` or e is the last)."""

    by_epoch = True

    def __init__(self, runner, dataloader, max_epochs, val_begin=1, val_interval=1):
        super().__init__(runner, dataloader, val_begin, val_interval)
        positive_int('train_loop.max_epochs', max_epochs)
        self.max_epochs = int(max_epochs)
        self.max_iters = self.max_epochs * self.iters_per_epoch

    def run(self):
        runner = self.runner
        runner.call_hook('before_train')
        while runner.epoch < self.max_epochs:
            self.run_epoch()
            epoch = runner.epoch
            if epoch >= self.val_begin and (epoch % self.val_interval == 0 or epoch == self.max_epochs):
                self.validate()
        runner.call_hook('after_train')

    def run_epoch(self):
        runner = self.runner
        runner.call_hook('before_train_epoch')
        set_loader_epoch(self.dataloader, runner.epoch)
        # Non-zero only in the first epoch after resuming from a mid-epoch checkpoint.
        done_in_epoch = runner.iter - runner.epoch * self.iters_per_epoch
        for batch_idx, data_batch in enumerate(self.dataloader):
            if batch_idx < done_in_epoch:
                continue
            if batch_idx >= self.iters_per_epoch:
                break
            self.run_iter(batch_idx, data_batch)
        runner.epoch += 1
        runner.call_hook('after_train_epoch')


@LOOPS.register_module()
class IterBasedTrainLoop(_TrainLoop):
    """Train ``max_iters`` iterations, restarting the loader at the end of each pass;
    validate after iteration i when ``i >= val_begin`` and (``i % val_interval == 0`` or i is the last).

    The whole run is one "epoch" for the epoch hooks; ``runner.epoch`` counts the passes over the data.
    """

    by_epoch = False

    def __init__(self, runner, dataloader, max_iters, val_begin=1, val_interval=1000):
        super().__init__(runner, dataloader, val_begin, val_interval)
        positive_int('train_loop.max_iters', max_iters)
        self.max_iters = int(max_iters)
        self.max_epochs = None

    def _batches(self):
        """Endless batches, starting where ``runner.iter`` says training stopped."""
        runner = self.runner
        runner.epoch, skip = divmod(runner.iter, self.iters_per_epoch)
        while True:
            set_loader_epoch(self.dataloader, runner.epoch)
            for batch_idx, data_batch in enumerate(self.dataloader):
                if batch_idx >= self.iters_per_epoch:
                    break
                if batch_idx >= skip:
                    yield batch_idx, data_batch
            skip = 0
            runner.epoch += 1

    def run(self):
        runner = self.runner
        runner.call_hook('before_train')
        runner.call_hook('before_train_epoch')
        batches = self._batches()
        while runner.iter < self.max_iters:
            batch_idx, data_batch = next(batches)
            self.run_iter(batch_idx, data_batch)
            it = runner.iter
            if it >= self.val_begin and (it % self.val_interval == 0 or it == self.max_iters):
                self.validate()
        batches.close()
        runner.call_hook('after_train_epoch')
        runner.call_hook('after_train')


def _duplicates_of(loader):
    """Positions of samples this process loads only as padding (see ``RGBDDataLoader.duplicate_positions``).

    Under MPI a loader repeats a few samples so that every process runs the same
    number of batches; counting them twice would bias the metric.
    """
    positions = getattr(loader, 'duplicate_positions', None)
    return set(positions()) if callable(positions) else set()


def _select_samples(data_batch, keep):
    """The samples ``keep`` (indices) of a batch, for the metric."""
    selected = dict(data_batch)
    for key, value in data_batch.items():
        if isinstance(value, jt.Var):
            selected[key] = value.numpy()[keep]
        elif isinstance(value, (list, tuple)):
            selected[key] = [value[i] for i in keep]
    return selected


class _EvalLoop:
    """Shared body of validation and testing: predict every batch, feed the metric.

    Weights that hold NaN or inf are not evaluated (:class:`NonFiniteError`), and the runner's
    ``predict_step`` refuses non-finite scores.
    """

    mode = None  # 'val' | 'test'

    def __init__(self, runner, dataloader, evaluator=None):
        self.runner = runner
        self.dataloader = dataloader
        self.evaluator = evaluator

    def run(self):
        runner, mode = self.runner, self.mode
        runner.call_hook(f'before_{mode}_epoch')
        # After the hooks: an EMAHook has swapped in the weights that are evaluated.
        when = f'at validation after iteration {runner.iter}' if mode == 'val' else 'before testing'
        check_finite_model(runner.model, when)
        if self.evaluator is not None:
            self.evaluator.reset()
        duplicates = _duplicates_of(self.dataloader)
        progress = ProgressBar(len(self.dataloader), enabled=is_main_process())
        was_training = runner.model.is_training()
        runner.model.eval()
        position = 0
        with jt.no_grad():
            for batch_idx, data_batch in enumerate(self.dataloader):
                runner.call_hook(f'before_{mode}_iter', batch_idx=batch_idx, data_batch=data_batch)
                preds = runner.predict_step(data_batch)
                keep = [i for i in range(len(preds)) if position + i not in duplicates]
                position += len(preds)
                if len(keep) < len(preds):
                    data_batch = _select_samples(data_batch, keep)
                    preds = [preds[i] for i in keep]
                if self.evaluator is not None and preds:
                    self.evaluator.process(preds, data_batch)
                runner.call_hook(f'after_{mode}_iter', batch_idx=batch_idx, data_batch=data_batch,
                                 outputs=preds)
                progress.update()
        if was_training:
            runner.model.train()
        metrics = self.evaluator.evaluate() if self.evaluator is not None else {}
        runner.call_hook(f'after_{mode}_epoch', metrics=metrics)
        jt.gc()
        return metrics


@LOOPS.register_module()
class ValLoop(_EvalLoop):
    """One pass over the validation data; the metric is summed over all MPI ranks."""

    mode = 'val'


@LOOPS.register_module()
class TestLoop(_EvalLoop):
    """One pass over the test data; without an evaluator (``--format-only``) it only predicts."""

    mode = 'test'
