"""The Runner: builds a training/evaluation run from a config and drives its loops.

``Runner.from_cfg(cfg)`` reads the top-level config keys (``model``,
``*_dataloader``, ``*_evaluator``, ``optim_wrapper``, ``param_scheduler``,
``train_loop``/``val_loop``/``test_loop``, ``default_hooks``, ``custom_hooks``,
``work_dir``, ``load_from``, ``resume``, ``seed``, ``amp``, ``log_level``;
the list is ``dformer_seg.config.keys.RUNNER_KEYS``). A config key that nothing
reads is an error. Parts are built when first needed, so ``runner.test()``
never builds the training data or the optimizer.

Safety: a training run holds a lock on its work dir (``work_dir.WorkDirLock``) and
refuses a work dir that holds another run's checkpoints; the log file is opened
only once the set-up has passed, and a run that fails before leaves nothing.
Weights are checked for NaN/inf before every checkpoint and before every
evaluation, and evaluated scores are checked before they become predictions.

The loops act: the model's ``train_step`` / ``predict_step`` (``models/base_model.py``)
compute, and the optimizer wrapper (``optim_wrapper``, see
``engine/optim/optim_wrapper.py``) sets the precision of a step and does backward,
clipping, accumulation, loss scaling and the update; hooks observe the points of the
run and do scheduling, timing, logging, checkpointing and EMA.
"""
import logging
import os
import time

import jittor as jt

from .. import runtime
from ..config import ConfigError, to_plain
from ..config.keys import RUNNER_KEYS, check_top_level_keys
from ..datasets.metainfo import dataset_meta
from ..models.base_model import BaseModel
from ..registry import DATASETS, HOOKS, LOOPS, METRICS, OPTIM_WRAPPERS, SEGMENTORS
from ..utils.dist import all_reduce_mean, broadcast_parameters, is_main_process, rank, world_size
from ..utils.fileio import atomic_write, temp_files_of_atomic_writes
from ..utils.logger import setup_logger
from ..utils.numerics import check_finite_model
from ..utils.seeding import seed_global_generators
from ..version import __version__
from .hooks.hook import Hook, get_priority
from .optim.amp import float16_scope
from .optim.optim_wrapper import AmpOptimWrapper, build_optim_wrapper
from .optim.schedulers import build_scheduler
from .work_dir import WorkDirError, WorkDirLock

LAST_CHECKPOINT_FILE = 'last_checkpoint'
CHECKPOINT_EXTENSIONS = ('.pkl', '.pth')
LOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class _EarlyLogRecords(logging.Handler):
    """Keeps what is logged before the run's log file is opened (it is opened only once the set-up
    has passed), so that the file still starts with it."""

    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def configured_class_count(loader):
    """``(number of classes, data set name)`` of a data loader config (or a built loader), from its data set's
    ``classes`` or its class's ``CLASSES``, without building it; ``(None, None)`` when unknown."""
    from .. import datasets  # noqa: F401  (registers the data set classes named by type)
    if loader is None:
        return None, None
    if not isinstance(loader, dict):
        classes = dataset_meta(loader).get('classes')
        return (len(classes), type(getattr(loader, 'dataset', loader)).__name__) if classes else (None, None)
    dataset = loader.get('dataset')
    if not isinstance(dataset, dict):
        return configured_class_count(dataset) if dataset is not None else (None, None)
    dataset_type = dataset.get('type')
    dataset_cls = DATASETS.get(dataset_type) if isinstance(dataset_type, str) else dataset_type
    classes = dataset.get('classes') or getattr(dataset_cls, 'CLASSES', None)
    name = getattr(dataset_cls, '__name__', str(dataset_type))
    return (len(classes), name) if classes else (None, None)


