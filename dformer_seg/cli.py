"""The command-line set-up every tool under ``tools/`` shares.

A tool builds its parser with :func:`default_parser`, adds its own arguments,
and runs through :func:`main`; the work starts with :func:`setup`::

    def parse_args(argv=None):
        parser = cli.default_parser('Evaluate a segmentor', checkpoint=True, work_dir=True)
        parser.add_argument('--out', help='...')
        return parser.parse_args(argv)

    def run(args):
        cfg = cli.setup(args)   # config, key checks, device, quiet Jittor start-up
        ...

    def main(argv=None):
        return cli.main(run, parse_args(argv))

So ``--device``, ``--cfg-options``, ``--work-dir`` and ``--debug`` mean the same
everywhere, the device is chosen in one place (:func:`choose_device`), and
``--help`` returns at once: importing this module, building a parser and parsing
import no Jittor (only :func:`setup` does).

Errors: bad input (config, data, checkpoint, work dir, device, a run that
diverged) raises one of :func:`user_error_types`; their messages name the
problem, so a traceback adds nothing for the user. :func:`main` prints one
``error: ...`` line and exits with status 1; ``--debug`` (or
``DFORMER_SEG_DEBUG=1``) shows the traceback. Other exceptions (bugs) always
show their traceback.
"""
import argparse
import importlib
import os
import sys

from . import runtime
from .config.options import DictAction
from .utils.logger import ensure_console_handler

DEVICE_CHOICES = runtime.VALID_DEVICES
DEBUG_ENV = 'DFORMER_SEG_DEBUG'
CHECKPOINT_HELP = 'checkpoint file (.pkl from tools/train.py, or an official .pth)'


def default_parser(description, config=True, checkpoint=False, work_dir=False, device=True):
    """An ``argparse`` parser with the arguments the tools share, in this order:

    * ``config``: True adds the positional CONFIG, ``'optional'`` a ``--config CONFIG``; either way with
      ``--cfg-options KEY=VALUE ...``. False: the tool reads no config.
    * ``checkpoint``: True adds the positional CHECKPOINT, ``'optional'`` makes it optional.
    * ``work_dir``: ``--work-dir`` (default: the config's ``work_dir``, else ``work_dirs/<config name>``).
    * ``device``: True adds ``--device auto|cpu|cuda``; a device name (``'cpu'``) runs Jittor there without
      a flag; False: the tool does not run Jittor.
    * ``--debug`` always: tracebacks of errors and Jittor's start-up log.

    ``description`` may be the tool's module docstring (its first paragraph is the description, the rest
    is shown after the arguments).
    """
    summary, _, details = description.strip().partition('\n\n')
    parser = argparse.ArgumentParser(description=summary, epilog=details or None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    if config:
        if config == 'optional':
            parser.add_argument('--config', help='config file')
        else:
            parser.add_argument('config', help='config file')
        parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={}, metavar='KEY=VALUE',
                            help='override config entries, e.g. train_loop.max_epochs=10 '
                                 'test_evaluator.iou_metrics=[mIoU,mDice] (lists: [a,b], (a,b) or a,b)')
    if checkpoint:
        if checkpoint == 'optional':
            parser.add_argument('checkpoint', nargs='?', default=None, help=CHECKPOINT_HELP + ' (optional)')
        else:
            parser.add_argument('checkpoint', help=CHECKPOINT_HELP)
    if work_dir:
        parser.add_argument('--work-dir', help='where logs and outputs go (default: work_dirs/<config name>)')
    if device is True:
        parser.add_argument('--device', choices=DEVICE_CHOICES, default=None,
                            help="where Jittor runs (default: the config's device, else $DFORMER_SEG_DEVICE, "
                                 'else auto)')
    elif device:
        parser.set_defaults(device=device)
    parser.add_argument('--debug', action='store_true',
                        help=f"show the traceback of errors and Jittor's start-up log (also: {DEBUG_ENV}=1)")
    return parser


def default_work_dir(config_path):
    return os.path.join('work_dirs', os.path.splitext(os.path.basename(config_path))[0])


def load_config(args, import_custom_modules=True):
    """The config of ``args.config`` with ``--cfg-options`` applied and (when the tool has ``--work-dir``) the
    work dir resolved. A top-level key close to a known one (``trian_dataloader``) is a ConfigError; other
    new keys get one warning (see :mod:`dformer_seg.config.keys`)."""
    from .config import Config, check_option_keys, check_top_level_keys
    cfg = Config.fromfile(args.config, import_custom_modules=import_custom_modules)
    check_top_level_keys(cfg)
    check_option_keys(args.cfg_options, cfg)
    cfg.merge_from_dict(args.cfg_options)
    if hasattr(args, 'work_dir'):
        cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    return cfg


