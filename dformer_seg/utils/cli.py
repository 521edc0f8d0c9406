"""How the command-line tools report the toolbox's own errors: one ``error: ...`` line, exit status 1.

Bad input (config, data, checkpoint, work dir, a run that diverged) raises one of
:func:`user_error_types`; their messages name the problem, so a traceback adds
nothing for the user. ``--debug`` (or ``DFORMER_SEG_DEBUG=1``) shows it anyway.
Other exceptions (bugs) always show their traceback.
"""
import contextlib
import os
import sys

DEBUG_ENV = 'DFORMER_SEG_DEBUG'


def add_debug_argument(parser):
    parser.add_argument('--debug', action='store_true',
                        help=f'show the traceback of errors (also: {DEBUG_ENV}=1)')


def debug_requested(flag=False):
    return bool(flag) or os.environ.get(DEBUG_ENV, '').strip() not in ('', '0')


def user_error_types():
    """The exception types whose message is the whole story."""
    from ..config import ConfigError
    from ..datasets.errors import DataError
    from ..engine.runner import WorkDirError
    from .checkpoint import CheckpointError
    from .numerics import NonFiniteError
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