class Runner:
    """Owns the model, the optimizer, the counters (``epoch``/``iter``: completed ones), the hooks and the
    loops of one run; ``train()``, ``val()`` and ``test()`` run them. See :meth:`from_cfg` for the config keys."""

    def __init__(self, model, work_dir, train_dataloader=None, val_dataloader=None, test_dataloader=None,
                 val_evaluator=None, test_evaluator=None, optim_wrapper=None, param_scheduler=None,
                 train_loop=None, val_loop=None, test_loop=None, default_hooks=None, custom_hooks=None,
                 load_from=None, resume=False, seed=None, amp=False, log_level='INFO', cfg=None,
                 allow_existing_work_dir=False):
        if not work_dir:
            raise ValueError('a work_dir is needed (set work_dir in the config or pass --work-dir)')
        runtime.setup()  # idempotent; the tools have already made this call
        self.work_dir = os.path.abspath(work_dir)
        self.cfg = cfg
        self.timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
        self._log_level = log_level
        self._log_file = None
        self.logger = setup_logger(None, log_level)
        for old in [h for h in self.logger.handlers if isinstance(h, _EarlyLogRecords)]:
            self.logger.removeHandler(old)  # of a runner that never ran
        self._early_log = _EarlyLogRecords()
        self.logger.addHandler(self._early_log)
        self._seed_configured = seed is not None
        self.seed = self._set_seed(seed)

        self.epoch = 0
        self.iter = 0
        self._load_from = load_from
        self._resume = resume
        self._allow_existing_work_dir = allow_existing_work_dir
        self._configs = dict(train_dataloader=train_dataloader, val_dataloader=val_dataloader,
                             test_dataloader=test_dataloader, val_evaluator=val_evaluator,
                             test_evaluator=test_evaluator, optim_wrapper=optim_wrapper,
                             param_scheduler=param_scheduler, train_loop=train_loop,
                             val_loop=val_loop, test_loop=test_loop)
        self._built = {}

        self.model = SEGMENTORS.build(model) if isinstance(model, dict) else model
        if not isinstance(self.model, BaseModel):
            raise TypeError(f'the Runner trains and evaluates models derived from dformer_seg.models.BaseModel '
                            f'(train_step, predict_step), got {type(self.model).__name__}')
        # Jittor draws the initial weights lazily: draw them now, from the seed, before anything reseeds the
        # generators (the training loop does at every iteration).
        jt.sync_all()
        self._check_num_classes()
        self.optim_wrapper = None
        self.scheduler = None
        self.amp_level, self._loss_scale = self._setup_amp(amp)

        self._hooks = []
        for hook_cfg in (default_hooks or {}).values():
            if hook_cfg is not None:
                self.register_hook(hook_cfg)
        for hook_cfg in custom_hooks or []:
            self.register_hook(hook_cfg)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_cfg(cls, cfg):
        """Build a runner from a :class:`~dformer_seg.config.Config` (or a dict with the same keys)."""
        if cfg.get('model') is None:
            raise KeyError('the config has no "model"')
        check_top_level_keys(cfg)
        from .. import datasets, models  # noqa: F401  (register the classes a config names)
        kwargs = {key: to_plain(cfg[key]) for key in RUNNER_KEYS if key in cfg}
        return cls(cfg=cfg, allow_existing_work_dir=bool(cfg.get('allow_existing_work_dir', False)), **kwargs)

    def _check_num_classes(self):
        """The model must predict as many classes as every configured data set has."""
        model_classes = getattr(self.model, 'num_classes', None)
        if model_classes is None:
            return
        key = 'model.decode_head.num_classes' if hasattr(self.model, 'decode_head') else 'model.num_classes'
        for name in LOADER_KEYS:
            count, dataset_name = configured_class_count(self._configs[name])
            if count is not None and count != model_classes:
                raise ConfigError(
                    f'{key} is {model_classes}, but the {name} data set ({dataset_name}) has {count} classes: '
                    f'set {key}={count} (or give the data set the classes the model was made for)')

    def _set_seed(self, seed):
        if seed is None:
            # Every process must agree: the data loaders derive their shuffle order from it.
            from ..datasets.loader import shared_random_seed
            seed = shared_random_seed()
        seed = int(seed)
        jt.set_global_seed(seed)  # adds a rank-dependent offset for MPI processes
        return seed

    def _setup_amp(self, amp):
        """``(float16 level, loss scaler arguments)`` of the ``amp`` key, ``(None, None)`` without amp."""
        if not amp:
            return None, None
        options = dict(amp) if isinstance(amp, dict) else {}
        if not jt.flags.use_cuda:
            raise ConfigError('mixed precision (amp) needs CUDA, but this run uses the CPU: Jittor has no fast '
                              'float16 kernels on the CPU. Set amp=False (or --cfg-options amp=False), or run '
                              'with --device cuda on a machine with a GPU.')
        level = int(options.pop('level', 5))
        return level, options

    def _build_dataloader(self, name, cfg):
        if not isinstance(cfg, dict):
            return cfg  # already a loader
        from ..datasets.builder import build_dataloader
        from ..datasets.loader import LoaderOptionError
        try:
            return build_dataloader(cfg, seed=self.seed)
        except LoaderOptionError as exc:
            raise ConfigError(f'{name}.{exc}') from None

    def _built_part(self, name, factory):
        if name not in self._built:
            self._built[name] = factory()
        return self._built[name]

    @property
    def train_dataloader(self):
        return self._built_part('train_dataloader', lambda: self._require_loader('train_dataloader'))

    def _require_loader(self, name):
        if self._configs[name] is None:
            raise KeyError(f'the config has no {name}')
        return self._build_dataloader(name, self._configs[name])

    @property
    def train_loop(self):
        def build():
            cfg = self._configs['train_loop']
            if cfg is None:
                raise KeyError('the config has no train_loop (e.g. dict(type="EpochBasedTrainLoop", max_epochs=..))')
            return LOOPS.build(cfg, runner=self, dataloader=self.train_dataloader)
        return self._built_part('train_loop', build)

    def _build_evaluator(self, name, loader):
        cfg = self._configs[name]
        if cfg is None or not isinstance(cfg, dict):
            return cfg
        meta = dataset_meta(loader)
        defaults = {}
        if meta.get('classes') and 'class_names' not in cfg:
            defaults['class_names'] = meta['classes']
        return METRICS.build(cfg, **defaults)

    def _eval_loop(self, kind):
        loader_cfg = self._configs[f'{kind}_dataloader']
        if loader_cfg is None:
            return None
        loader = self._build_dataloader(f'{kind}_dataloader', loader_cfg)
        evaluator = self._build_evaluator(f'{kind}_evaluator', loader)
        loop_cfg = self._configs[f'{kind}_loop'] or dict(type='ValLoop' if kind == 'val' else 'TestLoop')
        return LOOPS.build(loop_cfg, runner=self, dataloader=loader, evaluator=evaluator)

    @property
    def val_loop(self):
        """The validation loop, or None when the config has no val_dataloader."""
        return self._built_part('val_loop', lambda: self._eval_loop('val'))

    @property
    def test_loop(self):
        def build():
            loop = self._eval_loop('test')
            if loop is None:
                raise KeyError('the config has no test_dataloader')
            return loop
        return self._built_part('test_loop', build)

    @property
    def max_iters(self):
        return self.train_loop.max_iters

    @property
    def max_epochs(self):
        return self.train_loop.max_epochs

    @property
    def by_epoch(self):
        """Whether training counts in epochs (False outside training, e.g. in a test run)."""
        loop = self._built.get('train_loop')
        return bool(loop is not None and loop.by_epoch)

    @property
    def dataset_meta(self):
        """``classes``/``palette`` of the first data loader built so far ({} if none has them)."""
        for name in ('train_dataloader', 'val_loop', 'test_loop'):
            part = self._built.get(name)
            meta = dataset_meta(getattr(part, 'dataloader', part)) if part is not None else {}
            if meta:
                return meta
        return {}

    @property
    def optimizer(self):
        """The Jittor optimizer inside ``optim_wrapper`` (None before training builds it)."""
        return self.optim_wrapper.optimizer if self.optim_wrapper is not None else None

    def _build_optimization(self):
        if self.optim_wrapper is not None:
            return
        optim_cfg = self._configs['optim_wrapper']
        if optim_cfg is None:
            raise KeyError('the config has no optim_wrapper (e.g. dict(optimizer=dict(type="AdamW", lr=6e-5)))')
        self.model.train()
        self.optim_wrapper = self._build_optim_wrapper(dict(optim_cfg))
        loop = self.train_loop
        self.optim_wrapper.initialize_count_status(self.iter, loop.max_iters)
        self.scheduler = build_scheduler(self._configs['param_scheduler'], max_iters=loop.max_iters,
                                         iters_per_epoch=loop.iters_per_epoch if loop.by_epoch else None)

    def _build_optim_wrapper(self, cfg):
        """``amp`` picks ``AmpOptimWrapper`` (given the loss scaler arguments of ``amp``) when the config names no
        ``type``, and needs a loss-scaling wrapper when it does."""
        use_amp = self.amp_level is not None
        cfg.setdefault('type', 'AmpOptimWrapper' if use_amp else 'OptimWrapper')
        wrapper_cls = OPTIM_WRAPPERS.get(cfg['type']) if isinstance(cfg['type'], str) else cfg['type']
        is_amp_wrapper = isinstance(wrapper_cls, type) and issubclass(wrapper_cls, AmpOptimWrapper)
        if wrapper_cls is not None and use_amp != is_amp_wrapper:
            name = getattr(wrapper_cls, '__name__', cfg['type'])
            raise ConfigError(
                f'amp={"on" if use_amp else "off"} but optim_wrapper.type is {name}: float16 training needs a '
                f'loss-scaling wrapper (AmpOptimWrapper) and a loss-scaling wrapper needs amp. Set both, or '
                f'drop optim_wrapper.type to let amp choose')
        amp_args = dict(loss_scale=self._loss_scale, level=self.amp_level) if use_amp else {}
        return build_optim_wrapper(self.model, cfg, **amp_args)

    # ------------------------------------------------------------------ hooks
    def register_hook(self, hook, priority=None):
        """Add a hook (an instance or a config dict); ties in priority keep registration order."""
        if isinstance(hook, dict):
            hook = dict(hook)
            priority = hook.pop('priority', priority)
            hook = HOOKS.build(hook)
        if not isinstance(hook, Hook):
            raise TypeError(f'hooks must derive from dformer_seg.engine.Hook, got {type(hook).__name__}')
        hook.priority = get_priority(priority if priority is not None else hook.priority)
        position = len(self._hooks)
        while position > 0 and self._hooks[position - 1].priority > hook.priority:
            position -= 1
        self._hooks.insert(position, hook)
        return hook

    @property
    def hooks(self):
        return list(self._hooks)

    def get_hook(self, hook_type):
        """The first registered hook of a class (or class name), or None."""
        for hook in self._hooks:
            if type(hook).__name__ == hook_type or (isinstance(hook_type, type) and isinstance(hook, hook_type)):
                return hook
        return None

    def call_hook(self, point, **kwargs):
        for hook in self._hooks:
            getattr(hook, point)(self, **kwargs)

    def _stateful_hooks(self):
        """``(key, hook)`` for each hook with a ``state_dict``: its class name, with ``#2``, ``#3``, ... for
        further hooks of one class (in priority order), so that they never overwrite each other's state."""
        seen = {}
        for hook in self._hooks:
            if hasattr(hook, 'state_dict'):
                name = type(hook).__name__
                seen[name] = seen.get(name, 0) + 1
                yield (name if seen[name] == 1 else f'{name}#{seen[name]}'), hook

    def hook_order(self):
        rows = [f'{hook.priority:>4}  {type(hook).__name__}' for hook in self._hooks]
        return 'hooks (run in this order):\n' + '\n'.join(rows)

    # ------------------------------------------------------------------ steps
    def current_lr(self):
        return [group['lr'] for group in self.optimizer.param_groups]

    def seed_iteration(self):
        """Seed the global generators (drop path, dropout, random NMF bases) from (seed, iteration, rank)
        before an iteration, so that a resumed run draws what the uninterrupted run drew."""
        seed_global_generators(self.seed, self.iter, rank())

    def train_step(self, data_batch):
        """The model's train step on one batch; returns the logged values as floats (averaged over processes)."""
        return self._fetch_log_vars(self.model.train_step(data_batch, self.optim_wrapper))

    def _fetch_log_vars(self, log_vars):
        names = list(log_vars)
        values = jt.concat([log_vars[name].float32().reshape(1) for name in names])
        values = all_reduce_mean(values)
        jt.sync_all()  # one sync per step: pending parameter updates and the logged values
        return dict(zip(names, (float(v) for v in values.numpy())))

    def predict_step(self, data_batch):
        """The model's predictions for a batch (float16 with ``amp``)."""
        with float16_scope(self.amp_level):
            return self.model.predict_step(data_batch)

    # ------------------------------------------------------------------ run
    def train(self):
        """Set up (lock and check the work dir, resume or load weights, build the optimizer), then run the
        training loop. Nothing is left in the work dir by a run that fails while setting up."""
        lock = WorkDirLock(self.work_dir, self.logger).acquire()
        started = False
        try:
            self._check_work_dir()
            self._load_or_resume()
            self._build_optimization()
            self._open_log_file()
            started = True
            self._remove_stale_temp_files()
            self._dump_config()
            broadcast_parameters(self.model)  # identical starting weights on every process
            self.logger.info(self._environment())
            self.logger.info(self.hook_order())
            self.call_hook('before_run')
            self.train_loop.run()
            self.call_hook('after_run')
        finally:
            lock.release(remove_new_work_dir=not started)
        return self.model

    def val(self):
        loop = self.val_loop
        if loop is None:
            raise KeyError('the config has no val_dataloader')
        self._open_log_file()
        return loop.run()

    def test(self):
        loop = self.test_loop  # built (data, metric) before the log file is opened
        self._open_log_file()
        self.logger.info(self.hook_order())
        self.call_hook('before_run')
        metrics = loop.run()
        self.call_hook('after_run')
        return metrics

    def _environment(self):
        return (f'dformer_seg {__version__}, jittor {jt.__version__}, device '
                f'{"cuda" if jt.flags.use_cuda else "cpu"}, {world_size()} process(es), seed {self.seed}, '
                f'amp {"level " + str(self.amp_level) if self.amp_level is not None else "off"}, '
                f'work_dir {self.work_dir}')

    def _check_work_dir(self):
        """A training run owns its work dir: it may be new, or resumed, or explicitly allowed to write over
        what is there. Checkpoints without a ``last_checkpoint`` file (lost, or copied in) count too."""
        if self._allow_existing_work_dir:
            return
        last = os.path.join(self.work_dir, LAST_CHECKPOINT_FILE)
        if os.path.exists(last):
            if not self._resume:
                raise WorkDirError(
                    f'{self.work_dir} already holds the checkpoints of another run ({last}). Pass --resume to '
                    f'continue that run, choose another --work-dir, or set allow_existing_work_dir=True to '
                    f'write over its checkpoints.')
            return
        found = checkpoint_files(self.work_dir)
        if found and not isinstance(self._resume, str):
            names = ', '.join(os.path.basename(p) for p in found[:5]) + (' ...' if len(found) > 5 else '')
            raise WorkDirError(
                f'{self.work_dir} already holds checkpoints ({names}) but no {LAST_CHECKPOINT_FILE} file, so '
                f'they cannot be resumed automatically and this run would write over them. Pass --resume CKPT '
                f'to continue from one of them, or choose another --work-dir (with --load-from CKPT to start '
                f'from its weights), or set allow_existing_work_dir=True to write over them.')

    def _open_log_file(self):
        """Create the work dir and ``<timestamp>.log`` (rank 0), starting with what was logged so far."""
        if self._log_file is not None:
            return
        if os.path.exists(self.work_dir) and not os.path.isdir(self.work_dir):
            raise WorkDirError(f'work dir {self.work_dir} exists but is not a directory; choose another --work-dir')
        self._log_file = os.path.join(self.work_dir, f'{self.timestamp}.log')
        self.logger.removeHandler(self._early_log)
        if not is_main_process():
            return
        os.makedirs(self.work_dir, exist_ok=True)
        setup_logger(self._log_file, self._log_level)
        for handler in self.logger.handlers:
            if isinstance(handler, logging.FileHandler) and handler.baseFilename == self._log_file:
                for record in self._early_log.records:
                    handler.handle(record)
        self._early_log.records = []

    def _remove_stale_temp_files(self):
        """Remove the temporary files of checkpoint writes that were killed (this run owns the work dir)."""
        if not is_main_process():
            return
        stale = temp_files_of_atomic_writes(self.work_dir)
        for path in stale:
            os.remove(path)
        if stale:
            self.logger.info(f'removed {len(stale)} temporary file(s) of interrupted checkpoint writes: '
                             f'{", ".join(os.path.basename(p) for p in stale)}')

    def _dump_config(self):
        if self.cfg is None or not is_main_process() or not hasattr(self.cfg, 'dump'):
            return
        filename = getattr(self.cfg, 'filename', None)
        stem = os.path.splitext(os.path.basename(filename))[0] if filename else 'config'
        self.cfg.dump(os.path.join(self.work_dir, f'{stem}.py'))

    def _config_text(self):
        if self.cfg is None:
            return ''
        return getattr(self.cfg, 'pretty_text', '') or ''

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, filename):
        """Write ``work_dir/filename`` (rank 0 only) and point ``last_checkpoint`` at it.

        Weights that hold NaN or inf are never saved: every process raises :class:`NonFiniteError` instead.
        """
        from ..utils.checkpoint import save_checkpoint
        check_finite_model(self.model, f'at iteration {self.iter}, before saving {filename}')
        if not is_main_process():
            return None
        meta = dict(epoch=self.epoch, iter=self.iter, seed=self.seed, world_size=world_size(),
                    config=self._config_text(), dformer_seg_version=__version__, jittor_version=jt.__version__,
                    time=time.strftime('%Y-%m-%d %H:%M:%S'))
        if self._built.get('train_loop') is not None:
            meta.update(max_iters=self.max_iters, iters_per_epoch=self.train_loop.iters_per_epoch)
        meta_info = self.dataset_meta
        palette = meta_info.get('palette')
        meta.update(CLASSES=meta_info.get('classes'),
                    PALETTE=[[int(c) for c in color] for color in palette] if palette is not None else None)
        optim_state = self.optim_wrapper.state_dict() if self.optim_wrapper is not None else dict(optimizer=None)
        checkpoint = dict(meta=meta, hook_states={}, **optim_state)
        for key, hook in self._stateful_hooks():
            checkpoint['hook_states'][key] = hook.state_dict()
        self.call_hook('before_save_checkpoint', checkpoint=checkpoint)
        path = os.path.join(self.work_dir, filename)
        state_dict = self.model.state_dict()
        save_checkpoint(path, state_dict, meta=checkpoint.pop('meta'), **checkpoint)
        with atomic_write(os.path.join(self.work_dir, LAST_CHECKPOINT_FILE), 'w') as f:
            f.write(path)
        self.logger.info(f'saved checkpoint {path}')
        return path

    def _adopt_seed(self, saved_seed, path):
        """Continue with the seed of the resumed run (before the training data are built from it)."""
        if saved_seed is None or int(saved_seed) == self.seed:
            return
        if 'train_dataloader' in self._built:
            self.logger.warning(f'{path} was trained with seed {saved_seed}, this run has seed {self.seed} and has '
                                f'built its data loader already: the resumed run will not repeat the data order '
                                f'and random draws of the run it continues')
            return
        if self._seed_configured:
            self.logger.warning(f'{path} was trained with seed {saved_seed}; the resumed run continues with it '
                                f'instead of the configured seed {self.seed}')
        self.seed = self._set_seed(saved_seed)

    def latest_checkpoint(self):
        """The path ``work_dir/last_checkpoint`` names, or None."""
        last = os.path.join(self.work_dir, LAST_CHECKPOINT_FILE)
        if not os.path.isfile(last):
            return None
        with open(last) as f:
            path = f.read().strip()
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{last} names {path}, which does not exist')
        return path

    def _load_or_resume(self):
        if self._resume:
            path = self._resume if isinstance(self._resume, str) else self.latest_checkpoint()
            if path is None:
                self.logger.warning(f'resume requested but {self.work_dir} has no {LAST_CHECKPOINT_FILE}; '
                                    f'training from the start')
            else:
                self.resume(path)
                return
        if self._load_from:
            self.load_checkpoint(self._load_from)

    def load_checkpoint(self, path, strict=False, use_ema=False):
        """Load model weights only (``load_from``, testing); reports keys that do not match.

        ``use_ema`` loads the EMA weights that an ``EMAHook`` stored (``state_dict_ema``).
        """
        from ..utils.checkpoint import CheckpointError, load_state_dict, read_checkpoint
        checkpoint = read_checkpoint(path)
        key = 'state_dict_ema' if use_ema else 'state_dict'
        if key not in checkpoint:
            raise CheckpointError(f'{path} has no EMA weights ({key}); they exist only when training ran with an '
                                  f'EMAHook. Drop --use-ema to use its weights')
        load_state_dict(self.model, checkpoint[key], strict=strict, logger=self.logger)
        self.logger.info(f'loaded {"EMA " if use_ema else ""}weights from {path}')
        return checkpoint

    def resume(self, path):
        """Continue a run: weights, optimizer wrapper state (optimizer, loss scale, accumulation), counters,
        hook states and the seed (so that the data order, augmentations and random draws continue the run's)."""
        from ..utils.checkpoint import CheckpointError, load_state_dict, read_checkpoint
        checkpoint = read_checkpoint(path)
        meta = checkpoint['meta']
        if not isinstance(meta, dict):
            raise CheckpointError(f'{path} cannot be resumed: its meta is a {type(meta).__name__}, not a dict')
        for key in ('epoch', 'iter'):
            if not isinstance(meta.get(key), int) or meta[key] < 0:
                raise CheckpointError(f'{path} cannot be resumed: its meta has no {key!r} count (a checkpoint '
                                      f'written by a training run has one); use --load-from to start from its '
                                      f'weights')
        if checkpoint.get('optimizer') is None or not isinstance(checkpoint.get('accumulation'), dict):
            raise CheckpointError(f'{path} cannot be resumed: it has no optimizer state; use --load-from to start '
                                  f'from its weights')
        self._adopt_seed(meta.get('seed'), path)
        self._build_optimization()
        saved_ipe = meta.get('iters_per_epoch')
        if saved_ipe is not None and self.train_loop.by_epoch and saved_ipe != self.train_loop.iters_per_epoch:
            raise CheckpointError(
                f'{path} was written with {saved_ipe} iterations per epoch, this run has '
                f'{self.train_loop.iters_per_epoch} (different data, batch size or process count); resuming would '
                f'not continue the same schedule. Use the data, batch size and process count of that run, or '
                f'--load-from to start a new schedule from its weights')
        load_state_dict(self.model, checkpoint['state_dict'], strict=True, logger=self.logger)
        self.optim_wrapper.load_state_dict(checkpoint)
        self.epoch, self.iter = int(meta['epoch']), int(meta['iter'])
        self.optim_wrapper.initialize_count_status(self.iter, self.max_iters)
        hook_states = checkpoint.get('hook_states') or {}
        for key, hook in self._stateful_hooks():
            if hook_states.get(key) is not None and hasattr(hook, 'load_state_dict'):
                hook.load_state_dict(hook_states[key])
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        self.logger.info(f'resumed from {path}: epoch {self.epoch}, iteration {self.iter}')
        return checkpoint


def checkpoint_files(directory):
    """The checkpoint files (``*.pkl``, ``*.pth``) directly inside ``directory``, sorted by name."""
    if not os.path.isdir(directory):
        return []
    return sorted(os.path.join(directory, name) for name in os.listdir(directory)
                  if name.endswith(CHECKPOINT_EXTENSIONS) and not name.startswith('.')
                  and os.path.isfile(os.path.join(directory, name)))