def choose_device(args, cfg=None):
    """The device rule of every tool: ``--device``, else the config's ``device``, else None (which
    :func:`dformer_seg.runtime.setup` reads as ``$DFORMER_SEG_DEVICE``, else auto)."""
    return getattr(args, 'device', None) or (cfg.get('device') if cfg is not None else None)


def setup(args):
    """Start a tool's work: load the config (when the tool has one; None otherwise), show the toolbox's
    messages on stderr, and, when the tool runs Jittor, set Jittor up on the device of
    :func:`choose_device`, its start-up log shown only with ``--debug``; then import the config's
    ``custom_imports`` (which may import Jittor). Returns the config."""
    cfg = load_config(args, import_custom_modules=False) if getattr(args, 'config', None) else None
    ensure_console_handler()
    if hasattr(args, 'device'):
        runtime.setup(choose_device(args, cfg), jittor_log=debug_requested(getattr(args, 'debug', False)))
    if cfg is not None:
        cfg.import_custom_modules()
    return cfg


def debug_requested(flag=False):
    return bool(flag) or os.environ.get(DEBUG_ENV, '').strip() not in ('', '0')


class ToolError(Exception):
    """A tool's own user error (bad arguments found after parsing); reported like :func:`user_error_types`."""


# The exception types whose message is the whole story, by name: :func:`main` recognises them without
# importing their modules (an error found before the set-up must not import Jittor to be reported).
USER_ERRORS = ('dformer_seg.cli.ToolError', 'dformer_seg.config.config.ConfigError',
               'dformer_seg.datasets.errors.DataError', 'dformer_seg.utils.checkpoint.CheckpointError',
               'dformer_seg.utils.numerics.NonFiniteError', 'dformer_seg.engine.runner.WorkDirError',
               'dformer_seg.runtime.DeviceError', 'dformer_seg.deploy.errors.ExportError',
               'dformer_seg.deploy.dependencies.MissingDependencyError', 'dformer_seg.ops.precision.PrecisionError',
               'builtins.FileNotFoundError')


def user_error_types(loaded_only=False):
    """The exception types of :data:`USER_ERRORS`; ``loaded_only``: those whose module is imported already
    (no other can have been raised), without importing anything."""
    types = []
    for dotted in USER_ERRORS:
        module, _, name = dotted.rpartition('.')
        if loaded_only and module not in sys.modules:
            continue
        types.append(getattr(importlib.import_module(module), name))
    return tuple(types)


def main(run, args):
    """``run(args)`` and its result; a user error (one of :data:`USER_ERRORS`) raised inside becomes
    ``error: <message>`` on stderr and exit status 1, unless ``args.debug`` or ``DFORMER_SEG_DEBUG`` asks
    for the traceback."""
    try:
        return run(args)
    except user_error_types(loaded_only=True) as exc:
        if debug_requested(getattr(args, 'debug', False)):
            raise
        print(f'error: {exc}', file=sys.stderr)
        sys.exit(1)


def exit_status(run, args):
    """:func:`main` for tools whose ``main`` returns an exit status: 0 after ``run(args)``, 1 after a
    reported user error."""
    try:
        main(run, args)
    except SystemExit as exit_info:
        return exit_info.code
    return 0


def evaluate_checkpoint(cfg, args, evaluator_options=None, hooks=()):
    """Run the test set of ``cfg`` (from :func:`setup`) through the weights of ``args.checkpoint``
    (``args.use_ema``: its EMA weights).

    ``evaluator_options`` are added to ``test_evaluator`` (an IoUMetric), ``hooks`` (config dicts) to
    ``custom_hooks``. Returns ``(runner, metrics)``; ``runner.test_loop.evaluator.results`` holds the
    confusion matrix and the per-class scores.
    """
    from .config import ConfigError
    for key in ('test_dataloader', 'test_evaluator'):
        if not cfg.get(key):
            raise ConfigError(f'{cfg.filename} has no {key}; the analysis needs labelled test data and an IoUMetric')
    cfg.model.pretrained = None  # the checkpoint holds every weight
    cfg.test_evaluator = dict(cfg.test_evaluator, **(evaluator_options or {}))
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + list(hooks)
    from .engine import Runner
    runner = Runner.from_cfg(cfg)
    runner.load_checkpoint(args.checkpoint, strict=True, use_ema=args.use_ema)
    return runner, runner.test()
