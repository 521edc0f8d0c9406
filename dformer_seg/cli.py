"""What the command-line tools share: the runtime set-up from ``--device``, the config arguments and their
loading, the work dir, and how the toolbox's own errors are reported.

Every tool starts with :func:`prepare` (before anything imports Jittor) and builds its parser with the
``add_*`` helpers, so ``--device``, ``--cfg-options``, ``--work-dir`` and ``--debug`` mean the same
everywhere. Importing this module does not import Jittor.

Errors: bad input (config, data, checkpoint, work dir, a run that diverged) raises one of
:func:`user_error_types`; their messages name the problem, so a traceback adds nothing for the user.
:func:`report_user_errors` prints one ``error: ...`` line and exits with status 1; ``--debug`` (or
``DFORMER_SEG_DEBUG=1``) shows the traceback. Other exceptions (bugs) always show their traceback.
"""
import argparse
import contextlib
import os
import sys

from . import runtime
from .utils.logger import ensure_console_handler

DEVICE_CHOICES = runtime.VALID_DEVICES
DEBUG_ENV = 'DFORMER_SEG_DEBUG'


def prepare(argv=None, default_device=None):
    """Set up the runtime for the ``--device`` in ``argv`` (parsed early: Jittor is not imported yet) and
    show the toolbox's INFO messages on stderr. Returns the set-up state."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument('--device', choices=DEVICE_CHOICES)
    device = early.parse_known_args(argv)[0].device or default_device
    ensure_console_handler()
    return runtime.setup(device)


def add_device_argument(parser, default=None):
    parser.add_argument('--device', choices=DEVICE_CHOICES, default=default,
                        help="where Jittor runs (default: the config's device, else auto)")


def add_debug_argument(parser):
    parser.add_argument('--debug', action='store_true',
                        help=f'show the traceback of errors (also: {DEBUG_ENV}=1)')


def add_config_arguments(parser, work_dir=True):
    """The positional CONFIG, ``--cfg-options`` and (optionally) ``--work-dir``."""
    from .config import DictAction
    parser.add_argument('config', help='config file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. train_loop.max_epochs=10 seed=0')
    if work_dir:
        parser.add_argument('--work-dir', help='where logs and outputs go (default: work_dirs/<config name>)')


def default_work_dir(config_path):
    return os.path.join('work_dirs', os.path.splitext(os.path.basename(config_path))[0])


def load_config(args):
    """The config of ``args.config`` with ``--cfg-options`` applied and (when the tool has ``--work-dir``) the
    work dir resolved; a top-level key that nothing reads, in the file or in an option, is a ConfigError."""
    from .config import Config, check_option_keys, check_top_level_keys
    cfg = Config.fromfile(args.config)
    check_top_level_keys(cfg)
    check_option_keys(args.cfg_options, cfg)
    cfg.merge_from_dict(args.cfg_options)
    if hasattr(args, 'work_dir'):
        cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    return cfg


def add_checkpoint_evaluation_arguments(parser):
    """CONFIG CHECKPOINT [--use-ema] [--work-dir] [--cfg-options] [--device]: a tool that evaluates a checkpoint."""
    add_config_arguments(parser)
    parser.add_argument('checkpoint', help='checkpoint file (.pkl from tools/train.py, or an official .pth)')
    parser.add_argument('--use-ema', action='store_true', help='evaluate the EMA weights of the checkpoint')
    add_device_argument(parser)
    add_debug_argument(parser)


def evaluate_checkpoint(args, evaluator_options=None, hooks=()):
    """Run the config's test set through the checkpoint's weights (the arguments of
    :func:`add_checkpoint_evaluation_arguments`).

    ``evaluator_options`` are added to ``test_evaluator`` (an IoUMetric), ``hooks`` (config dicts) to
    ``custom_hooks``. Returns ``(runner, metrics)``; ``runner.test_loop.evaluator.results`` holds the
    confusion matrix and the per-class scores.
    """
    from .config import ConfigError
    cfg = load_config(args)
    for key in ('test_dataloader', 'test_evaluator'):
        if not cfg.get(key):
            raise ConfigError(f'{args.config} has no {key}; the analysis needs labelled test data and an IoUMetric')
    cfg.model.pretrained = None  # the checkpoint holds every weight
    cfg.test_evaluator = dict(cfg.test_evaluator, **(evaluator_options or {}))
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + list(hooks)
    runtime.setup(args.device or cfg.get('device'))
    from .engine import Runner
    runner = Runner.from_cfg(cfg)
    runner.load_checkpoint(args.checkpoint, strict=True, use_ema=args.use_ema)
    return runner, runner.test()


def debug_requested(flag=False):
    return bool(flag) or os.environ.get(DEBUG_ENV, '').strip() not in ('', '0')


def user_error_types():
    """The exception types whose message is the whole story."""
    from .config import ConfigError
    from .datasets.errors import DataError
    from .engine.runner import WorkDirError
    from .utils.checkpoint import CheckpointError
    from .utils.numerics import NonFiniteError
    return (ConfigError, DataError, CheckpointError, NonFiniteError, WorkDirError, FileNotFoundError)


@contextlib.contextmanager
def report_user_errors(debug=False):
    """Turn the toolbox's own errors raised inside the block into ``error: <message>`` on stderr and
    exit status 1 (unless ``debug`` or ``DFORMER_SEG_DEBUG`` asks for the traceback)."""
    try:
        yield
    except user_error_types() as exc:
        if debug_requested(debug):
            raise
        print(f'error: {exc}', file=sys.stderr)
        sys.exit(1)
